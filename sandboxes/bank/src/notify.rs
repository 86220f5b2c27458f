//! Payment status notifications to `TPP-Notification-URI`.
//!
//! `POST {uri}` with `{"paymentId":"…","transactionStatus":"ACSP","bank":"dnb"}`,
//! `X-Notification-Timestamp: <unix seconds>` and `X-Notification-Signature: <lower-case hex
//! HMAC-SHA256(notification_secret, "<timestamp>." + body)>`.
//!
//! One job per payment follows its status as [`crate::store::Payment::progress`] computes it,
//! sleeping until the next change and sending one notification per status, in order. A new
//! decision (SCA, cancellation) starts a new job; the older one stops sending. Delivery makes
//! [`ATTEMPTS`] attempts [`RETRY_DELAY`] apart while the receiver cannot be reached, times out
//! or answers 5xx; any other answer ends it. Logs name the payment and the status, never the
//! URI or the signature.

use crate::store::TxStatus;
use crate::{banks, clock, Core};
use aws_lc_rs::hmac;
use std::sync::Arc;
use std::time::Duration;

/// Attempts per notification.
pub(crate) const ATTEMPTS: u32 = 3;
/// Pause between attempts.
pub(crate) const RETRY_DELAY: Duration = Duration::from_millis(500);
/// Limit for one attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// The lower-case hex HMAC-SHA256 of `"<timestamp>." + body` under `secret`.
pub(crate) fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut context = hmac::Context::with_key(&key);
    context.update(timestamp.as_bytes());
    context.update(b".");
    context.update(body);
    hex::encode(context.sign().as_ref())
}

/// The notification body.
pub(crate) fn body(payment_id: &str, status: TxStatus, bank: &str) -> Vec<u8> {
    serde_json::json!({
        "paymentId": payment_id,
        "transactionStatus": status.as_str(),
        "bank": bank,
    })
    .to_string()
    .into_bytes()
}

/// The HTTP client for notifications: rustls on aws-lc-rs with the WebPKI roots, no redirects
/// followed, no proxy. `None` (logged) if it cannot be built.
pub(crate) fn client() -> Option<reqwest::Client> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map(|builder| builder.with_root_certificates(roots).with_no_client_auth());
    let built = tls.map_err(|e| e.to_string()).and_then(|tls| {
        reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .user_agent(concat!("bank-sandbox/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(ATTEMPT_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())
    });
    match built {
        Ok(client) => Some(client),
        Err(error) => {
            tracing::error!(%error, "bank sandbox: no HTTP client; notifications are off");
            None
        }
    }
}

/// Numbers a new job for the payment (so older ones stop), if it has a notification URI.
pub(crate) fn next_generation(core: &Core, payment_id: &str) -> Option<u64> {
    core.store.write(|inner| {
        let payment = inner.payments.get_mut(payment_id)?;
        payment.notification_uri.as_ref()?;
        payment.notifier = payment.notifier.wrapping_add(1);
        Some(payment.notifier)
    })
}

/// Payments kept from an earlier run whose notifications are not all sent.
pub(crate) fn unfinished(core: &Core) -> Vec<String> {
    let now = clock::now_ms();
    let timing = core.timing();
    core.store.read(|inner| {
        inner
            .payments
            .in_order()
            .filter(|p| p.notification_uri.is_some())
            .filter(|p| {
                let status = p.progress(now, timing).status;
                !status.is_final() || p.notified != Some(status)
            })
            .map(|p| p.id.clone())
            .collect()
    })
}

/// What a job is to do now.
enum Step {
    /// Send this notification, then look again.
    Send {
        uri: String,
        bank: &'static str,
        status: TxStatus,
    },
    /// Nothing to send until then (Unix ms).
    Wait(i64),
    /// Done: the status is final and sent, the payment is gone, or a newer job took over.
    Stop,
}

/// Follows one payment, as the module documentation says.
pub(crate) async fn run(core: Arc<Core>, payment_id: String, generation: u64) {
    loop {
        let now = clock::now_ms();
        let timing = core.timing();
        let step = core.store.write(|inner| {
            let Some(payment) = inner.payments.get_mut(&payment_id) else {
                return Step::Stop;
            };
            let Some(uri) = payment.notification_uri.clone() else {
                return Step::Stop;
            };
            if payment.notifier != generation {
                return Step::Stop;
            }
            let progress = payment.progress(now, timing);
            let unsent =
                progress.status != TxStatus::Rcvd && payment.notified != Some(progress.status);
            if unsent {
                // Claimed before sending: each status is sent (or given up) once.
                payment.notified = Some(progress.status);
                return Step::Send {
                    uri,
                    bank: banks::get(payment.bank).slug,
                    status: progress.status,
                };
            }
            match progress.next_change_ms {
                Some(at) => Step::Wait(at),
                None => Step::Stop,
            }
        });
        match step {
            Step::Stop => return,
            Step::Wait(at) => {
                let wait = at.saturating_sub(clock::now_ms()).max(1);
                tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
            }
            Step::Send { uri, bank, status } => {
                deliver(&core, &uri, &payment_id, status, bank).await;
            }
        }
    }
}

/// Sends one notification, retrying as the module documentation says. True if accepted (2xx).
async fn deliver(core: &Core, uri: &str, payment_id: &str, status: TxStatus, bank: &str) -> bool {
    let Some(client) = &core.http else {
        return false;
    };
    let body = body(payment_id, status, bank);
    let status_code = status.as_str();
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(RETRY_DELAY).await;
        }
        let timestamp = clock::unix_seconds().to_string();
        let signature = signature(&core.config.notification_secret, &timestamp, &body);
        let sent = client
            .post(uri)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("x-notification-timestamp", &timestamp)
            .header("x-notification-signature", signature)
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => {
                tracing::info!(
                    payment_id,
                    status = status_code,
                    attempt,
                    "bank sandbox: notification delivered"
                );
                return true;
            }
            Ok(answer) if answer.status().is_server_error() => {
                tracing::warn!(
                    payment_id,
                    status = status_code,
                    attempt,
                    answer = answer.status().as_u16(),
                    "bank sandbox: notification failed; retrying"
                );
            }
            Ok(answer) => {
                tracing::warn!(
                    payment_id,
                    status = status_code,
                    attempt,
                    answer = answer.status().as_u16(),
                    "bank sandbox: notification refused; not retrying"
                );
                return false;
            }
            Err(error) => {
                let error = error.without_url();
                tracing::warn!(
                    payment_id,
                    status = status_code,
                    attempt,
                    %error,
                    "bank sandbox: notification not delivered; retrying"
                );
            }
        }
    }
    tracing::warn!(
        payment_id,
        status = status_code,
        attempts = ATTEMPTS,
        "bank sandbox: notification given up"
    );
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Computed apart from this code: Python's
        // hmac.new(b"drop-local-notification-secret", b"1700000000." + body, sha256).
        let body = br#"{"paymentId":"p-1","transactionStatus":"ACSP","bank":"dnb"}"#;
        assert_eq!(
            signature("drop-local-notification-secret", "1700000000", body),
            "74fd5dbc1aa9bd7107f439196ef10eeaa8d94eb08002b209a2f20f71901f3169"
        );
    }

    #[test]
    fn body_shape() {
        let body: serde_json::Value =
            serde_json::from_slice(&body("p-1", TxStatus::Acsp, "dnb")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"paymentId": "p-1", "transactionStatus": "ACSP", "bank": "dnb"})
        );
    }
}
