//! The public health check: rate-limited per IP, and at most one database round trip per
//! instance every 10 s however often it is called.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use axum::http::StatusCode;
use drop_testkit::{TestApp, TestRequest};

#[tokio::test]
async fn health_reads_the_database_at_most_every_10_s() {
    let app = TestApp::new().await;
    let res = app
        .call(api_meta::app, TestRequest::get("/v1/health"))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["status"], "ok");

    // The functions' role may no longer connect, and its connections are gone: a health
    // check that went to the database now would fail.
    app.db
        .batch_execute(
            "DO $$ BEGIN EXECUTE format('ALTER ROLE %I NOLOGIN', current_database() || '_app'); END $$;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid();",
        )
        .await
        .unwrap();
    for _ in 0..5 {
        let res = app
            .call(api_meta::app, TestRequest::get("/v1/health"))
            .await;
        assert_eq!(
            res.status,
            StatusCode::OK,
            "answered from the instance's last check"
        );
    }
}

#[tokio::test]
async fn health_allows_60_checks_a_minute_per_ip() {
    let app = TestApp::new().await;
    for _ in 0..60 {
        let res = app
            .call(
                api_meta::app,
                TestRequest::get("/v1/health").from_ip("192.0.2.60"),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK);
    }
    let res = app
        .call(
            api_meta::app,
            TestRequest::get("/v1/health").from_ip("192.0.2.60"),
        )
        .await;
    res.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(res.header("retry-after").is_some());
    let other = app
        .call(
            api_meta::app,
            TestRequest::get("/v1/health").from_ip("192.0.2.61"),
        )
        .await;
    assert_eq!(other.status, StatusCode::OK);
}
