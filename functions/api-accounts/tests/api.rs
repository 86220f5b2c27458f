//! api-accounts through its router, over a fresh PostgreSQL database, moto, and the sandbox bank
//! over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use axum::http::{Method, StatusCode};
use drop_shared::aws::balance_cache::{BalanceCache, CachedBalance, CachedBalances};
use drop_shared::domain::session::SessionKind;
use drop_testkit::{TestApp, TestRequest, TestResponse};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// The sandbox bank on an ephemeral port, and its URL.
async fn sandbox_bank() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let config = bank_sandbox::SandboxConfig {
        public_url: url.clone(),
        notification_secret: "sandbox-notification-secret".into(),
        status_step: Duration::from_secs(1),
        ..bank_sandbox::SandboxConfig::default()
    };
    tokio::spawn(bank_sandbox::serve(
        listener,
        config,
        std::future::pending(),
    ));
    url
}

struct Stack {
    app: TestApp,
    bank: String,
    http: reqwest::Client,
}

impl Stack {
    async fn new() -> Self {
        let bank = sandbox_bank().await;
        let app = TestApp::with_env(&[
            ("OPEN_BANKING_BASE_URL", &bank),
            ("DROP_BANK_RETRY_BASE_MS", "50"),
        ])
        .await;
        Self {
            app,
            bank,
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, req: TestRequest) -> TestResponse {
        self.app.call(api_accounts::app, req).await
    }

    async fn as_user(&self, token: &str, req: TestRequest) -> TestResponse {
        self.call(req.header("authorization", &format!("Bearer {token}")))
            .await
    }

    async fn fault(&self, bank: &str, kind: &str, count: u32) {
        let res = self
            .http
            .post(format!("{}/sandbox/faults", self.bank))
            .json(&json!({"bank": bank, "kind": kind, "count": count}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.status());
    }

    async fn requests_to_bank(&self) -> Vec<Value> {
        let res = self
            .http
            .get(format!("{}/sandbox/requests", self.bank))
            .send()
            .await
            .unwrap();
        res.json::<Vec<Value>>().await.unwrap()
    }

    /// Starts a consent at `bank`, answers the SCA as `psu` with `action`, and follows the
    /// bank's redirect back into the return route. Returns the return's `Location`.
    async fn link(&self, token: &str, bank: &str, psu: &str, action: &str) -> String {
        let started = self
            .as_user(
                token,
                TestRequest::post_json("/v1/accounts/consents", json!({ "bank": bank })),
            )
            .await;
        assert_eq!(
            started.status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&started.body)
        );
        let redirect = started.json()["sca_redirect"].as_str().unwrap().to_owned();
        let path = self.decide(&redirect, psu, action).await;
        let returned = self.call(TestRequest::get(&path)).await;
        assert_eq!(
            returned.status,
            StatusCode::FOUND,
            "{}",
            String::from_utf8_lossy(&returned.body)
        );
        returned.header("location").unwrap().to_owned()
    }

    async fn balance(&self, token: &str, account: &impl std::fmt::Display) -> TestResponse {
        let uri = format!("/v1/accounts/{account}/balance");
        self.as_user(token, TestRequest::get(&uri)).await
    }

    /// Answers the bank's SCA page at `redirect` as `psu` with `action`; returns the path of the
    /// bank's redirect back into Drop.
    async fn decide(&self, redirect: &str, psu: &str, action: &str) -> String {
        let authorisation = redirect.rsplit('/').next().unwrap().to_owned();
        let decided = self
            .http
            .post(format!("{}/sandbox/sca/{authorisation}", self.bank))
            .json(&json!({ "psu": psu, "action": action }))
            .send()
            .await
            .unwrap();
        assert!(decided.status().is_success(), "{}", decided.status());
        let back: Value = decided.json().await.unwrap();
        let location = back["location"].as_str().unwrap();
        location
            .split_once("/v1/")
            .map(|(_, rest)| format!("/v1/{rest}"))
            .unwrap()
    }

    async fn accounts(&self, token: &str) -> Vec<Value> {
        let res = self.as_user(token, TestRequest::get("/v1/accounts")).await;
        assert_eq!(res.status, StatusCode::OK);
        res.json().as_array().unwrap().clone()
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_the_envelope_and_changes_nothing() {
    let stack = Stack::new().await;
    let (_, token) = stack.app.signed_in_user(SessionKind::Mobile).await;
    let consents = |body: &str| {
        TestRequest::new(Method::POST, "/v1/accounts/consents")
            .header("content-type", "application/json")
            .body(body.to_owned())
    };
    for (body, status, code) in [
        (
            r#"{"bank":"no-such-bank"}"#,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            r#"{"bank":"DNB <script>"}"#,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            r#"{"bank":7}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            r#"{}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            r#"{"bank":"dnb","valid_until":"9999-12-31"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            r#"["dnb"]"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (r#"{"bank":"dnb""#, StatusCode::BAD_REQUEST, "invalid_json"),
    ] {
        stack
            .as_user(&token, consents(body))
            .await
            .assert_error(status, code);
    }
    // Paths that name no account of the user's.
    for id in ["0", "not-a-uuid", "%C3%AD", &Uuid::new_v4().to_string()] {
        stack
            .balance(&token, &id)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        stack
            .as_user(
                &token,
                TestRequest::new(Method::DELETE, &format!("/v1/accounts/{id}")),
            )
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
    // A return without its token, or with one no consent has.
    stack
        .call(TestRequest::get("/v1/accounts/consents/return?result=nok"))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    stack
        .call(TestRequest::get(
            "/v1/accounts/consents/return?token=guessed",
        ))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    // Nothing was recorded, audited or sent to a bank.
    assert_eq!(stack.app.count("bank_consents").await, 0);
    assert_eq!(stack.app.count("bank_accounts").await, 0);
    assert!(stack.requests_to_bank().await.is_empty());
}

#[tokio::test]
async fn every_route_but_the_return_needs_a_session() {
    let stack = Stack::new().await;
    let id = Uuid::new_v4();
    for (method, uri) in [
        (Method::GET, "/v1/banks".to_owned()),
        (Method::POST, "/v1/accounts/consents".to_owned()),
        (Method::GET, "/v1/accounts".to_owned()),
        (Method::GET, format!("/v1/accounts/{id}/balance")),
        (Method::DELETE, format!("/v1/accounts/{id}")),
    ] {
        stack
            .call(TestRequest::new(method, &uri))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // The return is public, and a token no consent has is a 404.
    stack
        .call(TestRequest::get(
            "/v1/accounts/consents/return?token=nothing-like-it",
        ))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_banks_are_listed_with_what_each_offers() {
    let stack = Stack::new().await;
    let (_, token) = stack.app.signed_in_user(SessionKind::Mobile).await;
    let res = stack.as_user(&token, TestRequest::get("/v1/banks")).await;
    assert_eq!(res.status, StatusCode::OK);
    let banks = res.json();
    let by_id = |id: &str| {
        banks
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_id("dnb")["bic"], "DNBANOKK");
    assert_eq!(by_id("nordea")["bic"], "NDEANOKK");
    assert_eq!(by_id("sparebank1")["bic"], "SPRONO22");
    assert_eq!(by_id("dnb")["instant_payments"], true);
    assert_eq!(by_id("sparebank1")["instant_payments"], false);
}

#[tokio::test]
async fn a_user_links_their_accounts_and_reads_a_live_balance() {
    let stack = Stack::new().await;
    let (user, token) = stack.app.signed_in_user(SessionKind::Mobile).await;
    let started = stack
        .as_user(
            &token,
            TestRequest::post_json("/v1/accounts/consents", json!({ "bank": "dnb" })),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED);
    let redirect = started.json()["sca_redirect"].as_str().unwrap().to_owned();
    let back_path = stack.decide(&redirect, "PSU-Successful", "approve").await;
    for _ in 0..2 {
        // The same return twice (a reload): linked once, the second changes nothing.
        let returned = stack.call(TestRequest::get(&back_path)).await;
        assert_eq!(returned.status, StatusCode::FOUND);
        let back = returned.header("location").unwrap();
        assert!(back.ends_with("/accounts?link=linked"), "{back}");
    }

    let accounts = stack.accounts(&token).await;
    assert_eq!(accounts.len(), 2, "{accounts:?}");
    let current = accounts.iter().find(|a| a["name"] == "Brukskonto").unwrap();
    assert_eq!(current["bank"], "dnb");
    assert_eq!(current["currency"], "NOK");
    assert_eq!(current["consent_status"], "valid");
    assert_eq!(current["renewal_needed"], false);
    let last4 = current["account_last4"].as_str().unwrap();
    assert_eq!(last4.len(), 4);
    // Never more than the last four digits, anywhere in the answer.
    // (The sandbox's DNB accounts for this person are 60011000013 and 60011000021.)
    let body = serde_json::to_string(&accounts).unwrap();
    for number in ["60011000013", "60011000021", "6001100"] {
        assert!(!body.contains(number), "{body}");
    }

    // The consent was asked for 180 days and the bank granted that (DNB does not shorten it).
    let today = OffsetDateTime::now_utc().date();
    let until = current["consent_valid_until"].as_str().unwrap();
    let until =
        time::Date::parse(until, &time::format_description::well_known::Iso8601::DATE).unwrap();
    let days = (until - today).whole_days();
    assert!((179..=181).contains(&days), "{days}");

    let id = current["id"].as_str().unwrap();
    let res = stack.balance(&token, &id).await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&res.body)
    );
    let balance = res.json();
    assert_eq!(balance["stale"], false);
    let amounts: Vec<(&str, &str)> = balance["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["kind"].as_str().unwrap(), b["amount"].as_str().unwrap()))
        .collect();
    // The sandbox's current account holds NOK 12 345.67.
    assert!(
        amounts.contains(&("closingBooked", "12345.67")),
        "{amounts:?}"
    );

    // Every change is audited; balances never reach PostgreSQL.
    assert_eq!(stack.app.count("bank_consents").await, 1);
    let audited = stack
        .app
        .db
        .query_one(
            "SELECT count(*) FROM audit_log WHERE actor_user_id = $1 AND action LIKE 'bank_consent.%'",
            &[&user],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(
        audited, 2,
        "started, then the status read with its accounts"
    );
    let dump = stack
        .app
        .db
        .query_one(
            "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM bank_accounts) t",
            &[],
        )
        .await
        .unwrap()
        .get::<_, Option<String>>(0)
        .unwrap();
    assert!(!dump.contains("12345.67"), "a balance in PostgreSQL");
}

#[tokio::test]
async fn the_return_is_a_hint_the_bank_decides() {
    let stack = Stack::new().await;
    let (_, token) = stack.app.signed_in_user(SessionKind::Mobile).await;
    // Back without finishing SCA: the consent is still `received` at the bank.
    let back = stack.link(&token, "dnb", "PSU-Successful", "return").await;
    assert!(back.ends_with("link=pending"), "{back}");
    assert!(stack.accounts(&token).await.is_empty());
    // Refused at the bank.
    let back = stack.link(&token, "dnb", "PSU-Successful", "reject").await;
    assert!(back.ends_with("link=failed"), "{back}");
    // The bank's SCA fails although the user approved.
    let back = stack
        .link(&token, "nordea", "PSU-ScaFailed", "approve")
        .await;
    assert!(back.ends_with("link=failed"), "{back}");
    assert!(stack.accounts(&token).await.is_empty());
    // Explicit authorisation (Nordea) works like a direct redirect.
    let back = stack
        .link(&token, "nordea", "PSU-Successful", "approve")
        .await;
    assert!(back.ends_with("link=linked"), "{back}");
    assert_eq!(stack.accounts(&token).await.len(), 2);
}

#[tokio::test]
async fn another_users_account_is_not_found() {
    let stack = Stack::new().await;
    let (_, alice) = stack.app.signed_in_user(SessionKind::Mobile).await;
    let (_, bob) = stack.app.signed_in_user(SessionKind::Mobile).await;
    stack.link(&alice, "dnb", "PSU-Successful", "approve").await;
    let id = stack.accounts(&alice).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(stack.accounts(&bob).await.is_empty());
    stack
        .balance(&bob, &id)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    stack
        .as_user(
            &bob,
            TestRequest::new(Method::DELETE, &format!("/v1/accounts/{id}")),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    // Still Alice's, still linked.
    assert_eq!(stack.accounts(&alice).await.len(), 2);
}

#[tokio::test]
async fn when_the_bank_fails_the_last_balance_is_answered_as_stale() {
    let stack = Stack::new().await;
    let (user, token) = stack.app.signed_in_user(SessionKind::Mobile).await;
    stack.link(&token, "dnb", "PSU-Successful", "approve").await;
    let id: Uuid = stack.accounts(&token).await[0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // A balance read two minutes ago, and now the bank is down (every retry fails).
    let cache = BalanceCache::new(
        stack.app.base.aws.clone(),
        stack.app.base.config.balance_cache_table.clone(),
    );
    let fetched_at = OffsetDateTime::now_utc() - time::Duration::minutes(2);
    cache
        .put(
            user,
            id,
            &CachedBalances {
                balances: vec![CachedBalance {
                    kind: "interimAvailable".into(),
                    amount: Decimal::new(99_999, 2),
                    currency: "NOK".into(),
                }],
                fetched_at,
            },
        )
        .await
        .unwrap();
    stack.fault("dnb", "status503", 4).await;
    let res = stack.balance(&token, &id).await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&res.body)
    );
    let balance = res.json();
    assert_eq!(balance["stale"], true);
    assert_eq!(balance["balances"][0]["amount"], "999.99");
    assert!(balance["age_seconds"].as_i64().unwrap() >= 120);

    // Nothing cached for another user's view of it, and no cache at all: 503.
    let (_, other) = stack.app.signed_in_user(SessionKind::Mobile).await;
    stack.link(&other, "dnb", "PSU-Successful", "approve").await;
    let theirs = stack.accounts(&other).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    stack.fault("dnb", "status503", 4).await;
    stack
        .balance(&other, &theirs)
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE, "bank_unavailable");
}

#[tokio::test]
async fn an_expired_consent_asks_for_renewal() {
    let stack = Stack::new().await;
    let (_, token) = stack.app.signed_in_user(SessionKind::Mobile).await;
    let back = stack
        .link(&token, "dnb", "PSU-ConsentExpired", "approve")
        .await;
    // The bank reads the consent as expired at once.
    assert!(back.ends_with("link=failed"), "{back}");
    assert!(stack.accounts(&token).await.is_empty());
}

#[tokio::test]
async fn unlinking_ends_the_consent_at_the_bank_and_a_refusal_leaves_it_linked() {
    let stack = Stack::new().await;
    let (_, token) = stack.app.signed_in_user(SessionKind::Mobile).await;
    stack.link(&token, "dnb", "PSU-Successful", "approve").await;
    let accounts = stack.accounts(&token).await;
    let id = accounts[0]["id"].as_str().unwrap().to_owned();

    stack.fault("dnb", "refused", 1).await;
    stack
        .as_user(
            &token,
            TestRequest::new(Method::DELETE, &format!("/v1/accounts/{id}")),
        )
        .await
        .assert_error(StatusCode::BAD_GATEWAY, "bank_error");
    assert_eq!(stack.accounts(&token).await.len(), 2, "still linked");

    let res = stack
        .as_user(
            &token,
            TestRequest::new(Method::DELETE, &format!("/v1/accounts/{id}")),
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&res.body)
    );
    assert_eq!(
        res.json()["unlinked"].as_array().unwrap().len(),
        2,
        "one consent, both accounts"
    );
    assert!(stack.accounts(&token).await.is_empty());
    let deletes = stack
        .requests_to_bank()
        .await
        .into_iter()
        .filter(|r| {
            r["method"] == "DELETE" && r["path"].as_str().unwrap_or("").contains("/v1/consents/")
        })
        .count();
    assert_eq!(deletes, 2, "the refused one and the one that ended it");
}
