//! Signed payment status notifications, received by a small local axum server.

use super::*;
use aws_lc_rs::hmac;
use axum::extract::State;
use axum::routing::post;
use bytes::Bytes;
use http::HeaderMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc;

struct Notification {
    headers: HeaderMap,
    body: Bytes,
    json: Value,
    answered: StatusCode,
}

impl Notification {
    fn status(&self) -> &str {
        self.json["transactionStatus"].as_str().unwrap()
    }

    /// Checks the signature by its formula: lower-case hex HMAC-SHA256 under the secret of
    /// `"<X-Notification-Timestamp>." + body`, and that the timestamp is now.
    fn assert_signed(&self) {
        assert_eq!(self.headers["content-type"], "application/json");
        let timestamp = self.headers["x-notification-timestamp"].to_str().unwrap();
        let seconds: u64 = timestamp.parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(seconds.abs_diff(now) < 60, "{timestamp}");
        let mut message = format!("{timestamp}.").into_bytes();
        message.extend_from_slice(&self.body);
        let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET.as_bytes());
        let expected = hex::encode(hmac::sign(&key, &message).as_ref());
        assert_eq!(
            self.headers["x-notification-signature"].to_str().unwrap(),
            expected
        );
    }
}

/// Receives notifications on `POST /notify`; answers 500 to the first `failures` of them.
struct Receiver {
    url: String,
    arrivals: mpsc::UnboundedReceiver<Notification>,
    task: JoinHandle<()>,
}

#[derive(Clone)]
struct ReceiverState {
    arrivals: mpsc::UnboundedSender<Notification>,
    failures: Arc<AtomicUsize>,
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let fail = state
        .failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let answered = if fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    let json = serde_json::from_slice(&body).unwrap();
    let _ = state.arrivals.send(Notification {
        headers,
        body,
        json,
        answered,
    });
    answered
}

impl Receiver {
    async fn start(failures: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/notify", listener.local_addr().unwrap());
        let (tx, arrivals) = mpsc::unbounded_channel();
        let app = axum::Router::new()
            .route("/notify", post(receive))
            .with_state(ReceiverState {
                arrivals: tx,
                failures: Arc::new(AtomicUsize::new(failures)),
            });
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            arrivals,
            task,
        }
    }

    async fn next(&mut self) -> Notification {
        tokio::time::timeout(Duration::from_secs(10), self.arrivals.recv())
            .await
            .expect("a notification within 10 s")
            .unwrap()
    }

    /// The next notifications the receiver accepted, skipping failed attempts.
    async fn next_accepted(&mut self) -> Notification {
        loop {
            let notification = self.next().await;
            if notification.answered == StatusCode::OK {
                return notification;
            }
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn each_status_change_is_notified_signed_and_in_order() {
    let sandbox = Sandbox::start().await;
    let mut receiver = Receiver::start(0).await;
    let response = sandbox
        .post_payment(
            "dnb",
            "sepa-credit-transfers",
            &sepa_body(),
            Some(&receiver.url),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["aspsp-notification-support"], "true");
    let created: Value = response.json().await.unwrap();
    let payment_id = created["paymentId"].as_str().unwrap();
    sandbox
        .authorise(&created, "PSU-Successful", "approve")
        .await;
    for expected in ["ACTC", "ACSP", "ACSC"] {
        let notification = receiver.next().await;
        notification.assert_signed();
        assert_eq!(
            notification.json,
            json!({ "paymentId": payment_id, "transactionStatus": expected, "bank": "dnb" })
        );
    }
    // Settled: nothing more comes.
    assert!(
        tokio::time::timeout(config().status_step * 3, receiver.arrivals.recv())
            .await
            .is_err(),
        "no notification after ACSC"
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn a_failed_delivery_is_retried() {
    let sandbox = Sandbox::start_with(SandboxConfig {
        status_step: Duration::from_secs(60),
        ..config()
    })
    .await;
    let mut receiver = Receiver::start(1).await;
    let created: Value = sandbox
        .post_payment(
            "nordea",
            "sepa-credit-transfers",
            &sepa_body(),
            Some(&receiver.url),
        )
        .await
        .json()
        .await
        .unwrap();
    sandbox
        .authorise(&created, "PSU-Successful", "approve")
        .await;
    let first = receiver.next().await;
    assert_eq!(first.answered, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(first.status(), "ACTC");
    let second = receiver.next().await;
    assert_eq!(second.answered, StatusCode::OK);
    assert_eq!(second.status(), "ACTC");
    second.assert_signed();
    assert_eq!(second.json["bank"], "nordea");
    sandbox.stop().await;
}

#[tokio::test]
async fn rejection_limits_and_cancellation_are_notified() {
    let sandbox = Sandbox::start().await;
    let mut receiver = Receiver::start(0).await;
    let notify_url = receiver.url.clone();
    let initiate = |bank: &'static str| {
        let url = notify_url.clone();
        let sandbox = &sandbox;
        async move {
            sandbox
                .post_payment(bank, "sepa-credit-transfers", &sepa_body(), Some(&url))
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let rejected = initiate("dnb").await;
    sandbox
        .authorise(&rejected, "PSU-ScaFailed", "approve")
        .await;
    let notification = receiver.next_accepted().await;
    notification.assert_signed();
    assert_eq!(notification.status(), "RJCT");
    assert_eq!(notification.json["paymentId"], rejected["paymentId"]);

    let limited = initiate("sparebank1").await;
    sandbox
        .authorise(&limited, "PSU-LimitExceeded", "approve")
        .await;
    assert_eq!(receiver.next_accepted().await.status(), "ACTC");
    let notification = receiver.next_accepted().await;
    assert_eq!(notification.status(), "RJCT");
    assert_eq!(notification.json["bank"], "sparebank1");

    let cancelled = initiate("dnb").await;
    let url = cancelled["_links"]["self"]["href"].as_str().unwrap();
    let response = sandbox.call(Method::DELETE, url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let notification = receiver.next_accepted().await;
    assert_eq!(notification.status(), "CANC");
    assert_eq!(notification.json["paymentId"], cancelled["paymentId"]);
    sandbox.stop().await;
}

#[tokio::test]
async fn sca_never_finished_is_notified_as_rejected() {
    let sandbox = Sandbox::start_with(SandboxConfig {
        sca_expiry: Duration::from_millis(300),
        ..config()
    })
    .await;
    let mut receiver = Receiver::start(0).await;
    let created: Value = sandbox
        .post_payment(
            "dnb",
            "norwegian-domestic-credit-transfers",
            &json!({
                "debtorAccount": { "iban": "NO9812021000017" },
                "instructedAmount": { "currency": "NOK", "amount": "100.00" },
                "creditorAccount": { "bban": "86011117947" },
                "creditorName": "Kari Nordmann"
            }),
            Some(&receiver.url),
        )
        .await
        .json()
        .await
        .unwrap();
    let notification = receiver.next_accepted().await;
    notification.assert_signed();
    assert_eq!(
        notification.json,
        json!({ "paymentId": created["paymentId"], "transactionStatus": "RJCT", "bank": "dnb" })
    );
    sandbox.stop().await;
}
