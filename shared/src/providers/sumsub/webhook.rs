//! Sumsub's applicant webhooks and review results, parsed into what Drop acts on.
//!
//! Only verified bodies should reach [`WebhookEvent::parse`] (see `verify_webhook`). Fields Drop
//! does not use are ignored; `clientComment` (Sumsub's note for Drop's compliance staff, never
//! for the user) is dropped here, at parse time, so it cannot travel further by accident.

use serde_json::{Map, Value};
use std::fmt;

/// The `type` of a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    ApplicantReviewed,
    ApplicantPending,
    ApplicantOnHold,
    ApplicantReset,
    ApplicantCreated,
    /// Any other type, as sent (`applicantPrechecked`, `applicantDeleted`, ...).
    Other(String),
}

impl EventKind {
    pub fn from_type(value: &str) -> Self {
        match value {
            "applicantReviewed" => Self::ApplicantReviewed,
            "applicantPending" => Self::ApplicantPending,
            "applicantOnHold" => Self::ApplicantOnHold,
            "applicantReset" => Self::ApplicantReset,
            "applicantCreated" => Self::ApplicantCreated,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// `reviewResult.reviewAnswer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewAnswer {
    Green,
    Red,
}

/// `reviewResult.reviewRejectType`: whether the applicant may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectType {
    Retry,
    Final,
}

/// A review result, without `clientComment`.
#[derive(Clone, PartialEq, Eq)]
pub struct Review {
    pub answer: ReviewAnswer,
    pub reject_type: Option<RejectType>,
    /// Sumsub's explanation meant for the applicant.
    pub moderation_comment: Option<String>,
    pub reject_labels: Vec<String>,
}

impl fmt::Debug for Review {
    /// The moderation comment may name the person or their document: shown only as present.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Review")
            .field("answer", &self.answer)
            .field("reject_type", &self.reject_type)
            .field(
                "moderation_comment",
                &self.moderation_comment.as_ref().map(|_| "***"),
            )
            .field("reject_labels", &self.reject_labels)
            .finish()
    }
}

/// The kinds of screening hit Drop records (`screening_results.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScreeningKind {
    Pep,
    Sanctions,
    AdverseMedia,
}

impl ScreeningKind {
    /// The value stored in `screening_results.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pep => "pep",
            Self::Sanctions => "sanctions",
            Self::AdverseMedia => "adverse_media",
        }
    }
}

/// A reject label that reports an AML screening hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreeningHit {
    pub kind: ScreeningKind,
    /// The reject label as Sumsub sent it (kept: `CRIMINAL` is filed as adverse media).
    pub label: String,
}

impl Review {
    /// The screening hits among the reject labels: `PEP`, `SANCTIONS`, `ADVERSE_MEDIA`, and
    /// `CRIMINAL` (filed as adverse media), compared without regard to case, each label once.
    pub fn screening_hits(&self) -> Vec<ScreeningHit> {
        let mut hits: Vec<ScreeningHit> = Vec::new();
        for label in &self.reject_labels {
            let Some(kind) = screening_kind(label) else {
                continue;
            };
            if !hits.iter().any(|h| h.label.eq_ignore_ascii_case(label)) {
                hits.push(ScreeningHit {
                    kind,
                    label: label.clone(),
                });
            }
        }
        hits
    }
}

fn screening_kind(label: &str) -> Option<ScreeningKind> {
    let label = label.trim();
    [
        ("PEP", ScreeningKind::Pep),
        ("SANCTIONS", ScreeningKind::Sanctions),
        ("ADVERSE_MEDIA", ScreeningKind::AdverseMedia),
        ("CRIMINAL", ScreeningKind::AdverseMedia),
    ]
    .into_iter()
    .find_map(|(name, kind)| name.eq_ignore_ascii_case(label).then_some(kind))
}

/// An applicant webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    pub kind: EventKind,
    pub applicant_id: String,
    /// Drop's id for the user, as given when the applicant was created.
    pub external_user_id: Option<String>,
    /// `reviewStatus` (`init`, `pending`, `onHold`, `completed`, ...).
    pub review_status: Option<String>,
    /// `reviewResult`, when the webhook carries one.
    pub review: Option<Review>,
    /// `createdAtMs` as sent (`2020-02-21 13:23:19.002`, UTC).
    pub created_at_ms: Option<String>,
}

/// Why a webhook body could not be read. Names a field, never a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookParseError {
    #[error("the webhook body is not a JSON object")]
    NotJson,
    #[error("the webhook has no {0}")]
    MissingField(&'static str),
    #[error("the webhook's {0} is not valid")]
    InvalidField(&'static str),
}

impl WebhookEvent {
    /// Parses a (verified) webhook body.
    pub fn parse(raw_body: &[u8]) -> Result<Self, WebhookParseError> {
        let object: Map<String, Value> =
            serde_json::from_slice(raw_body).map_err(|_| WebhookParseError::NotJson)?;
        let text = |name: &'static str| optional_text(&object, name);
        let kind = text("type")?.ok_or(WebhookParseError::MissingField("type"))?;
        let applicant_id = text("applicantId")?
            .filter(|id| !id.trim().is_empty())
            .ok_or(WebhookParseError::MissingField("applicantId"))?;
        let review = match object.get("reviewResult") {
            None | Some(Value::Null) => None,
            Some(value) => Some(parse_review(value)?),
        };
        let created_at_ms = match object.get("createdAtMs") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => return Err(WebhookParseError::InvalidField("createdAtMs")),
        };
        Ok(Self {
            kind: EventKind::from_type(&kind),
            applicant_id,
            external_user_id: text("externalUserId")?,
            review_status: text("reviewStatus")?,
            review,
            created_at_ms,
        })
    }
}

/// A `reviewResult` object (the same shape in webhooks and in `GET /resources/applicants`).
/// `reviewAnswer` is required and must be `GREEN` or `RED`; an unknown `reviewRejectType` is
/// refused rather than guessed at.
pub(crate) fn parse_review(value: &Value) -> Result<Review, WebhookParseError> {
    let object = value
        .as_object()
        .ok_or(WebhookParseError::InvalidField("reviewResult"))?;
    let answer = match optional_text(object, "reviewAnswer")?.as_deref() {
        Some("GREEN") => ReviewAnswer::Green,
        Some("RED") => ReviewAnswer::Red,
        Some(_) => return Err(WebhookParseError::InvalidField("reviewResult.reviewAnswer")),
        None => return Err(WebhookParseError::MissingField("reviewResult.reviewAnswer")),
    };
    let reject_type = match optional_text(object, "reviewRejectType")?.as_deref() {
        None | Some("") => None,
        Some("RETRY") => Some(RejectType::Retry),
        Some("FINAL") => Some(RejectType::Final),
        Some(_) => {
            return Err(WebhookParseError::InvalidField(
                "reviewResult.reviewRejectType",
            ))
        }
    };
    let reject_labels = match object.get("rejectLabels") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(WebhookParseError::InvalidField("reviewResult.rejectLabels"))?,
        Some(_) => return Err(WebhookParseError::InvalidField("reviewResult.rejectLabels")),
    };
    // `clientComment` is deliberately not read.
    Ok(Review {
        answer,
        reject_type,
        moderation_comment: optional_text(object, "moderationComment")?,
        reject_labels,
    })
}

/// A string member: `None` when absent or null, an error when of another type.
fn optional_text(
    object: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, WebhookParseError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(WebhookParseError::InvalidField(name)),
    }
}

impl From<&WebhookEvent> for crate::domain::kyc::KycEvent {
    fn from(e: &WebhookEvent) -> Self {
        use crate::domain::kyc::{parse_provider_time, KycSignal, KycStatus};
        let review = e.review.as_ref();
        let signal = match (&e.kind, review) {
            (EventKind::ApplicantReviewed, Some(r)) => {
                KycSignal::Reviewed(match (r.answer, r.reject_type) {
                    (ReviewAnswer::Green, _) => KycStatus::Approved,
                    (ReviewAnswer::Red, Some(RejectType::Final)) => KycStatus::Rejected,
                    (ReviewAnswer::Red, _) => KycStatus::ResubmissionRequested,
                })
            }
            (EventKind::ApplicantPending, _) => KycSignal::Pending,
            (EventKind::ApplicantOnHold, _) => KycSignal::OnHold,
            (EventKind::ApplicantReset, _) => KycSignal::Reset,
            _ => KycSignal::Other,
        };
        let event_type = match &e.kind {
            EventKind::ApplicantReviewed => "applicantReviewed".to_owned(),
            EventKind::ApplicantPending => "applicantPending".to_owned(),
            EventKind::ApplicantOnHold => "applicantOnHold".to_owned(),
            EventKind::ApplicantReset => "applicantReset".to_owned(),
            EventKind::ApplicantCreated => "applicantCreated".to_owned(),
            EventKind::Other(other) => other.chars().take(100).collect(),
        };
        let mut screening_hits: Vec<&'static str> = review
            .map(|r| r.screening_hits().iter().map(|h| h.kind.as_str()).collect())
            .unwrap_or_default();
        screening_hits.sort_unstable();
        screening_hits.dedup();
        Self {
            event_type,
            applicant_id: e.applicant_id.clone(),
            external_user_id: e.external_user_id.clone(),
            signal,
            review_answer: review.map(|r| match r.answer {
                ReviewAnswer::Green => "GREEN",
                ReviewAnswer::Red => "RED",
            }),
            reject_type: review.and_then(|r| r.reject_type).map(|t| match t {
                RejectType::Retry => "RETRY",
                RejectType::Final => "FINAL",
            }),
            reject_labels: review.map(|r| r.reject_labels.clone()).unwrap_or_default(),
            review_status: e.review_status.clone(),
            // Bounded like the columns it lands in, so a long comment can never block the event.
            moderation_comment: review
                .and_then(|r| r.moderation_comment.as_deref())
                .map(|c| c.chars().take(2000).collect()),
            created_at: e.created_at_ms.as_deref().and_then(parse_provider_time),
            screening_hits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(labels: &[&str]) -> Review {
        Review {
            answer: ReviewAnswer::Red,
            reject_type: Some(RejectType::Final),
            moderation_comment: Some("Kari Nordmann's passport".to_owned()),
            reject_labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    #[test]
    fn screening_labels_map_case_insensitively_and_once() {
        let hits = review(&[
            "pep",
            "FORGERY",
            "Sanctions",
            "ADVERSE_MEDIA",
            "CRIMINAL",
            "PEP",
        ])
        .screening_hits();
        let kinds: Vec<(&str, &str)> = hits
            .iter()
            .map(|h| (h.kind.as_str(), h.label.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("pep", "pep"),
                ("sanctions", "Sanctions"),
                ("adverse_media", "ADVERSE_MEDIA"),
                ("adverse_media", "CRIMINAL"),
            ]
        );
        assert!(review(&["SCREENSHOTS"]).screening_hits().is_empty());
    }

    #[test]
    fn review_debug_hides_the_moderation_comment() {
        let text = format!("{:?}", review(&[]));
        assert!(!text.contains("Kari"), "{text}");
        assert!(text.contains("***"));
    }

    #[test]
    fn bad_shapes_name_the_field() {
        let parse = |s: &str| WebhookEvent::parse(s.as_bytes());
        assert_eq!(parse("[]"), Err(WebhookParseError::NotJson));
        assert_eq!(parse("not json"), Err(WebhookParseError::NotJson));
        assert_eq!(
            parse(r#"{"applicantId":"a"}"#),
            Err(WebhookParseError::MissingField("type"))
        );
        assert_eq!(
            parse(r#"{"type":"applicantPending","applicantId":" "}"#),
            Err(WebhookParseError::MissingField("applicantId"))
        );
        assert_eq!(
            parse(r#"{"type":"applicantReviewed","applicantId":"a","reviewResult":{}}"#),
            Err(WebhookParseError::MissingField("reviewResult.reviewAnswer"))
        );
        assert_eq!(
            parse(
                r#"{"type":"applicantReviewed","applicantId":"a","reviewResult":{"reviewAnswer":"YELLOW"}}"#
            ),
            Err(WebhookParseError::InvalidField("reviewResult.reviewAnswer"))
        );
        assert_eq!(
            parse(
                r#"{"type":"applicantReviewed","applicantId":"a","reviewResult":{"reviewAnswer":"RED","reviewRejectType":"MAYBE"}}"#
            ),
            Err(WebhookParseError::InvalidField(
                "reviewResult.reviewRejectType"
            ))
        );
        assert_eq!(
            parse(
                r#"{"type":"applicantReviewed","applicantId":"a","reviewResult":{"reviewAnswer":"RED","rejectLabels":[1]}}"#
            ),
            Err(WebhookParseError::InvalidField("reviewResult.rejectLabels"))
        );
        assert_eq!(
            parse(r#"{"type":7,"applicantId":"a"}"#),
            Err(WebhookParseError::InvalidField("type"))
        );
    }

    #[test]
    fn unknown_types_are_kept_as_other() {
        let e = WebhookEvent::parse(br#"{"type":"applicantPrechecked","applicantId":"a"}"#);
        assert_eq!(
            e.map(|e| e.kind),
            Ok(EventKind::Other("applicantPrechecked".to_owned()))
        );
    }
}
