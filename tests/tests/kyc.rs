//! Identity verification end to end: a signed-in user starts KYC through the API, the Sumsub
//! sandbox (checking every request's signature) reviews and posts its signed webhook to the
//! API, and the status follows — over HTTP, PostgreSQL and moto.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use drop_local::LocalApi;
use drop_shared::domain::session::SessionKind;
use drop_testkit::browser::Browser;
use drop_testkit::TestApp;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use std::time::Duration;
use tokio::net::TcpListener;

const APP_TOKEN: &str = "sbx-app-token";
const SECRET_KEY: &str = "sbx-secret-key-0123456789";
const WEBHOOK_SECRET: &str = "sbx-webhook-secret-0123456789";

struct Stack {
    app: TestApp,
    base: String,
    client: Client,
}

async fn serve_sumsub(listener: TcpListener, base: &str) {
    let config = sumsub_sandbox::SandboxConfig {
        app_token: APP_TOKEN.into(),
        secret_key: SECRET_KEY.into(),
        webhook_url: format!("{base}/v1/webhooks/sumsub"),
        webhook_secret: WEBHOOK_SECRET.into(),
        review_delay: Duration::from_millis(200),
        state_file: None,
    };
    tokio::spawn(sumsub_sandbox::serve(
        listener,
        config,
        std::future::pending(),
    ));
}

/// A sandbox on `listener` keeping its applicants in `state_file` (if any), until the returned
/// sender is used or dropped; the handle ends once it has stopped.
fn serve_sumsub_until(
    listener: TcpListener,
    base: &str,
    state_file: Option<std::path::PathBuf>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let config = sumsub_sandbox::SandboxConfig {
        app_token: APP_TOKEN.into(),
        secret_key: SECRET_KEY.into(),
        webhook_url: format!("{base}/v1/webhooks/sumsub"),
        webhook_secret: WEBHOOK_SECRET.into(),
        review_delay: Duration::from_millis(200),
        state_file,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sumsub_sandbox::serve(listener, config, async {
        let _ = stopped.await;
    }));
    (stop, task)
}

/// The API, with Sumsub at `sumsub` (started here unless `sumsub_down`).
async fn stack(sumsub_down: bool) -> (Stack, TcpListener, String) {
    let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", api.local_addr().unwrap());
    let sumsub = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sumsub_url = format!("http://{}", sumsub.local_addr().unwrap());
    let app =
        TestApp::with_env(&[("SUMSUB_BASE_URL", &sumsub_url), ("DROP_PUBLIC_URL", &base)]).await;
    for (name, value) in [
        ("sumsub-app-token", APP_TOKEN),
        ("sumsub-secret-key", SECRET_KEY),
        ("sumsub-webhook-secret", WEBHOOK_SECRET),
    ] {
        app.set_secret(name, value).await;
    }
    tokio::spawn(LocalApi::new(app.base.clone()).run(api, std::future::pending()));
    if !sumsub_down {
        serve_sumsub(sumsub, &base).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        return (
            Stack {
                app,
                base,
                client: Client::new(),
            },
            listener,
            sumsub_url,
        );
    }
    (
        Stack {
            app,
            base,
            client: Client::new(),
        },
        sumsub,
        sumsub_url,
    )
}

impl Stack {
    async fn start(&self, token: &str) -> (StatusCode, Value) {
        let res = self
            .client
            .post(format!("{}/v1/kyc/start", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap_or(Value::Null))
    }

    async fn status(&self, token: &str) -> Value {
        self.client
            .get(format!("{}/v1/kyc/status", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits for the sandbox's review to land; returns the final status view.
    async fn status_after_review(&self, token: &str, expected: &str) -> Value {
        for _ in 0..50 {
            let status = self.status(token).await;
            if status["status"] == expected {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "status never became {expected}: {}",
            self.status(token).await
        );
    }
}

#[tokio::test]
async fn a_user_verifies_and_may_then_send_money() {
    let (s, _, _) = stack(false).await;
    let (user, token) = s.app.signed_in_user(SessionKind::Mobile).await;
    assert_eq!(s.status(&token).await["status"], "not_started");
    let (status, body) = s.start(&token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(body["level"], "basic-kyc-level");

    let view = s.status_after_review(&token, "approved").await;
    assert_eq!(view["can_send_money"], true);
    drop_shared::store::kyc::require_approved(&s.app.db, user)
        .await
        .unwrap();
    assert_eq!(
        s.app
            .count("notifications WHERE kind = 'kyc.approved'")
            .await,
        1
    );

    // Starting again reuses the applicant.
    assert_eq!(s.start(&token).await.0, StatusCode::OK);
    assert_eq!(
        s.app
            .count("audit_log WHERE action = 'kyc.applicant_created'")
            .await,
        1
    );
}

#[tokio::test]
async fn red_answers_are_shown_with_sumsubs_reason_and_block_payments() {
    let (s, _, _) = stack(false).await;
    let (retry_user, retry) = s
        .app
        .signed_in_person(SessionKind::Mobile, "Rita", "KYC red retry")
        .await;
    let (_, final_) = s
        .app
        .signed_in_person(SessionKind::Mobile, "Frode", "KYC red final")
        .await;
    assert_eq!(s.start(&retry).await.0, StatusCode::OK);
    assert_eq!(s.start(&final_).await.0, StatusCode::OK);

    let view = s
        .status_after_review(&retry, "resubmission_requested")
        .await;
    assert_eq!(view["can_send_money"], false);
    assert!(
        view["reason"]
            .as_str()
            .is_some_and(|r| r.contains("clearer photo")),
        "{view}"
    );
    assert!(
        !view.to_string().contains("Blurry document"),
        "never the internal comment: {view}"
    );
    assert!(
        drop_shared::store::kyc::require_approved(&s.app.db, retry_user)
            .await
            .is_err()
    );

    let view = s.status_after_review(&final_, "rejected").await;
    assert_eq!(view["can_send_money"], false);
}

#[tokio::test]
async fn a_pep_hit_is_held_and_raised_with_compliance() {
    let (s, _, _) = stack(false).await;
    let (user, token) = s
        .app
        .signed_in_person(SessionKind::Mobile, "Per", "PEP hit")
        .await;
    assert_eq!(s.start(&token).await.0, StatusCode::OK);
    s.status_after_review(&token, "on_hold").await;
    assert_eq!(
        s.app
            .count(&format!(
                "screening_results WHERE user_id = '{user}' AND kind = 'pep'"
            ))
            .await,
        1
    );
    assert_eq!(
        s.app
            .count(&format!(
                "aml_alerts WHERE user_id = '{user}' AND status = 'open'"
            ))
            .await,
        1
    );
}

#[tokio::test]
async fn when_sumsub_is_down_nothing_is_half_done_and_a_later_start_completes() {
    let (s, closed, sumsub_url) = stack(true).await;
    let (user, token) = s.app.signed_in_user(SessionKind::Mobile).await;
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let (status, body) = s.start(&token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("provider_unavailable")
        ),
        "{body}"
    );
    let applicant: Option<String> = s
        .app
        .db
        .query_one(
            "SELECT sumsub_applicant_id FROM users WHERE id = $1",
            &[&user],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(applicant, None);

    // Sumsub is back on the same address.
    serve_sumsub(TcpListener::bind(addr).await.unwrap(), &s.base).await;
    assert_eq!(sumsub_url, format!("http://{addr}"));
    assert_eq!(s.start(&token).await.0, StatusCode::OK);
    s.status_after_review(&token, "approved").await;
}

#[tokio::test]
async fn one_user_never_sees_anothers_kyc_status() {
    let (s, _, _) = stack(false).await;
    let (_, red) = s
        .app
        .signed_in_person(SessionKind::Mobile, "Frode", "KYC red final")
        .await;
    let (_, other) = s.app.signed_in_user(SessionKind::Mobile).await;
    s.start(&red).await;
    s.status_after_review(&red, "rejected").await;
    assert_eq!(s.status(&other).await["status"], "not_started");
    let res = s
        .client
        .get(format!("{}/v1/kyc/status", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// The whole journey through both sandboxes: BankID sign-in as the mobile app does it, then KYC.
#[tokio::test]
async fn sign_in_with_bankid_then_verify_with_sumsub() {
    let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", api.local_addr().unwrap());
    let idp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", idp.local_addr().unwrap());
    let sumsub = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sumsub_url = format!("http://{}", sumsub.local_addr().unwrap());
    let app = TestApp::with_env(&[
        ("BANKID_ISSUER", &issuer),
        ("BANKID_CLIENT_ID", "drop-e2e"),
        ("DROP_PUBLIC_URL", &base),
        ("SUMSUB_BASE_URL", &sumsub_url),
    ])
    .await;
    for (name, value) in [
        ("bankid-client-secret", "e2e-bankid-secret-0123456789"),
        ("sumsub-app-token", APP_TOKEN),
        ("sumsub-secret-key", SECRET_KEY),
        ("sumsub-webhook-secret", WEBHOOK_SECRET),
    ] {
        app.set_secret(name, value).await;
    }
    let bankid = bankid_sandbox::SandboxConfig {
        issuer,
        client_id: "drop-e2e".into(),
        client_secret: "e2e-bankid-secret-0123456789".into(),
        redirect_uris: vec![app.base.config.bankid_redirect_uri()],
    };
    tokio::spawn(bankid_sandbox::serve(idp, bankid, std::future::pending()));
    serve_sumsub(sumsub, &base).await;
    tokio::spawn(LocalApi::new(app.base.clone()).run(api, std::future::pending()));

    let browser = Browser::new(&base);
    let authorize = browser.start("mobile").await;
    let callback = browser.pick_sandbox_person(&authorize, "adult").await;
    let to_app = Browser::location(&browser.follow(&callback).await);
    let code = to_app.split("code=").nth(1).unwrap();
    let token: Value = browser.exchange(code).await.json().await.unwrap();
    let token = token["token"].as_str().unwrap();

    let s = Stack {
        app,
        base,
        client: browser.client,
    };
    assert_eq!(s.status(token).await["status"], "not_started");
    assert_eq!(s.start(token).await.0, StatusCode::OK);
    let view = s.status_after_review(token, "approved").await;
    assert_eq!(view["can_send_money"], true);

    // What Sumsub learnt: the pseudonymous user id, names and birth date — never the
    // fødselsnummer BankID gave, nor its DDMMYY birth-date digits, in any path or body.
    let adult = bankid_sandbox::test_persons()
        .iter()
        .find(|p| p.slug == "adult")
        .unwrap();
    let user: uuid::Uuid = s
        .app
        .db
        .query_one(
            "SELECT id FROM users WHERE bankid_altsub = $1",
            &[&adult.bankid_altsub],
        )
        .await
        .unwrap()
        .get(0);
    let applicant = sumsub_get(
        &s.client,
        &sumsub_url,
        &format!("/resources/applicants/-;externalUserId={user}/one"),
    )
    .await;
    assert_eq!(
        applicant["fixedInfo"],
        serde_json::json!({"firstName": "Kari", "lastName": "Nordmann", "dob": "1986-10-15"})
    );
    let received = sumsub_get(&s.client, &sumsub_url, "/sandbox/requests").await;
    let requests = received["requests"].as_array().unwrap();
    let creates: Vec<Value> = requests
        .iter()
        .filter(|r| {
            r["method"] == "POST"
                && r["path"]
                    .as_str()
                    .unwrap()
                    .starts_with("/resources/applicants?")
        })
        .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(creates.len(), 1, "{received}");
    assert_eq!(creates[0]["externalUserId"], user.to_string());
    let ddmmyy = &adult.nnin[..6];
    assert_eq!(ddmmyy, "151086");
    for r in requests {
        for part in [&r["path"], &r["body"]] {
            let part = part.as_str().unwrap();
            assert!(
                !part.contains(adult.nnin) && !part.contains(ddmmyy),
                "Sumsub was sent the fødselsnummer: {r}"
            );
        }
    }
}

/// A signed GET to the Sumsub sandbox, as Drop's client signs it.
async fn sumsub_get(client: &Client, base: &str, path: &str) -> Value {
    let ts = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    let secret = drop_shared::secret::Secret::new(SECRET_KEY.to_owned());
    let signature =
        drop_shared::providers::sumsub::request_signature(&secret, &ts, "GET", path, b"");
    let res = client
        .get(format!("{base}{path}"))
        .header("X-App-Token", APP_TOKEN)
        .header("X-App-Access-Ts", ts)
        .header("X-App-Access-Sig", signature)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_returning_user_whose_applicant_sumsub_forgot_gets_a_502_and_a_sandbox_that_kept_its_state_serves_them(
) {
    let (s, listener, _) = stack(true).await;
    let addr = listener.local_addr().unwrap();
    let dir = std::env::temp_dir().join(format!("kyc-sandbox-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("sumsub-sandbox.json");
    let (_, token) = s.app.signed_in_user(SessionKind::Mobile).await;

    // First run: the applicant is created and reviewed.
    let (stop, stopped) = serve_sumsub_until(listener, &s.base, Some(state.clone()));
    assert_eq!(s.start(&token).await.0, StatusCode::OK);
    s.status_after_review(&token, "approved").await;
    stop.send(()).unwrap();
    stopped.await.unwrap();

    // A sandbox that started afresh no longer knows the stored applicant: a clear 502.
    let (stop, stopped) = serve_sumsub_until(TcpListener::bind(addr).await.unwrap(), &s.base, None);
    let (status, body) = s.start(&token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("provider_error")),
        "{body}"
    );
    stop.send(()).unwrap();
    stopped.await.unwrap();

    // The sandbox that keeps its state with the database knows them again.
    let (stop, stopped) =
        serve_sumsub_until(TcpListener::bind(addr).await.unwrap(), &s.base, Some(state));
    let (status, body) = s.start(&token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        s.app
            .count("audit_log WHERE action = 'kyc.applicant_created'")
            .await,
        1
    );
    stop.send(()).unwrap();
    stopped.await.unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}
