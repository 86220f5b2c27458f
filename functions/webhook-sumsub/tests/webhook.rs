//! The Sumsub webhook through its router, over a fresh PostgreSQL database and moto.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use axum::http::{Method, StatusCode};
use drop_shared::domain::session::SessionKind;
use drop_shared::providers::sumsub::{webhook_digest, DigestAlg};
use drop_shared::secret::Secret;
use drop_testkit::{TestApp, TestRequest, TestResponse};
use serde_json::{json, Value};

const SECRET: &str = "webhook-secret-for-tests";
const APPLICANT: &str = "65f0a1b2c3d4e5f6a7b8c9d0";

async fn app_with_applicant() -> (TestApp, uuid::Uuid) {
    app_with_applicant_and(&[]).await
}

/// As [`app_with_applicant`], with extra configuration.
async fn app_with_applicant_and(env: &[(&str, &str)]) -> (TestApp, uuid::Uuid) {
    let app = TestApp::with_env(env).await;
    app.set_secret("sumsub-webhook-secret", SECRET).await;
    let (user, _) = app.signed_in_user(SessionKind::Mobile).await;
    app.db
        .execute(
            "UPDATE users SET sumsub_applicant_id = $2, kyc_status = 'pending' WHERE id = $1",
            &[&user, &APPLICANT],
        )
        .await
        .unwrap();
    (app, user)
}

fn signed(body: &str, alg: DigestAlg) -> TestRequest {
    let digest = webhook_digest(&Secret::new(SECRET.to_owned()), alg, body.as_bytes());
    TestRequest::new(Method::POST, "/v1/webhooks/sumsub")
        .header("content-type", "application/json")
        .header("x-payload-digest-alg", alg.header_value())
        .header("x-payload-digest", &digest)
        .body(body.to_owned())
}

fn reviewed(
    user: uuid::Uuid,
    answer: &str,
    reject: Option<&str>,
    at: &str,
    labels: &[&str],
) -> String {
    let mut review = json!({"reviewAnswer": answer, "moderationComment": "Please upload a sharper photo of your passport.", "clientComment": "internal: blurry, possible fraud ring"});
    if let Some(r) = reject {
        review["reviewRejectType"] = json!(r);
    }
    review["rejectLabels"] = json!(labels);
    json!({"applicantId": APPLICANT, "externalUserId": user.to_string(), "type": "applicantReviewed", "reviewStatus": "completed", "createdAtMs": at, "reviewResult": review}).to_string()
}

fn event(user: uuid::Uuid, kind: &str, at: &str) -> String {
    json!({"applicantId": APPLICANT, "externalUserId": user.to_string(), "type": kind, "reviewStatus": "pending", "createdAtMs": at}).to_string()
}

async fn post(app: &TestApp, req: TestRequest) -> TestResponse {
    app.call(webhook_sumsub::app, req).await
}

async fn status(app: &TestApp, user: uuid::Uuid) -> (String, Option<String>) {
    let row = app
        .db
        .query_one(
            "SELECT kyc_status, kyc_reason FROM users WHERE id = $1",
            &[&user],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn green_approves_once_with_audit_and_notification_and_a_repeat_is_a_duplicate() {
    let (app, user) = app_with_applicant().await;
    let body = reviewed(user, "GREEN", None, "2026-11-22 10:00:00.000", &[]);
    let res = post(&app, signed(&body, DigestAlg::HmacSha256Hex)).await;
    assert_eq!(
        (res.status, res.json()["status"].clone()),
        (StatusCode::OK, json!("applied"))
    );
    assert_eq!(status(&app, user).await, ("approved".into(), None));
    drop_shared::store::kyc::require_approved(&app.db, user)
        .await
        .unwrap();

    let res = post(&app, signed(&body, DigestAlg::HmacSha256Hex)).await;
    assert_eq!(
        (res.status, res.json()["status"].clone()),
        (StatusCode::OK, json!("duplicate"))
    );
    assert_eq!(
        app.count("notifications WHERE kind = 'kyc.approved'").await,
        1
    );
    assert_eq!(
        app.count("audit_log WHERE action = 'kyc.status_changed' AND actor_kind = 'provider'")
            .await,
        1
    );
    assert_eq!(app.count("kyc_events").await, 1);
}

#[tokio::test]
async fn only_the_configured_digest_algorithm_is_accepted() {
    // By default HMAC_SHA256_HEX only: a correctly signed SHA-1 or SHA-512 delivery is refused
    // and changes nothing.
    let (app, user) = app_with_applicant().await;
    for (i, alg) in [DigestAlg::HmacSha1Hex, DigestAlg::HmacSha512Hex]
        .into_iter()
        .enumerate()
    {
        let body = event(
            user,
            "applicantPending",
            &format!("2026-11-22 10:00:0{i}.000"),
        );
        post(&app, signed(&body, alg))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_signature");
    }
    assert_eq!(app.count("kyc_events").await, 0);
    let body = event(user, "applicantPending", "2026-11-22 10:00:09.000");
    assert_eq!(
        post(&app, signed(&body, DigestAlg::HmacSha256Hex))
            .await
            .status,
        StatusCode::OK
    );

    // Configured otherwise, that algorithm is accepted and SHA-256 is not.
    for (name, alg) in [
        ("HMAC_SHA1_HEX", DigestAlg::HmacSha1Hex),
        ("HMAC_SHA512_HEX", DigestAlg::HmacSha512Hex),
    ] {
        let (app, user) = app_with_applicant_and(&[("SUMSUB_WEBHOOK_ALGORITHM", name)]).await;
        let body = event(user, "applicantPending", "2026-11-22 10:00:00.000");
        post(&app, signed(&body, DigestAlg::HmacSha256Hex))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_signature");
        assert_eq!(
            post(&app, signed(&body, alg)).await.status,
            StatusCode::OK,
            "{name}"
        );
        assert_eq!(app.count("kyc_events").await, 1, "{name}");
    }
}

#[tokio::test]
async fn a_webhook_that_does_not_verify_changes_nothing() {
    let (app, user) = app_with_applicant().await;
    let body = reviewed(user, "GREEN", None, "2026-11-22 10:00:00.000", &[]);
    let other = reviewed(user, "GREEN", None, "2026-11-22 10:00:01.000", &[]);
    let good = webhook_digest(
        &Secret::new(SECRET.to_owned()),
        DigestAlg::HmacSha256Hex,
        body.as_bytes(),
    );
    let for_other_body = webhook_digest(
        &Secret::new(SECRET.to_owned()),
        DigestAlg::HmacSha256Hex,
        other.as_bytes(),
    );
    let wrong_secret = webhook_digest(
        &Secret::new("not-ours".to_owned()),
        DigestAlg::HmacSha256Hex,
        body.as_bytes(),
    );
    let base = || {
        TestRequest::new(Method::POST, "/v1/webhooks/sumsub")
            .header("content-type", "application/json")
            .body(body.clone())
    };
    for (name, req) in [
        ("no headers", base()),
        (
            "no digest",
            base().header("x-payload-digest-alg", "HMAC_SHA256_HEX"),
        ),
        ("no algorithm", base().header("x-payload-digest", &good)),
        (
            "unknown algorithm",
            base()
                .header("x-payload-digest-alg", "HMAC_MD5_HEX")
                .header("x-payload-digest", &good),
        ),
        (
            "wrong secret",
            base()
                .header("x-payload-digest-alg", "HMAC_SHA256_HEX")
                .header("x-payload-digest", &wrong_secret),
        ),
        (
            "digest of another body",
            base()
                .header("x-payload-digest-alg", "HMAC_SHA256_HEX")
                .header("x-payload-digest", &for_other_body),
        ),
        (
            "truncated digest",
            base()
                .header("x-payload-digest-alg", "HMAC_SHA256_HEX")
                .header("x-payload-digest", &good[..40]),
        ),
        (
            "right digest, wrong algorithm",
            base()
                .header("x-payload-digest-alg", "HMAC_SHA512_HEX")
                .header("x-payload-digest", &good),
        ),
    ] {
        post(&app, req)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_signature");
        assert_eq!(app.count("kyc_events").await, 0, "{name}");
    }
    assert_eq!(status(&app, user).await.0, "pending");
}

#[tokio::test]
async fn verified_garbage_and_an_oversized_body_are_refused_without_a_change() {
    let (app, _) = app_with_applicant().await;
    post(&app, signed("{not json", DigestAlg::HmacSha256Hex))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_json");
    post(
        &app,
        signed(r#"{"type":"applicantReviewed"}"#, DigestAlg::HmacSha256Hex),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "invalid_json");
    let huge =
        json!({"applicantId": APPLICANT, "type": "applicantPending", "pad": "x".repeat(1 << 20)})
            .to_string();
    post(&app, signed(&huge, DigestAlg::HmacSha256Hex))
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(app.count("kyc_events").await, 0);
}

#[tokio::test]
async fn a_pending_after_green_and_an_older_red_leave_green_standing() {
    let (app, user) = app_with_applicant().await;
    post(
        &app,
        signed(
            &reviewed(user, "GREEN", None, "2026-11-22 10:00:05.000", &[]),
            DigestAlg::HmacSha256Hex,
        ),
    )
    .await;
    let res = post(
        &app,
        signed(
            &event(user, "applicantPending", "2026-11-22 10:00:06.000"),
            DigestAlg::HmacSha256Hex,
        ),
    )
    .await;
    assert_eq!(res.json()["status"], "final_answer_stands");
    let res = post(
        &app,
        signed(
            &reviewed(user, "RED", Some("RETRY"), "2026-11-22 10:00:01.000", &[]),
            DigestAlg::HmacSha256Hex,
        ),
    )
    .await;
    assert_eq!(res.json()["status"], "older_than_applied");
    assert_eq!(status(&app, user).await.0, "approved");
    // A reset from Sumsub starts over.
    post(
        &app,
        signed(
            &event(user, "applicantReset", "2026-11-22 10:00:07.000"),
            DigestAlg::HmacSha256Hex,
        ),
    )
    .await;
    assert_eq!(status(&app, user).await.0, "pending");
}

#[tokio::test]
async fn red_retry_asks_again_with_the_users_reason_and_red_final_blocks_payments() {
    let (app, user) = app_with_applicant().await;
    post(
        &app,
        signed(
            &reviewed(
                user,
                "RED",
                Some("RETRY"),
                "2026-11-22 10:00:00.000",
                &["BAD_PROOF_OF_IDENTITY"],
            ),
            DigestAlg::HmacSha256Hex,
        ),
    )
    .await;
    let (kyc, reason) = status(&app, user).await;
    assert_eq!(kyc, "resubmission_requested");
    assert_eq!(
        reason.as_deref(),
        Some("Please upload a sharper photo of your passport.")
    );
    let note: String = app
        .db
        .query_one(
            "SELECT body FROM notifications WHERE kind = 'kyc.resubmission_requested'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!note.contains("fraud ring"));
    let stored: i64 = app.db.query_one("SELECT count(*) FROM kyc_events WHERE row_to_json(kyc_events)::text LIKE '%fraud ring%'", &[]).await.unwrap().get(0);
    assert_eq!(stored, 0, "clientComment is never stored");

    post(
        &app,
        signed(
            &reviewed(
                user,
                "RED",
                Some("FINAL"),
                "2026-11-22 10:01:00.000",
                &["FORGERY"],
            ),
            DigestAlg::HmacSha256Hex,
        ),
    )
    .await;
    assert_eq!(status(&app, user).await.0, "rejected");
    let err = drop_shared::store::kyc::require_approved(&app.db, user)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_str(), "kyc_required");
    assert_eq!(
        app.count("notifications WHERE kind = 'kyc.rejected'").await,
        1
    );
}

#[tokio::test]
async fn a_pep_or_sanctions_hit_is_screened_and_alerted_for_compliance() {
    let (app, user) = app_with_applicant().await;
    post(
        &app,
        signed(
            &reviewed(
                user,
                "RED",
                Some("RETRY"),
                "2026-11-22 10:00:00.000",
                &["PEP", "SANCTIONS"],
            ),
            DigestAlg::HmacSha256Hex,
        ),
    )
    .await;
    assert_eq!(
        app.count("screening_results WHERE kind = 'pep' AND outcome = 'possible_match'")
            .await,
        1
    );
    assert_eq!(
        app.count("screening_results WHERE kind = 'sanctions'")
            .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "aml_alerts WHERE user_id = '{user}' AND status = 'open' AND severity = 'high'"
        ))
        .await,
        1
    );
}

/// Everything the user can read about their verification: the stored reason (what
/// `GET /v1/kyc/status` shows) and the bodies of their notifications.
async fn what_the_user_sees(
    app: &TestApp,
    user: uuid::Uuid,
) -> (String, Option<String>, Vec<String>) {
    let (kyc, reason) = status(app, user).await;
    let notes = app
        .db
        .query(
            "SELECT title || ' ' || body FROM notifications WHERE user_id = $1 ORDER BY created_at",
            &[&user],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    (kyc, reason, notes)
}

#[tokio::test]
async fn a_screening_hit_never_shows_the_user_sumsubs_comments() {
    // No tipping-off: a review that carries PEP or sanctions labels shows the user only the
    // neutral text, never the moderation comment (nor the client comment) that came with it.
    let (app, user) = app_with_applicant().await;
    for (reject, at, labels) in [
        ("RETRY", "2026-11-22 10:00:00.000", &["PEP"][..]),
        (
            "FINAL",
            "2026-11-22 10:01:00.000",
            &["SANCTIONS", "FORGERY"][..],
        ),
    ] {
        let body = reviewed(user, "RED", Some(reject), at, labels);
        let res = post(&app, signed(&body, DigestAlg::HmacSha256Hex)).await;
        assert_eq!(res.json()["status"], "applied", "{reject}");
    }
    let (kyc, reason, notes) = what_the_user_sees(&app, user).await;
    assert_eq!(kyc, "rejected");
    assert_eq!(reason, None, "no provider text is kept to show");
    assert_eq!(
        notes,
        [
            "We need more from you Please check your documents and try again.",
            "Identity verification failed We could not verify your identity, so you cannot send money with Drop.",
        ]
    );
    // Compliance still gets the hits.
    assert_eq!(app.count("screening_results").await, 2);
    assert_eq!(app.count("aml_alerts WHERE status = 'open'").await, 2);

    // A RED RETRY without a screening label does pass Sumsub's reason on.
    let (app, user) = app_with_applicant().await;
    let body = reviewed(
        user,
        "RED",
        Some("RETRY"),
        "2026-11-22 10:00:00.000",
        &["BAD_SELFIE"],
    );
    post(&app, signed(&body, DigestAlg::HmacSha256Hex)).await;
    let (kyc, reason, notes) = what_the_user_sees(&app, user).await;
    assert_eq!(kyc, "resubmission_requested");
    let comment = "Please upload a sharper photo of your passport.";
    assert_eq!(reason.as_deref(), Some(comment));
    assert_eq!(notes, [format!("We need more from you {comment}")]);
}

#[tokio::test]
async fn an_event_for_an_unknown_applicant_is_kept_for_investigation() {
    let app = TestApp::new().await;
    app.set_secret("sumsub-webhook-secret", SECRET).await;
    let body = json!({"applicantId": "ffffffffffffffffffffffff", "externalUserId": "someone-else", "type": "applicantReviewed", "createdAtMs": "2026-11-22 10:00:00.000", "reviewResult": {"reviewAnswer": "GREEN"}}).to_string();
    let res = post(&app, signed(&body, DigestAlg::HmacSha256Hex)).await;
    assert_eq!(
        (res.status, res.json()["status"].clone()),
        (StatusCode::OK, json!("unknown_applicant"))
    );
    assert_eq!(
        app.count("kyc_events WHERE user_id IS NULL AND outcome = 'unknown_applicant'")
            .await,
        1
    );
}

#[tokio::test]
async fn unknown_event_types_are_acknowledged_and_ignored() {
    let (app, user) = app_with_applicant().await;
    let res = post(
        &app,
        signed(
            &event(user, "applicantLevelChanged", "2026-11-22 10:00:00.000"),
            DigestAlg::HmacSha256Hex,
        ),
    )
    .await;
    assert_eq!(
        (res.status, res.json()["status"].clone()),
        (StatusCode::OK, json!("ignored_type"))
    );
    assert_eq!(status(&app, user).await.0, "pending");
}

#[tokio::test]
async fn the_shared_digest_vectors_verify_through_the_webhook() {
    let app = TestApp::new().await;
    let samples: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/testdata/sumsub-samples.json"
    )))
    .unwrap();
    for vector in samples["webhook_digest_vectors"].as_array().unwrap() {
        app.set_secret("sumsub-webhook-secret", vector["secret"].as_str().unwrap())
            .await;
        let req = TestRequest::new(Method::POST, "/v1/webhooks/sumsub")
            .header("content-type", "application/json")
            .header(
                "x-payload-digest-alg",
                vector["header_X-Payload-Digest-Alg"].as_str().unwrap(),
            )
            .header(
                "x-payload-digest",
                vector["header_X-Payload-Digest"].as_str().unwrap(),
            )
            .body(vector["raw_body_utf8"].as_str().unwrap().to_owned());
        let res = post(&app, req).await;
        assert_eq!(
            res.status,
            StatusCode::OK,
            "{}: {}",
            vector["name"],
            String::from_utf8_lossy(&res.body)
        );
    }
}

#[tokio::test]
async fn a_delayed_green_does_not_overrule_a_newer_review_that_repeated_red() {
    let (app, user) = app_with_applicant().await;
    post(
        &app,
        signed(
            &reviewed(user, "RED", Some("RETRY"), "2026-11-22 10:00:01.000", &[]),
            DigestAlg::HmacSha256Hex,
        ),
    )
    .await;
    let res = post(
        &app,
        signed(
            &reviewed(
                user,
                "RED",
                Some("RETRY"),
                "2026-11-22 10:00:03.000",
                &["X"],
            ),
            DigestAlg::HmacSha256Hex,
        ),
    )
    .await;
    assert_eq!(res.json()["status"], "unchanged");
    let res = post(
        &app,
        signed(
            &reviewed(user, "GREEN", None, "2026-11-22 10:00:02.000", &[]),
            DigestAlg::HmacSha256Hex,
        ),
    )
    .await;
    assert_eq!(res.json()["status"], "older_than_applied");
    assert_eq!(status(&app, user).await.0, "resubmission_requested");
}

#[tokio::test]
async fn a_newer_hold_stops_an_approved_user_and_an_endless_comment_cannot_block_an_event() {
    let (app, user) = app_with_applicant().await;
    post(
        &app,
        signed(
            &reviewed(user, "GREEN", None, "2026-11-22 10:00:00.000", &[]),
            DigestAlg::HmacSha256Hex,
        ),
    )
    .await;
    let hold = json!({"applicantId": APPLICANT, "type": "applicantOnHold", "reviewStatus": "onHold", "createdAtMs": "2026-11-22 11:00:00",
        "reviewResult": {"reviewAnswer": "RED", "reviewRejectType": "RETRY", "rejectLabels": ["SANCTIONS"], "moderationComment": "x".repeat(5000)}}).to_string();
    let res = post(&app, signed(&hold, DigestAlg::HmacSha256Hex)).await;
    assert_eq!(
        (res.status, res.json()["status"].clone()),
        (StatusCode::OK, json!("applied"))
    );
    assert_eq!(status(&app, user).await.0, "on_hold");
    assert!(drop_shared::store::kyc::require_approved(&app.db, user)
        .await
        .is_err());
    assert_eq!(app.count("aml_alerts").await, 1);
}
