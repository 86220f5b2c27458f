//! Reviews: their statuses and results in Sumsub's shapes, and which outcome a test person gets.
//!
//! The simulated review's outcome is chosen from the applicant's `fixedInfo` names, compared
//! case-insensitively as "firstName lastName" (so "Red" + "Retry" matches "red retry" too):
//!
//! | name contains | webhook            | reviewStatus | reviewResult                              |
//! |---------------|--------------------|--------------|-------------------------------------------|
//! | "red final"   | `applicantReviewed`| `completed`  | RED / FINAL, `["FORGERY"]`                |
//! | "red retry"   | `applicantReviewed`| `completed`  | RED / RETRY, `["BAD_PROOF_OF_IDENTITY"]`  |
//! | "pep"         | `applicantOnHold`  | `onHold`     | RED / RETRY, `["PEP"]` (see [`Outcome::pep`]) |
//! | anything else | `applicantReviewed`| `completed`  | GREEN                                     |
//!
//! Checked in that order; "pep" is a plain substring, so "Pepper" is a PEP here too.

use serde::{Deserialize, Serialize};

/// `review.reviewStatus` (only the statuses the sandbox reaches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum ReviewStatus {
    /// Created; documents not yet submitted.
    Init,
    /// Submitted and being checked (here: an SDK token was issued).
    Pending,
    /// Checked: the result says GREEN or RED.
    Completed,
    /// Stopped for a manual check.
    OnHold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum ReviewAnswer {
    Green,
    Red,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum RejectType {
    /// The applicant may fix what was wrong and try again.
    Retry,
    /// The applicant is rejected for good.
    Final,
}

/// `reviewResult`, as both `GET …/one` and the webhooks carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReviewResult {
    pub review_answer: ReviewAnswer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_reject_type: Option<RejectType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderation_comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_comment: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reject_labels: Vec<String>,
}

/// How a review ends: the status it leaves the applicant in and its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub status: ReviewStatus,
    pub result: ReviewResult,
}

impl Outcome {
    pub(crate) fn green() -> Self {
        Self {
            status: ReviewStatus::Completed,
            result: ReviewResult {
                review_answer: ReviewAnswer::Green,
                review_reject_type: None,
                moderation_comment: None,
                client_comment: None,
                reject_labels: Vec::new(),
            },
        }
    }

    fn red(reject_type: RejectType, labels: &[&str], moderation: &str, client: &str) -> Self {
        Self {
            status: ReviewStatus::Completed,
            result: ReviewResult {
                review_answer: ReviewAnswer::Red,
                review_reject_type: Some(reject_type),
                moderation_comment: Some(moderation.to_owned()),
                client_comment: Some(client.to_owned()),
                reject_labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            },
        }
    }

    pub(crate) fn red_retry() -> Self {
        Self::red(
            RejectType::Retry,
            &["BAD_PROOF_OF_IDENTITY"],
            "We could not verify your identity document. Please upload a clearer photo.",
            "Blurry document",
        )
    }

    pub(crate) fn red_final() -> Self {
        Self::red(
            RejectType::Final,
            &["FORGERY"],
            "We could not verify your identity. Your application cannot be approved.",
            "Forged or altered document",
        )
    }

    /// A PEP match. Sumsub never answers GREEN with reject labels, and it does not reject a
    /// politically exposed person outright: AML hits stop the review for a compliance officer
    /// ("Requires action": `reviewStatus: "onHold"`, webhook `applicantOnHold`). So the PEP
    /// person ends on hold, with a RED/RETRY result labelled `PEP` saying why; a receiver must
    /// go by the webhook type / `reviewStatus`, not by `reviewAnswer` alone. A compliance
    /// decision can then be simulated with `POST /sandbox/applicants/{id}/review`.
    pub(crate) fn pep() -> Self {
        Self {
            status: ReviewStatus::OnHold,
            ..Self::red(
                RejectType::Retry,
                &["PEP"],
                "Your application needs a manual check. We will get back to you.",
                "Politically exposed person: compliance review required",
            )
        }
    }

    /// The simulated outcome for a person with these names (see the module documentation).
    pub(crate) fn for_names(first_name: Option<&str>, last_name: Option<&str>) -> Self {
        let name = format!(
            "{} {}",
            first_name.unwrap_or_default(),
            last_name.unwrap_or_default()
        )
        .to_lowercase();
        if name.contains("red final") {
            Self::red_final()
        } else if name.contains("red retry") {
            Self::red_retry()
        } else if name.contains("pep") {
            Self::pep()
        } else {
            Self::green()
        }
    }

    /// The webhook that announces this outcome.
    pub(crate) fn webhook_type(&self) -> &'static str {
        match self.status {
            ReviewStatus::OnHold => "applicantOnHold",
            _ => "applicantReviewed",
        }
    }
}

/// A chosen review, as `POST /sandbox/applicants/{id}/review` (and Sumsub's own sandbox-only
/// `POST /resources/applicants/{id}/status/testCompleted`) take it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChosenReview {
    review_answer: ReviewAnswer,
    review_reject_type: Option<RejectType>,
    #[serde(default)]
    reject_labels: Vec<String>,
    moderation_comment: Option<String>,
    client_comment: Option<String>,
    /// "completed" (the default) or "onHold".
    review_status: Option<String>,
}

impl ChosenReview {
    /// The outcome, or why this combination cannot happen at Sumsub.
    pub(crate) fn into_outcome(self) -> Result<Outcome, &'static str> {
        let status = match self.review_status.as_deref() {
            None | Some("completed") => ReviewStatus::Completed,
            Some("onHold") => ReviewStatus::OnHold,
            Some(_) => return Err("reviewStatus must be \"completed\" or \"onHold\""),
        };
        match (self.review_answer, self.review_reject_type) {
            (ReviewAnswer::Red, None) => {
                return Err("A RED review needs reviewRejectType RETRY or FINAL")
            }
            (ReviewAnswer::Green, Some(_)) => return Err("A GREEN review has no reviewRejectType"),
            (ReviewAnswer::Green, None) if !self.reject_labels.is_empty() => {
                return Err("A GREEN review has no rejectLabels")
            }
            _ => {}
        }
        let too_long = self.reject_labels.len() > 32
            || self.reject_labels.iter().any(|l| l.len() > 64)
            || [&self.moderation_comment, &self.client_comment]
                .iter()
                .any(|c| c.as_ref().is_some_and(|c| c.len() > 2048));
        if too_long {
            return Err("The review is too long");
        }
        Ok(Outcome {
            status,
            result: ReviewResult {
                review_answer: self.review_answer,
                review_reject_type: self.review_reject_type,
                moderation_comment: self.moderation_comment,
                client_comment: self.client_comment,
                reject_labels: self.reject_labels,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcomes_follow_the_names() {
        assert_eq!(
            Outcome::for_names(Some("Kari"), Some("Nordmann")),
            Outcome::green()
        );
        assert_eq!(Outcome::for_names(None, None), Outcome::green());
        assert_eq!(
            Outcome::for_names(Some("RED"), Some("Retry")),
            Outcome::red_retry()
        );
        assert_eq!(
            Outcome::for_names(Some("Ola Red Final"), None),
            Outcome::red_final()
        );
        assert_eq!(Outcome::for_names(Some("Per"), Some("Pep")), Outcome::pep());
        assert_eq!(Outcome::pep().webhook_type(), "applicantOnHold");
        assert_eq!(Outcome::green().webhook_type(), "applicantReviewed");
    }

    #[test]
    fn results_serialize_like_sumsub() {
        assert_eq!(
            serde_json::to_value(Outcome::green().result).unwrap(),
            json!({ "reviewAnswer": "GREEN" })
        );
        assert_eq!(
            serde_json::to_value(Outcome::red_retry().result).unwrap(),
            json!({
                "reviewAnswer": "RED",
                "reviewRejectType": "RETRY",
                "moderationComment": "We could not verify your identity document. Please upload a clearer photo.",
                "clientComment": "Blurry document",
                "rejectLabels": ["BAD_PROOF_OF_IDENTITY"],
            })
        );
        assert_eq!(
            serde_json::to_value(ReviewStatus::OnHold).unwrap(),
            "onHold"
        );
    }

    fn chosen(body: serde_json::Value) -> Result<Outcome, &'static str> {
        serde_json::from_value::<ChosenReview>(body)
            .unwrap()
            .into_outcome()
    }

    #[test]
    fn chosen_reviews_must_be_possible() {
        let red = chosen(json!({
            "reviewAnswer": "RED", "reviewRejectType": "FINAL", "rejectLabels": ["FRAUDULENT_PATTERNS"]
        }))
        .unwrap();
        assert_eq!(red.status, ReviewStatus::Completed);
        assert_eq!(red.result.reject_labels, ["FRAUDULENT_PATTERNS"]);
        let held = chosen(
            json!({ "reviewAnswer": "RED", "reviewRejectType": "RETRY", "reviewStatus": "onHold" }),
        );
        assert_eq!(held.unwrap().status, ReviewStatus::OnHold);
        assert_eq!(
            chosen(json!({ "reviewAnswer": "GREEN" })).unwrap(),
            Outcome::green()
        );
        assert!(chosen(json!({ "reviewAnswer": "RED" })).is_err());
        assert!(chosen(json!({ "reviewAnswer": "GREEN", "reviewRejectType": "RETRY" })).is_err());
        assert!(chosen(json!({ "reviewAnswer": "GREEN", "rejectLabels": ["PEP"] })).is_err());
        assert!(chosen(json!({ "reviewAnswer": "GREEN", "reviewStatus": "init" })).is_err());
        assert!(
            serde_json::from_value::<ChosenReview>(json!({ "reviewAnswer": "YELLOW" })).is_err()
        );
    }
}
