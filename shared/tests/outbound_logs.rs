//! What reaches the log while a provider keeps failing: each retry, never the provider's 5xx
//! body (it may quote personal data). A test binary of its own with one test, so the log
//! subscriber can be the process's global one and no other test's thread races it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use drop_shared::error::log_chain;
use drop_shared::providers::outbound::{OutboundError, RetryPolicy, DEFAULT_MAX_BODY_BYTES};
use drop_shared::providers::sumsub::{ApplicantInfo, SumsubClient, SumsubError};
use drop_shared::secret::Secret;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

#[tokio::test]
async fn a_providers_5xx_body_reaches_no_log_line_and_no_error_on_any_retry() {
    let logs = Logs::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .init();

    // A Sumsub that always answers 503 with a body naming the person.
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let failing = axum::Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async {
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "fake-unavailable Kari Nordmann",
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, failing).await });

    let client = SumsubClient::new(
        base,
        Secret::new("app-token".into()),
        Secret::new("secret-key".into()),
        "basic-kyc-level".into(),
    )
    .with_retry_policy(RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(5),
        timeout: Duration::from_millis(1500),
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
    });
    let kari = ApplicantInfo {
        first_name: "Kari".into(),
        last_name: "Nordmann".into(),
        dob: time::macros::date!(1986 - 10 - 15),
    };
    let err = client
        .create_applicant("00000000-0000-4000-8000-000000000001", &kari)
        .await
        .unwrap_err();

    match &err {
        SumsubError::Unavailable(OutboundError::Status { status, .. }) => {
            assert_eq!(status.as_u16(), 503);
        }
        other => panic!("expected Unavailable(Status), got {other:?}"),
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        4,
        "the first attempt and three retries"
    );
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    let retries = logged
        .lines()
        .filter(|l| l.contains("drop_shared::providers::outbound") && l.contains("retrying"))
        .count();
    assert_eq!(retries, 3, "{logged}");
    let printed = format!("{err} {err:?} {}", log_chain(&err));
    for text in [&logged, &printed] {
        assert!(
            !text.contains("Kari") && !text.contains("fake-unavailable"),
            "{text}"
        );
    }
}
