//! Reviews, simulated or chosen, and the webhooks that announce them.
//!
//! A simulated review (started by an SDK token) posts `applicantPending` at once, then after
//! `review_delay` stores the outcome the person's names call for (see [`crate::review`]) and
//! posts `applicantReviewed` (or `applicantOnHold`). The outcome is stored before its webhook
//! leaves, so a receiver that looks the applicant up on arrival sees it.
//!
//! `POST /sandbox/applicants/{applicantId}/review` decides a review now, superseding a
//! simulated one still running, and posts its webhook.

use crate::review::{ChosenReview, Outcome};
use crate::web::{self, Reply};
use crate::{webhook, Sandbox};
use http::StatusCode;
use std::sync::Arc;
use tokio::time::Instant;

/// Starts the simulated review of an applicant, unless one is already running.
pub(crate) fn start(sandbox: &Arc<Sandbox>, applicant_id: &str) {
    let Some(applicant) = sandbox.store.begin_review(applicant_id) else {
        tracing::debug!(applicant_id, "sumsub sandbox: review already pending");
        return;
    };
    let outcome = Outcome::for_names(
        applicant.fixed_info.first_name.as_deref(),
        applicant.fixed_info.last_name.as_deref(),
    );
    let decided_at = Instant::now() + sandbox.config.review_delay;
    let job_sandbox = sandbox.clone();
    sandbox.webhooks.spawn(async move {
        let sandbox = job_sandbox;
        let pending = webhook::event("applicantPending", &applicant);
        sandbox.webhooks.deliver(&pending).await;
        tokio::time::sleep_until(decided_at).await;
        let kind = outcome.webhook_type();
        match sandbox
            .store
            .finish_review(&applicant.id, applicant.review_seq, outcome)
        {
            Some(reviewed) => {
                sandbox
                    .webhooks
                    .deliver(&webhook::event(kind, &reviewed))
                    .await;
            }
            None => {
                tracing::debug!(applicant_id = %applicant.id, "sumsub sandbox: simulated review superseded");
            }
        }
    });
}

/// `POST /sandbox/applicants/{applicantId}/review` with `{"reviewAnswer", "reviewRejectType",
/// "rejectLabels"}` (and optionally `moderationComment`, `clientComment`, `reviewStatus`:
/// "completed" or "onHold"): 200 with the applicant; the webhook follows at once.
pub(crate) fn decide(sandbox: &Arc<Sandbox>, applicant_id: &str, body: &[u8]) -> Reply {
    let chosen: ChosenReview = match web::parse_json(body) {
        Ok(chosen) => chosen,
        Err(description) => return web::bad_request(&description),
    };
    let outcome = match chosen.into_outcome() {
        Ok(outcome) => outcome,
        Err(description) => return web::bad_request(description),
    };
    if !sandbox.webhooks.has_room() {
        return web::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The sandbox is busy; try again",
        );
    }
    let kind = outcome.webhook_type();
    let Some(applicant) = sandbox.store.decide(applicant_id, outcome) else {
        return web::not_found(&format!("Applicant with id '{applicant_id}' not found"));
    };
    tracing::info!(applicant_id, kind, "sumsub sandbox: review decided");
    let event = webhook::event(kind, &applicant);
    let job_sandbox = sandbox.clone();
    sandbox.webhooks.spawn(async move {
        job_sandbox.webhooks.deliver(&event).await;
    });
    web::json(StatusCode::OK, &applicant.to_json())
}
