//! Know your customer (hvitvaskingsloven § 12): the verification status a user has, how a
//! Sumsub event moves it, and the one check every payment makes before money moves.

use crate::error::{ApiError, ErrorCode};
use serde::Serialize;
use time::OffsetDateTime;
use tokio_postgres::types::Type;
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

/// Refuses a payment unless the user's identity is verified. Every payment calls this.
pub async fn require_approved(
    db: &impl tokio_postgres::GenericClient,
    user_id: Uuid,
) -> Result<(), ApiError> {
    let rows = db
        .query_typed(
            "SELECT kyc_status FROM users WHERE id = $1",
            &[(&user_id, Type::UUID)],
        )
        .await?;
    let status = rows
        .first()
        .map(|r| r.try_get::<_, String>(0))
        .transpose()?;
    match status.as_deref().and_then(KycStatus::parse) {
        Some(KycStatus::Approved) => Ok(()),
        _ => Err(ApiError::new(ErrorCode::KycRequired)),
    }
}

/// A verified provider event, minimised to what the decision and the record need.
#[derive(Debug, Clone)]
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

impl From<&crate::sumsub::WebhookEvent> for KycEvent {
    fn from(e: &crate::sumsub::WebhookEvent) -> Self {
        use crate::sumsub::{EventKind, RejectType, ReviewAnswer};
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

fn notice(status: KycStatus, reason: Option<&str>) -> (&'static str, String) {
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

/// Applies one verified event in the caller's transaction: records it (once per body digest),
/// moves the user's status as [`transition`] says, and writes the audit row, the notification,
/// and screening results with an AML alert for PEP, sanctions or adverse-media hits.
pub async fn apply_event(
    tx: &impl tokio_postgres::GenericClient,
    event: &KycEvent,
    body_digest: &[u8; 32],
    origin: &crate::audit::Origin,
) -> Result<KycOutcome, tokio_postgres::Error> {
    let digest = body_digest.to_vec();
    let recorded = tx
        .query_typed(
            "INSERT INTO kyc_events (body_digest, event_type, applicant_id, external_user_id, review_answer, reject_type,
                                     reject_labels, review_status, provider_created_at, outcome)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'unchanged')
             ON CONFLICT (body_digest) DO NOTHING RETURNING id",
            &[
                (&digest, Type::BYTEA),
                (&event.event_type, Type::TEXT),
                (&event.applicant_id, Type::TEXT),
                (&event.external_user_id, Type::TEXT),
                (&event.review_answer, Type::TEXT),
                (&event.reject_type, Type::TEXT),
                (&event.reject_labels, Type::TEXT_ARRAY),
                (&event.review_status, Type::TEXT),
                (&event.created_at, Type::TIMESTAMPTZ),
            ],
        )
        .await?;
    let Some(event_id) = recorded
        .first()
        .map(|r| r.try_get::<_, Uuid>(0))
        .transpose()?
    else {
        return Ok(KycOutcome::Duplicate);
    };

    let external = event
        .external_user_id
        .as_deref()
        .and_then(|s| s.parse::<Uuid>().ok());
    let user = tx
        .query_typed(
            "SELECT id, kyc_status FROM users
             WHERE anonymised_at IS NULL
               AND (sumsub_applicant_id = $1 OR (id = $2 AND sumsub_applicant_id IS NULL))
             ORDER BY (sumsub_applicant_id = $1) DESC NULLS LAST LIMIT 1 FOR UPDATE",
            &[(&event.applicant_id, Type::TEXT), (&external, Type::UUID)],
        )
        .await?;
    let Some(row) = user.first() else {
        tx.query_typed(
            "UPDATE kyc_events SET outcome = 'unknown_applicant' WHERE id = $1",
            &[(&event_id, Type::UUID)],
        )
        .await?;
        return Ok(KycOutcome::UnknownApplicant);
    };
    let user_id: Uuid = row.try_get(0)?;
    let current = KycStatus::parse(&row.try_get::<_, String>(1)?).unwrap_or(KycStatus::NotStarted);

    let newest: Option<OffsetDateTime> = tx
        .query_typed(
            "SELECT max(provider_created_at) FROM kyc_events WHERE user_id = $1 AND outcome IN ('applied', 'unchanged')",
            &[(&user_id, Type::UUID)],
        )
        .await?
        .first()
        .map(|r| r.try_get(0))
        .transpose()?
        .flatten();
    let newer_applied =
        matches!((newest, event.created_at), (Some(applied), Some(this)) if applied > this);
    let outcome = match transition(current, event.signal, newer_applied) {
        KycTransition::Keep(reason) => KycOutcome::Kept { user_id, reason },
        KycTransition::To(next) => KycOutcome::Changed {
            user_id,
            from: current,
            to: next,
        },
    };

    if let KycOutcome::Changed { from, to, .. } = outcome {
        let reason = match to {
            KycStatus::ResubmissionRequested | KycStatus::Rejected => {
                event.moderation_comment.clone()
            }
            _ => None,
        };
        tx.query_typed(
            "UPDATE users SET kyc_status = $2, kyc_reason = $3, kyc_reviewed_at = now(), sumsub_applicant_id = $4 WHERE id = $1",
            &[(&user_id, Type::UUID), (&to.as_str(), Type::TEXT), (&reason, Type::TEXT), (&event.applicant_id, Type::TEXT)],
        )
        .await?;
        let entry = crate::audit::AuditEntry {
            actor: crate::audit::Actor::Provider,
            action: "kyc.status_changed",
            target: Some(("user", user_id)),
            details: serde_json::json!({"from": from.as_str(), "to": to.as_str(), "event": event.event_type, "provider": "sumsub"}),
        };
        crate::audit::record(tx, origin, entry).await?;
        let (title, body) = notice(to, reason.as_deref());
        tx.query_typed(
            "INSERT INTO notifications (user_id, kind, title, body, data) VALUES ($1, $2, $3, $4, $5)",
            &[
                (&user_id, Type::UUID),
                (&format!("kyc.{}", to.as_str()), Type::TEXT),
                (&title, Type::TEXT),
                (&body, Type::TEXT),
                (&serde_json::json!({"kyc_status": to.as_str()}), Type::JSONB),
            ],
        )
        .await?;
    }
    if !event.screening_hits.is_empty() {
        let details =
            serde_json::json!({"labels": event.reject_labels, "applicant_id": event.applicant_id});
        for kind in &event.screening_hits {
            tx.query_typed(
                "INSERT INTO screening_results (user_id, provider, provider_reference, kind, outcome, match_details)
                 VALUES ($1, 'sumsub', $2, $3, 'possible_match', $4)",
                &[(&user_id, Type::UUID), (&event.applicant_id, Type::TEXT), (kind, Type::TEXT), (&details, Type::JSONB)],
            )
            .await?;
        }
        let reason = format!(
            "{}_match",
            event.screening_hits.first().copied().unwrap_or("screening")
        );
        tx.query_typed(
            "INSERT INTO aml_alerts (user_id, severity, reason, details) VALUES ($1, 'high', $2, $3)",
            &[(&user_id, Type::UUID), (&reason, Type::TEXT), (&details, Type::JSONB)],
        )
        .await?;
    }
    let final_outcome = outcome.as_str();
    tx.query_typed(
        "UPDATE kyc_events SET user_id = $2, outcome = $3 WHERE id = $1",
        &[
            (&event_id, Type::UUID),
            (&user_id, Type::UUID),
            (&final_outcome, Type::TEXT),
        ],
    )
    .await?;
    Ok(outcome)
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
