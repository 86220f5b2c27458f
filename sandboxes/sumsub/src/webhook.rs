//! Webhooks to Drop, signed like Sumsub's (`X-Payload-Digest` = hex HMAC-SHA256 of the raw
//! body with the webhook secret, `X-Payload-Digest-Alg: HMAC_SHA256_HEX`), and the background
//! jobs that send them.
//!
//! Delivery makes [`ATTEMPTS`] attempts [`RETRY_DELAY`] apart while the receiver cannot be
//! reached, times out or answers 5xx; any other answer ends it. Logs name the webhook type, the
//! applicant and the outcome, never the URL, the digest or a secret. Each attempt goes through
//! Drop's outbound client (`drop_shared::providers::outbound`), with this module's own retries.

use crate::signing::{self, DIGEST_ALG};
use crate::store::Applicant;
use crate::{clock, ids};
use bytes::Bytes;
use drop_shared::error::log_chain;
use drop_shared::providers::outbound::{self, RetryPolicy};
use http::header::CONTENT_TYPE;
use http::{Request, StatusCode, Uri};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::task::JoinSet;

/// Attempts per webhook.
pub(crate) const ATTEMPTS: u32 = 3;
/// Pause between attempts.
pub(crate) const RETRY_DELAY: Duration = Duration::from_secs(1);
/// Limit for one attempt: connecting, sending and reading the answer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer accepted from the receiver (then dropped).
const MAX_ANSWER: usize = 64 * 1024;
/// At most this many reviews and deliveries run at once.
const MAX_JOBS: usize = 1_000;

/// A webhook body in Sumsub's shape for `applicant` as it is now.
pub(crate) fn event(kind: &str, applicant: &Applicant) -> Value {
    let mut event = json!({
        "type": kind,
        "applicantId": applicant.id,
        "inspectionId": applicant.inspection_id,
        "applicantType": "individual",
        "correlationId": ids::correlation_id().unwrap_or_default(),
        "externalUserId": applicant.external_user_id,
        "levelName": applicant.level_name,
        "sandboxMode": true,
        "reviewStatus": applicant.review_status,
        "createdAtMs": clock::created_at_ms(),
    });
    if let Some(result) = &applicant.review_result {
        event["reviewResult"] = json!(result);
    }
    event
}

/// Where webhooks go, how they are signed, and the jobs sending them.
pub(crate) struct Webhooks {
    /// `None` if the configured URL does not parse (each delivery then logs a warning).
    url: Option<Uri>,
    secret: String,
    jobs: Mutex<JoinSet<()>>,
}

impl Webhooks {
    pub(crate) fn new(url: &str, secret: &str) -> Self {
        let url = url.parse::<Uri>().ok();
        if url.is_none() {
            tracing::warn!(
                "sumsub sandbox: webhook_url is not a valid URL; no webhook will be sent"
            );
        }
        Self {
            url,
            secret: secret.to_owned(),
            jobs: Mutex::new(JoinSet::new()),
        }
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, JoinSet<()>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether another job may start (finished ones are cleared first).
    pub(crate) fn has_room(&self) -> bool {
        let mut jobs = self.jobs();
        while jobs.try_join_next().is_some() {}
        jobs.len() < MAX_JOBS
    }

    /// Runs `job` in the background until it ends or the sandbox shuts down.
    pub(crate) fn spawn(&self, job: impl Future<Output = ()> + Send + 'static) {
        self.jobs().spawn(job);
    }

    /// Stops every job.
    pub(crate) async fn shutdown(&self) {
        let mut jobs = std::mem::take(&mut *self.jobs());
        jobs.shutdown().await;
    }

    /// Sends `event`, retrying as the module documentation says. True if it was accepted (2xx).
    pub(crate) async fn deliver(&self, event: &Value) -> bool {
        let kind = event["type"].as_str().unwrap_or("unknown");
        let applicant_id = event["applicantId"].as_str().unwrap_or("unknown");
        let Some(url) = &self.url else {
            tracing::warn!(
                kind,
                applicant_id,
                "sumsub sandbox: no valid webhook_url; webhook dropped"
            );
            return false;
        };
        let body = Bytes::from(event.to_string());
        let digest = signing::payload_digest(&self.secret, &body);
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(RETRY_DELAY).await;
            }
            match self.attempt(url, &body, &digest).await {
                Ok(status) if status.is_success() => {
                    tracing::info!(
                        kind,
                        applicant_id,
                        attempt,
                        status = status.as_u16(),
                        "sumsub sandbox: webhook delivered"
                    );
                    return true;
                }
                Ok(status) if status.is_server_error() => {
                    tracing::warn!(
                        kind,
                        applicant_id,
                        attempt,
                        status = status.as_u16(),
                        "sumsub sandbox: webhook failed; retrying"
                    );
                }
                Ok(status) => {
                    tracing::warn!(
                        kind,
                        applicant_id,
                        attempt,
                        status = status.as_u16(),
                        "sumsub sandbox: webhook refused; not retrying"
                    );
                    return false;
                }
                Err(error) => {
                    tracing::warn!(kind, applicant_id, attempt, %error, "sumsub sandbox: webhook not delivered; retrying");
                }
            }
        }
        tracing::warn!(
            kind,
            applicant_id,
            attempts = ATTEMPTS,
            "sumsub sandbox: webhook given up"
        );
        false
    }

    /// One POST; the receiver's status, or why there is none.
    async fn attempt(&self, url: &Uri, body: &Bytes, digest: &str) -> Result<StatusCode, String> {
        let request = Request::post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("x-payload-digest", digest)
            .header("x-payload-digest-alg", DIGEST_ALG)
            .body(body.clone())
            .map_err(|err| err.to_string())?;
        let policy = RetryPolicy {
            timeout: ATTEMPT_TIMEOUT,
            max_body_bytes: MAX_ANSWER,
            ..RetryPolicy::no_retry()
        };
        outbound::send(request, &policy)
            .await
            .map(|answer| answer.status)
            .map_err(|err| log_chain(&err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::{Outcome, ReviewStatus};
    use crate::store::FixedInfo;

    #[test]
    fn events_have_sumsub_shape() {
        let mut applicant = Applicant {
            id: "5cb56e8e0a975a35f333cb83".into(),
            inspection_id: "5cb56e8e0a975a35f333cb84".into(),
            external_user_id: "123".into(),
            level_name: "basic-kyc-level".into(),
            created_at: "2020-02-21 13:23:16".into(),
            fixed_info: FixedInfo::default(),
            review_status: ReviewStatus::Pending,
            review_result: None,
            review_seq: 1,
        };
        let pending = event("applicantPending", &applicant);
        assert_eq!(pending["type"], "applicantPending");
        assert_eq!(pending["reviewStatus"], "pending");
        assert!(pending.get("reviewResult").is_none());
        assert!(pending["correlationId"]
            .as_str()
            .unwrap()
            .starts_with("req-"));
        applicant.review_status = ReviewStatus::Completed;
        applicant.review_result = Some(Outcome::green().result);
        let reviewed = event("applicantReviewed", &applicant);
        assert_eq!(reviewed["reviewStatus"], "completed");
        assert_eq!(reviewed["reviewResult"], json!({ "reviewAnswer": "GREEN" }));
        assert_eq!(reviewed["applicantId"], "5cb56e8e0a975a35f333cb83");
        assert_eq!(reviewed["inspectionId"], "5cb56e8e0a975a35f333cb84");
        assert_eq!(reviewed["externalUserId"], "123");
        assert_eq!(reviewed["levelName"], "basic-kyc-level");
        assert_eq!(reviewed["createdAtMs"].as_str().unwrap().len(), 23);
    }
}
