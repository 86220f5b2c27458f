//! api-me through its router, over a fresh PostgreSQL database and moto.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use axum::http::{Method, StatusCode};
use drop_shared::domain::session::SessionKind;
use drop_testkit::{TestApp, TestRequest, TestResponse};
use serde_json::{json, Value};

async fn call(app: &TestApp, req: TestRequest) -> TestResponse {
    app.call(api_me::app, req).await
}

fn bearer(req: TestRequest, token: &str) -> TestRequest {
    req.header("authorization", &format!("Bearer {token}"))
}

fn json_as(method: Method, uri: &str, token: &str, body: Value) -> TestRequest {
    bearer(
        TestRequest::new(method, uri)
            .header("content-type", "application/json")
            .body(body.to_string()),
        token,
    )
}

#[tokio::test]
async fn every_route_needs_a_session() {
    let app = TestApp::new().await;
    for (method, uri) in [
        (Method::GET, "/v1/me"),
        (Method::PATCH, "/v1/me"),
        (Method::GET, "/v1/me/settings"),
        (Method::PUT, "/v1/me/settings"),
        (Method::GET, "/v1/me/notifications"),
        (
            Method::POST,
            "/v1/me/notifications/00000000-0000-0000-0000-000000000000/read",
        ),
        (Method::GET, "/v1/me/limits"),
        (Method::PUT, "/v1/me/limits"),
    ] {
        call(&app, TestRequest::new(method.clone(), uri))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        call(&app, bearer(TestRequest::new(method, uri), "not-a-token"))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

#[tokio::test]
async fn a_user_sets_a_mobile_number_and_email_and_the_change_is_audited() {
    let app = TestApp::new().await;
    let (user, token) = app.signed_in_user(SessionKind::Mobile).await;
    let res = call(
        &app,
        json_as(
            Method::PATCH,
            "/v1/me",
            &token,
            json!({"phone_number": "+47 412 34 567", "email": "kari@example.no"}),
        ),
    )
    .await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&res.body)
    );
    assert_eq!(res.json()["phone_number"], "+4741234567");
    let me = call(&app, bearer(TestRequest::get("/v1/me"), &token))
        .await
        .json();
    assert_eq!(
        (me["phone_number"].as_str(), me["email"].as_str()),
        (Some("+4741234567"), Some("kari@example.no"))
    );
    assert_eq!(me["id"], user.to_string());

    let row = app.db.query_one("SELECT actor_user_id, action, details::text FROM audit_log WHERE action = 'user.profile_updated'", &[]).await.unwrap();
    assert_eq!(row.get::<_, uuid::Uuid>(0), user);
    let details: String = row.get(2);
    assert!(
        details.contains("phone_number") && !details.contains("41234567"),
        "{details}"
    );

    let res = call(
        &app,
        json_as(Method::PATCH, "/v1/me", &token, json!({"email": null})),
    )
    .await;
    assert_eq!(res.json()["email"], Value::Null);
}

#[tokio::test]
async fn bad_profile_changes_are_refused_and_change_nothing() {
    let app = TestApp::new().await;
    let (_, token) = app.signed_in_user(SessionKind::Mobile).await;
    for (body, code) in [
        (json!({"phone_number": "22 12 34 56"}), "validation_failed"),
        (
            json!({"phone_number": "+46 70 123 45 67"}),
            "validation_failed",
        ),
        (json!({"phone_number": null}), "validation_failed"),
        (json!({"phone_number": 41234567}), "validation_failed"),
        (json!({"email": "not-an-email"}), "validation_failed"),
        (json!({"email": "a@b"}), "validation_failed"),
        (json!({"fnr": "15108695088"}), "validation_failed"),
    ] {
        let res = call(&app, json_as(Method::PATCH, "/v1/me", &token, body.clone())).await;
        let err = res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, code);
        assert!(!err.to_string().contains("15108695088"), "{body}: {err}");
    }
    let res = call(
        &app,
        bearer(
            TestRequest::new(Method::PATCH, "/v1/me")
                .header("content-type", "application/json")
                .body("{"),
            &token,
        ),
    )
    .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_json");
    assert_eq!(
        app.count("audit_log WHERE action = 'user.profile_updated'")
            .await,
        0
    );
    let me = get_json(&app, "/v1/me", &token).await;
    assert_eq!(
        (me["phone_number"].clone(), me["email"].clone()),
        (Value::Null, Value::Null)
    );
}

#[tokio::test]
async fn settings_have_defaults_and_only_known_languages() {
    let app = TestApp::new().await;
    let (_, token) = app.signed_in_user(SessionKind::Mobile).await;
    let res = call(&app, bearer(TestRequest::get("/v1/me/settings"), &token)).await;
    assert_eq!(
        res.json(),
        json!({"language": "nb", "push_notifications": true, "email_notifications": true})
    );
    let wanted =
        json!({"language": "en", "push_notifications": false, "email_notifications": true});
    assert_eq!(
        call(
            &app,
            json_as(Method::PUT, "/v1/me/settings", &token, wanted.clone())
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, bearer(TestRequest::get("/v1/me/settings"), &token))
            .await
            .json(),
        wanted
    );
    let res = call(
        &app,
        json_as(
            Method::PUT,
            "/v1/me/settings",
            &token,
            json!({"language": "sv", "push_notifications": false, "email_notifications": true}),
        ),
    )
    .await;
    res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let res = call(
        &app,
        json_as(
            Method::PUT,
            "/v1/me/settings",
            &token,
            json!({"language": "en"}),
        ),
    )
    .await;
    res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(get_json(&app, "/v1/me/settings", &token).await, wanted);
    assert_eq!(
        app.count("audit_log WHERE action = 'settings.updated'")
            .await,
        1
    );
}

#[tokio::test]
async fn limits_stay_within_the_product_caps() {
    let app = TestApp::new().await;
    let (_, token) = app.signed_in_user(SessionKind::Mobile).await;
    let limits = call(&app, bearer(TestRequest::get("/v1/me/limits"), &token))
        .await
        .json();
    assert_eq!(limits["daily"]["amount"], "50000.00");
    assert_eq!(limits["max_monthly"]["amount"], "300000.00");
    let res = call(
        &app,
        json_as(
            Method::PUT,
            "/v1/me/limits",
            &token,
            json!({"daily": "20000", "monthly": "80000.50"}),
        ),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["monthly"]["amount"], "80000.50");
    for (body, code) in [
        (
            json!({"daily": "100000.01", "monthly": "200000"}),
            "amount_out_of_range",
        ),
        (
            json!({"daily": "1000", "monthly": "300001"}),
            "amount_out_of_range",
        ),
        (
            json!({"daily": "9000", "monthly": "8000"}),
            "amount_out_of_range",
        ),
        (
            json!({"daily": "0", "monthly": "8000"}),
            "amount_out_of_range",
        ),
        (json!({"daily": "-5", "monthly": "8000"}), "invalid_amount"),
        (json!({"daily": 5000, "monthly": "8000"}), "invalid_amount"),
        (
            json!({"daily": "5000.001", "monthly": "8000"}),
            "invalid_amount",
        ),
    ] {
        call(&app, json_as(Method::PUT, "/v1/me/limits", &token, body))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    let limits = get_json(&app, "/v1/me/limits", &token).await;
    assert_eq!(
        (
            limits["daily"]["amount"].as_str(),
            limits["monthly"]["amount"].as_str()
        ),
        (Some("20000.00"), Some("80000.50"))
    );
    assert_eq!(
        app.count("audit_log WHERE action = 'spending_limits.updated'")
            .await,
        1
    );
}

async fn notify(app: &TestApp, user: uuid::Uuid, n: usize) {
    for i in 0..n {
        app.db
            .execute(
                "INSERT INTO notifications (user_id, kind, title, body, created_at) VALUES ($1, 'kyc.approved', $2, 'b', now() - make_interval(secs => $3))",
                &[&user, &format!("n{i}"), &(i as f64)],
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn notifications_page_newest_first_and_only_the_owner_marks_them_read() {
    let app = TestApp::new().await;
    let (alice, alice_token) = app.signed_in_user(SessionKind::Mobile).await;
    let (bob, bob_token) = app.signed_in_user(SessionKind::Mobile).await;
    notify(&app, alice, 5).await;
    notify(&app, bob, 1).await;

    let mut titles = Vec::new();
    let mut uri = "/v1/me/notifications?limit=2".to_owned();
    loop {
        let page = call(&app, bearer(TestRequest::get(&uri), &alice_token))
            .await
            .json();
        titles.extend(
            page["notifications"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["title"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/me/notifications?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(titles, ["n0", "n1", "n2", "n3", "n4"]);

    let bobs = call(
        &app,
        bearer(TestRequest::get("/v1/me/notifications"), &bob_token),
    )
    .await
    .json();
    let bobs_id = bobs["notifications"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(bobs["notifications"].as_array().unwrap().len(), 1);
    let path = format!("/v1/me/notifications/{bobs_id}/read");
    call(
        &app,
        bearer(TestRequest::new(Method::POST, &path), &alice_token),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        app.count("notifications WHERE read_at IS NOT NULL").await,
        0
    );
    assert_eq!(
        call(
            &app,
            bearer(TestRequest::new(Method::POST, &path), &bob_token)
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(
            &app,
            bearer(TestRequest::new(Method::POST, &path), &bob_token)
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.count("notifications WHERE read_at IS NOT NULL").await,
        1
    );

    call(
        &app,
        bearer(
            TestRequest::new(Method::POST, "/v1/me/notifications/nope/read"),
            &bob_token,
        ),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found");
    for bad in [
        "limit=0",
        "limit=101",
        "limit=x",
        "cursor=garbage",
        "cursor=1_nope",
    ] {
        call(
            &app,
            bearer(
                TestRequest::get(&format!("/v1/me/notifications?{bad}")),
                &alice_token,
            ),
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
}

async fn get_json(app: &TestApp, uri: &str, token: &str) -> Value {
    let res = call(app, bearer(TestRequest::get(uri), token)).await;
    assert_eq!(res.status, StatusCode::OK, "GET {uri}");
    res.json()
}

/// Writes a profile, settings and limits as `token`'s user, asserting each is accepted and
/// read back as written.
async fn write_everything(
    app: &TestApp,
    token: &str,
    phone: &str,
    settings: &Value,
    limits: &Value,
) {
    for (method, uri, body) in [
        (Method::PUT, "/v1/me/limits", limits.clone()),
        (Method::PUT, "/v1/me/settings", settings.clone()),
        (Method::PATCH, "/v1/me", json!({"phone_number": phone})),
    ] {
        let res = call(app, json_as(method, uri, token, body)).await;
        assert_eq!(
            res.status,
            StatusCode::OK,
            "{uri}: {}",
            String::from_utf8_lossy(&res.body)
        );
    }
    assert_eq!(&get_json(app, "/v1/me/settings", token).await, settings);
    let read = get_json(app, "/v1/me/limits", token).await;
    assert_eq!(
        (
            read["daily"]["amount"].as_str(),
            read["monthly"]["amount"].as_str()
        ),
        (limits["daily"].as_str(), limits["monthly"].as_str())
    );
}

#[tokio::test]
async fn one_user_never_sees_or_changes_anothers_profile_settings_or_limits() {
    let app = TestApp::new().await;
    let (alice_id, alice) = app.signed_in_user(SessionKind::Mobile).await;
    let (bob_id, bob) = app.signed_in_user(SessionKind::Mobile).await;
    let alices_settings =
        json!({"language": "en", "push_notifications": false, "email_notifications": false});
    let alices_limits = json!({"daily": "1000.00", "monthly": "2000.00"});
    write_everything(
        &app,
        &alice,
        "+4791234567",
        &alices_settings,
        &alices_limits,
    )
    .await;
    let me = get_json(&app, "/v1/me", &alice).await;
    assert_eq!(
        (me["id"].as_str(), me["phone_number"].as_str()),
        (Some(alice_id.to_string().as_str()), Some("+4791234567"))
    );

    // Bob sees his own defaults, none of Alice's values.
    let limits = get_json(&app, "/v1/me/limits", &bob).await;
    assert_eq!(
        (
            limits["daily"]["amount"].as_str(),
            limits["monthly"]["amount"].as_str()
        ),
        (Some("50000.00"), Some("150000.00"))
    );
    assert_eq!(
        get_json(&app, "/v1/me/settings", &bob).await,
        json!({"language": "nb", "push_notifications": true, "email_notifications": true})
    );
    let me = get_json(&app, "/v1/me", &bob).await;
    assert_eq!(
        (me["id"].as_str(), me["phone_number"].clone()),
        (Some(bob_id.to_string().as_str()), Value::Null)
    );

    // Bob's own writes change his rows only: Alice reads back what she wrote.
    let bobs_settings =
        json!({"language": "nb", "push_notifications": true, "email_notifications": false});
    let bobs_limits = json!({"daily": "3000.00", "monthly": "4000.00"});
    write_everything(&app, &bob, "+4741234567", &bobs_settings, &bobs_limits).await;
    assert_eq!(
        get_json(&app, "/v1/me/settings", &alice).await,
        alices_settings
    );
    let limits = get_json(&app, "/v1/me/limits", &alice).await;
    assert_eq!(
        (
            limits["daily"]["amount"].as_str(),
            limits["monthly"]["amount"].as_str()
        ),
        (Some("1000.00"), Some("2000.00"))
    );
    assert_eq!(
        get_json(&app, "/v1/me", &alice).await["phone_number"],
        "+4791234567"
    );
}

#[tokio::test]
async fn a_web_session_needs_the_cookie_and_the_web_apps_origin_to_change_anything() {
    let app = TestApp::new().await;
    let (_, token) = app.signed_in_user(SessionKind::Web).await;
    let cookie = format!("__Host-drop_token={token}");
    let origin = app.base.config.web_origin().to_owned();
    let change = || {
        TestRequest::new(Method::PUT, "/v1/me/settings")
            .header("content-type", "application/json")
            .header("cookie", &cookie)
            .body(
                json!({"language": "en", "push_notifications": true, "email_notifications": true})
                    .to_string(),
            )
    };
    assert_eq!(
        call(&app, TestRequest::get("/v1/me").header("cookie", &cookie))
            .await
            .status,
        StatusCode::OK
    );
    call(&app, change())
        .await
        .assert_error(StatusCode::FORBIDDEN, "origin_mismatch");
    call(&app, change().header("origin", "https://evil.example"))
        .await
        .assert_error(StatusCode::FORBIDDEN, "origin_mismatch");
    assert_eq!(app.count("settings").await, 0);
    assert_eq!(
        call(&app, change().header("origin", &origin)).await.status,
        StatusCode::OK
    );
    // A web token is not a Bearer token.
    call(&app, bearer(TestRequest::get("/v1/me"), &token))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn a_revoked_session_or_a_blocked_user_is_refused_at_once() {
    let app = TestApp::new().await;
    let (user, token) = app.signed_in_user(SessionKind::Mobile).await;
    assert_eq!(
        call(&app, bearer(TestRequest::get("/v1/me"), &token))
            .await
            .status,
        StatusCode::OK
    );
    app.db
        .execute(
            "UPDATE users SET blocked_at = now(), blocked_reason = 'test' WHERE id = $1",
            &[&user],
        )
        .await
        .unwrap();
    call(&app, bearer(TestRequest::get("/v1/me"), &token))
        .await
        .assert_error(StatusCode::FORBIDDEN, "account_blocked");
    let (_, other) = app.signed_in_user(SessionKind::Mobile).await;
    app.db
        .execute(
            "UPDATE sessions SET revoked_at = now() WHERE revoked_at IS NULL",
            &[],
        )
        .await
        .unwrap();
    call(&app, bearer(TestRequest::get("/v1/me"), &other))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn a_tampered_token_is_refused() {
    let app = TestApp::new().await;
    let (_, token) = app.signed_in_user(SessionKind::Mobile).await;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    call(&app, bearer(TestRequest::get("/v1/me"), &parts.join(".")))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
}

/// The session was signed in `minutes` ago at BankID.
async fn authenticated_minutes_ago(app: &TestApp, minutes: i32) {
    app.db
        .execute(
            "UPDATE sessions SET auth_time = now() - make_interval(mins => $1)",
            &[&minutes],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn raising_a_limit_or_changing_contact_details_needs_a_bankid_sign_in_within_5_minutes() {
    let app = TestApp::new().await;
    let (_, token) = app.signed_in_user(SessionKind::Mobile).await;
    let put_limits = |daily: &str, monthly: &str| {
        json_as(
            Method::PUT,
            "/v1/me/limits",
            &token,
            json!({"daily": daily, "monthly": monthly}),
        )
    };
    let patch = |body: Value| json_as(Method::PATCH, "/v1/me", &token, body);

    // Signed in 4 minutes ago: a raise and a new number are fine.
    authenticated_minutes_ago(&app, 4).await;
    assert_eq!(
        call(&app, put_limits("60000.00", "160000.00")).await.status,
        StatusCode::OK
    );
    let res = call(&app, patch(json!({"phone_number": "+47 412 34 567"}))).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.json());

    // Signed in 6 minutes ago: refused, with where to sign in again, and nothing changed.
    authenticated_minutes_ago(&app, 6).await;
    let audit_rows = app.count("audit_log").await;
    for (req, what) in [
        (put_limits("70000.00", "160000.00"), "a higher daily limit"),
        (
            put_limits("60000.00", "170000.00"),
            "a higher monthly limit",
        ),
        (
            patch(json!({"phone_number": "+47 912 34 567"})),
            "a new number",
        ),
        (patch(json!({"email": "kari@example.no"})), "a new email"),
    ] {
        let body = call(&app, req)
            .await
            .assert_error(StatusCode::FORBIDDEN, "reauthentication_required");
        assert_eq!(
            body["details"][0]["message"], "GET /v1/auth/bankid/start?client=mobile",
            "{what}: {body}"
        );
    }
    let limits = get_json(&app, "/v1/me/limits", &token).await;
    assert_eq!(
        (
            limits["daily"]["amount"].as_str(),
            limits["monthly"]["amount"].as_str()
        ),
        (Some("60000.00"), Some("160000.00"))
    );
    let me = get_json(&app, "/v1/me", &token).await;
    assert_eq!(
        (me["phone_number"].as_str(), me["email"].as_str()),
        (Some("+4741234567"), None)
    );
    assert_eq!(app.count("audit_log").await, audit_rows);

    // Lowering a limit, or sending the number already on file, needs no new sign-in.
    assert_eq!(
        call(&app, put_limits("10000.00", "20000.00")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, patch(json!({"phone_number": "41234567"})))
            .await
            .status,
        StatusCode::OK
    );

    // A session from before sign-in times were kept counts as not recent.
    app.db
        .execute("UPDATE sessions SET auth_time = NULL", &[])
        .await
        .unwrap();
    call(&app, put_limits("20000.00", "20000.00"))
        .await
        .assert_error(StatusCode::FORBIDDEN, "reauthentication_required");
}

/// The audit row keeps API Gateway's request id; the id the client sent is kept beside it,
/// never instead of it (else a client could make its change look like another request's).
#[tokio::test]
async fn the_audit_row_keeps_the_gateways_request_id_and_the_clients_beside_it() {
    let app = TestApp::new().await;
    let (_, token) = app.signed_in_user(SessionKind::Mobile).await;
    let settings =
        json!({"language": "en", "push_notifications": false, "email_notifications": true});
    let res = call(
        &app,
        json_as(Method::PUT, "/v1/me/settings", &token, settings)
            .header("x-request-id", "client-req-1"),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("x-request-id"), Some("client-req-1"));
    let row = app
        .db
        .query_one(
            "SELECT request_id, client_request_id FROM audit_log WHERE action = 'settings.updated'",
            &[],
        )
        .await
        .unwrap();
    let (gateway, client): (String, Option<String>) = (row.get(0), row.get(1));
    assert!(
        gateway.starts_with("test-"),
        "the gateway's id (testkit's context): {gateway}"
    );
    assert_eq!(client.as_deref(), Some("client-req-1"));
}
