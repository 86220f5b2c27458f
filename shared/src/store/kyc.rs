//! Know-your-customer records: the one check every payment makes, and applying a verified
//! provider event with its audit row, notification and screening results.

use crate::domain::kyc::{notice, transition, KycEvent, KycOutcome, KycStatus, KycTransition};
use crate::error::{ApiError, ErrorCode};
use time::OffsetDateTime;
use tokio_postgres::types::Type;
use uuid::Uuid;

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

/// Applies one verified event in the caller's transaction: records it (once per body digest),
/// moves the user's status as [`transition`] says, and writes the audit row, the notification,
/// and screening results with an AML alert for PEP, sanctions or adverse-media hits.
pub async fn apply_event(
    tx: &impl tokio_postgres::GenericClient,
    event: &KycEvent,
    body_digest: &[u8; 32],
    origin: &crate::store::audit::Origin,
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
        let reason = event.reason_for_user(to);
        tx.query_typed(
            "UPDATE users SET kyc_status = $2, kyc_reason = $3, kyc_reviewed_at = now(), sumsub_applicant_id = $4 WHERE id = $1",
            &[(&user_id, Type::UUID), (&to.as_str(), Type::TEXT), (&reason, Type::TEXT), (&event.applicant_id, Type::TEXT)],
        )
        .await?;
        let entry = crate::store::audit::AuditEntry {
            actor: crate::store::audit::Actor::Provider,
            action: "kyc.status_changed",
            target: Some(("user", user_id)),
            details: serde_json::json!({"from": from.as_str(), "to": to.as_str(), "event": event.event_type, "provider": "sumsub"}),
        };
        crate::store::audit::record(tx, origin, entry).await?;
        let (title, body) = notice(to, reason);
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

/// The user's Sumsub applicant, once created.
pub async fn applicant_id(
    db: &impl tokio_postgres::GenericClient,
    user_id: Uuid,
) -> Result<Option<String>, tokio_postgres::Error> {
    let rows = db
        .query_typed(
            "SELECT sumsub_applicant_id FROM users WHERE id = $1",
            &[(&user_id, Type::UUID)],
        )
        .await?;
    Ok(rows.first().map(|r| r.try_get(0)).transpose()?.flatten())
}

/// Keeps the user's applicant id with its audit row, unless a concurrent start stored one
/// first (it then wrote the audit row).
pub async fn record_applicant(
    db: &crate::store::Db,
    user_id: Uuid,
    applicant_id: &str,
    actor: crate::store::audit::Actor,
    origin: &crate::store::audit::Origin,
) -> Result<(), ApiError> {
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let stored = tx
        .query_typed(
            "UPDATE users SET sumsub_applicant_id = $2 WHERE id = $1 AND sumsub_applicant_id IS NULL RETURNING id",
            &[(&user_id, Type::UUID), (&applicant_id, Type::TEXT)],
        )
        .await?;
    if !stored.is_empty() {
        let entry = crate::store::audit::AuditEntry {
            actor,
            action: "kyc.applicant_created",
            target: Some(("user", user_id)),
            details: serde_json::json!({"provider": "sumsub"}),
        };
        crate::store::audit::record(&*tx, origin, entry).await?;
    }
    tx.commit().await?;
    Ok(())
}
