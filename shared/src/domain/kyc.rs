//! Know your customer (hvitvaskingsloven § 12): the verification status a user has, how a
//! Sumsub event moves it, and the one check every payment makes before money moves.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KycStatus {
    NotStarted,
    Pending,
    Approved,
    ResubmissionRequested,
    Rejected,
    OnHold,
}

impl KycStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "not_started",
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::ResubmissionRequested => "resubmission_requested",
            Self::Rejected => "rejected",
            Self::OnHold => "on_hold",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::NotStarted,
            Self::Pending,
            Self::Approved,
            Self::ResubmissionRequested,
            Self::Rejected,
            Self::OnHold,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// A review's answer: approved or rejected. Only a newer review or a reset changes it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Approved | Self::Rejected)
    }
}

/// What a provider event says, reduced to what decides the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KycSignal {
    /// A completed review: GREEN, RED + RETRY, or RED + FINAL.
    Reviewed(KycStatus),
    Pending,
    OnHold,
    Reset,
    /// Anything else (created, level changed, …): recorded, changes nothing.
    Other,
}

/// The effect of a signal on a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KycTransition {
    To(KycStatus),
    /// Nothing to do; the reason is recorded with the event.
    Keep(&'static str),
}

/// How `signal` moves `current`. `newer_review_applied` says a review newer than this event was
/// already applied (events arrive out of order).
pub fn transition(
    current: KycStatus,
    signal: KycSignal,
    newer_review_applied: bool,
) -> KycTransition {
    let to = |next: KycStatus| {
        if next == current {
            KycTransition::Keep("unchanged")
        } else {
            KycTransition::To(next)
        }
    };
    match signal {
        KycSignal::Other => KycTransition::Keep("ignored_type"),
        _ if newer_review_applied => KycTransition::Keep("older_than_applied"),
        KycSignal::Reviewed(answer) => to(answer),
        KycSignal::Reset => to(KycStatus::Pending),
        // A newer hold (e.g. an ongoing-monitoring hit) stops payments even after approval;
        // only a pending is kept from undoing a final answer.
        KycSignal::Pending if current.is_final() => KycTransition::Keep("final_answer_stands"),
        KycSignal::Pending => to(KycStatus::Pending),
        KycSignal::OnHold => to(KycStatus::OnHold),
    }
}

/// A verified provider event, minimised to what the decision and the record need.
#[derive(Clone)]
pub struct KycEvent {
    pub event_type: String,
    pub applicant_id: String,
    pub external_user_id: Option<String>,
    pub signal: KycSignal,
    pub review_answer: Option<&'static str>,
    pub reject_type: Option<&'static str>,
    pub reject_labels: Vec<String>,
    pub review_status: Option<String>,
    /// The reason the provider gives the user; never its internal comment.
    pub moderation_comment: Option<String>,
    pub created_at: Option<OffsetDateTime>,
    /// Screening kinds hit (`pep`, `sanctions`, `adverse_media`).
    pub screening_hits: Vec<&'static str>,
}

impl KycEvent {
    /// The provider's reason the user is shown when this event moves them to `to`: its
    /// moderation comment for a resubmission request or a rejection — and nothing when the
    /// review carries a screening hit (PEP, sanctions, adverse media), so the user sees only
    /// the neutral text of [`notice`] and is never tipped off (AMLD 2015/849 art. 39).
    pub fn reason_for_user(&self, to: KycStatus) -> Option<&str> {
        match to {
            _ if !self.screening_hits.is_empty() => None,
            KycStatus::ResubmissionRequested | KycStatus::Rejected => {
                self.moderation_comment.as_deref()
            }
            _ => None,
        }
    }
}

impl std::fmt::Debug for KycEvent {
    /// The moderation comment may name the person or their document: shown as present only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KycEvent")
            .field("event_type", &self.event_type)
            .field("applicant_id", &self.applicant_id)
            .field("external_user_id", &self.external_user_id)
            .field("signal", &self.signal)
            .field("review_answer", &self.review_answer)
            .field("reject_type", &self.reject_type)
            .field("reject_labels", &self.reject_labels)
            .field("review_status", &self.review_status)
            .field(
                "moderation_comment",
                &self.moderation_comment.as_ref().map(|_| "***"),
            )
            .field("created_at", &self.created_at)
            .field("screening_hits", &self.screening_hits)
            .finish()
    }
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KycOutcome {
    /// The same delivery was applied before.
    Duplicate,
    UnknownApplicant,
    Changed {
        user_id: Uuid,
        from: KycStatus,
        to: KycStatus,
    },
    Kept {
        user_id: Uuid,
        reason: &'static str,
    },
}

impl KycOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate",
            Self::UnknownApplicant => "unknown_applicant",
            Self::Changed { .. } => "applied",
            Self::Kept { reason, .. } => reason,
        }
    }
}

/// The notification a user gets when their status becomes `status`.
pub fn notice(status: KycStatus, reason: Option<&str>) -> (&'static str, String) {
    match status {
        KycStatus::Approved => (
            "Identity verified",
            "You can now send money with Drop.".into(),
        ),
        KycStatus::ResubmissionRequested => (
            "We need more from you",
            reason.map_or_else(
                || "Please check your documents and try again.".into(),
                str::to_owned,
            ),
        ),
        KycStatus::Rejected => (
            "Identity verification failed",
            "We could not verify your identity, so you cannot send money with Drop.".into(),
        ),
        KycStatus::OnHold => (
            "Verification under review",
            "Your verification needs a closer look; we will tell you when it is done.".into(),
        ),
        KycStatus::Pending | KycStatus::NotStarted => (
            "Verification in progress",
            "We are checking your documents.".into(),
        ),
    }
}

/// Parses Sumsub's `createdAtMs`: "2020-02-21 13:23:19.321" (UTC; the fraction optional), or
/// milliseconds since the epoch.
pub fn parse_provider_time(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok();
    }
    let with_fraction = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]"
    );
    let without =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s, with_fraction)
        .or_else(|_| time::PrimitiveDateTime::parse(s, without))
        .ok()
        .map(|t| t.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::KycSignal as S;
    use super::KycStatus::*;
    use super::*;

    #[test]
    fn an_event_prints_without_its_moderation_comment() {
        let event = KycEvent {
            event_type: "applicantReviewed".to_owned(),
            applicant_id: "65f0a1b2c3d4e5f6a7b8c9d0".to_owned(),
            external_user_id: None,
            signal: S::Reviewed(ResubmissionRequested),
            review_answer: Some("RED"),
            reject_type: Some("RETRY"),
            reject_labels: vec!["BAD_PROOF_OF_IDENTITY".to_owned()],
            review_status: Some("completed".to_owned()),
            moderation_comment: Some("Kari Nordmann, passport NO1234567 is blurry".to_owned()),
            created_at: None,
            screening_hits: vec![],
        };
        let printed = format!("{event:?}");
        assert!(
            !printed.contains("Kari") && !printed.contains("NO1234567"),
            "{printed}"
        );
        assert!(printed.contains("BAD_PROOF_OF_IDENTITY"), "{printed}");
    }

    #[test]
    fn reviews_set_the_answer() {
        assert_eq!(
            transition(Pending, S::Reviewed(Approved), false),
            KycTransition::To(Approved)
        );
        assert_eq!(
            transition(Pending, S::Reviewed(ResubmissionRequested), false),
            KycTransition::To(ResubmissionRequested)
        );
        assert_eq!(
            transition(ResubmissionRequested, S::Reviewed(Approved), false),
            KycTransition::To(Approved)
        );
        assert_eq!(
            transition(Approved, S::Reviewed(Rejected), false),
            KycTransition::To(Rejected)
        );
        assert_eq!(
            transition(Approved, S::Reviewed(Approved), false),
            KycTransition::Keep("unchanged")
        );
    }

    #[test]
    fn a_pending_never_downgrades_a_final_answer_but_a_newer_hold_does() {
        for status in [Approved, Rejected] {
            assert_eq!(
                transition(status, S::Pending, false),
                KycTransition::Keep("final_answer_stands")
            );
        }
        assert_eq!(
            transition(Approved, S::OnHold, false),
            KycTransition::To(OnHold),
            "a newer hold stops payments"
        );
        assert_eq!(
            transition(Approved, S::OnHold, true),
            KycTransition::Keep("older_than_applied")
        );
        assert_eq!(
            transition(NotStarted, S::Pending, false),
            KycTransition::To(Pending)
        );
        assert_eq!(
            transition(ResubmissionRequested, S::Pending, false),
            KycTransition::To(Pending)
        );
        assert_eq!(
            transition(Pending, S::OnHold, false),
            KycTransition::To(OnHold)
        );
    }

    #[test]
    fn an_older_event_changes_nothing_and_a_reset_starts_over() {
        assert_eq!(
            transition(Approved, S::Reviewed(Rejected), true),
            KycTransition::Keep("older_than_applied")
        );
        assert_eq!(
            transition(Approved, S::Reset, false),
            KycTransition::To(Pending)
        );
        assert_eq!(
            transition(Approved, S::Other, false),
            KycTransition::Keep("ignored_type")
        );
    }

    fn red(screening_hits: Vec<&'static str>) -> KycEvent {
        KycEvent {
            event_type: "applicantReviewed".into(),
            applicant_id: "a".into(),
            external_user_id: None,
            signal: S::Reviewed(ResubmissionRequested),
            review_answer: Some("RED"),
            reject_type: Some("RETRY"),
            reject_labels: Vec::new(),
            review_status: Some("completed".into()),
            moderation_comment: Some("Upload a sharper photo.".into()),
            created_at: None,
            screening_hits,
        }
    }

    #[test]
    fn the_user_sees_the_providers_reason_only_without_a_screening_hit() {
        let plain = red(Vec::new());
        assert_eq!(
            plain.reason_for_user(ResubmissionRequested),
            Some("Upload a sharper photo.")
        );
        assert_eq!(
            plain.reason_for_user(Rejected),
            Some("Upload a sharper photo.")
        );
        assert_eq!(plain.reason_for_user(OnHold), None);
        for hits in [vec!["pep"], vec!["sanctions"], vec!["adverse_media", "pep"]] {
            let screened = red(hits);
            for to in [ResubmissionRequested, Rejected, OnHold, Approved] {
                assert_eq!(screened.reason_for_user(to), None, "{to:?}");
            }
        }
    }

    #[test]
    fn statuses_round_trip_and_provider_times_parse() {
        for s in [
            NotStarted,
            Pending,
            Approved,
            ResubmissionRequested,
            Rejected,
            OnHold,
        ] {
            assert_eq!(KycStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(
            parse_provider_time("2020-02-21 13:23:19.321").map(|t| t.unix_timestamp()),
            Some(1_582_291_399)
        );
        assert_eq!(
            parse_provider_time("2020-02-21 13:23:19").map(|t| t.unix_timestamp()),
            Some(1_582_291_399)
        );
        assert_eq!(
            parse_provider_time("1582291399321").map(|t| t.unix_timestamp()),
            Some(1_582_291_399)
        );
        assert!(parse_provider_time("yesterday").is_none());
    }
}
