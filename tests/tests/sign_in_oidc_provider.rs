//! Signing in through Drop's API with an independent, certified OpenID provider (npm
//! `oidc-provider`, issuing BankID-shaped claims) in place of BankID: the full web flow and
//! the mobile code exchange, over HTTP, PostgreSQL and moto.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use drop_local::LocalApi;
use drop_testkit::browser::Browser;
use drop_testkit::oidc_provider::{ClaimsIn, OidcProvider};
use drop_testkit::TestApp;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpListener;

const CLIENT_ID: &str = "drop-api";
const CLIENT_SECRET: &str = "independent-provider-secret-0123456789";

struct Stack {
    app: TestApp,
    base: String,
    provider: OidcProvider,
    client: Browser,
}

/// The date ages are taken on: the harness's minor (born 2010-05-17) is 16 then.
const TODAY: &str = "2026-11-22";

async fn stack(claims_in: ClaimsIn) -> Stack {
    stack_with(|redirect| OidcProvider::start_with(CLIENT_ID, CLIENT_SECRET, redirect, claims_in))
        .await
}

async fn stack_with(provider: impl FnOnce(&str) -> OidcProvider) -> Stack {
    let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", api.local_addr().unwrap());
    let provider = provider(&format!("{base}/v1/auth/bankid/callback"));
    let app = TestApp::with_env(&[
        ("BANKID_ISSUER", &provider.issuer),
        ("BANKID_CLIENT_ID", CLIENT_ID),
        ("DROP_PUBLIC_URL", &base),
        ("DROP_WEB_APP_URL", "https://app.drop.test/"),
        ("DROP_TODAY", TODAY),
    ])
    .await;
    app.set_secret("bankid-client-secret", CLIENT_SECRET).await;
    tokio::spawn(LocalApi::new(app.base.clone()).run(api, std::future::pending()));
    let client = Browser::new(&base);
    Stack {
        app,
        base,
        provider,
        client,
    }
}

impl Stack {
    async fn follow(&self, url: &str) -> reqwest::Response {
        self.client.follow(url).await
    }

    /// Our start → the provider's login as `login` → the URL of our callback.
    async fn callback_for(&self, client: &str, login: &str) -> String {
        let authorize = self.client.start(client).await;
        assert!(
            authorize.contains("code_challenge_method=S256")
                && authorize.contains("acr_values=urn%3Abankid%3Abid"),
            "{authorize}"
        );
        self.provider.login(&authorize, login).await
    }
}

#[tokio::test]
async fn web_sign_in_me_and_logout_with_the_independent_provider() {
    for claims_in in [ClaimsIn::IdToken, ClaimsIn::Userinfo] {
        let s = stack(claims_in).await;
        let callback = s.callback_for("web", "adult").await;
        let res = s.follow(&callback).await;
        assert_eq!(
            res.status(),
            StatusCode::FOUND,
            "{}",
            res.text().await.unwrap_or_default()
        );
        let cookie = res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();

        let me = s
            .client
            .client
            .get(format!("{}/v1/auth/me", s.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::OK);
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["birth_date"], "1986-10-15");
        assert_eq!(
            s.app
                .db
                .query_one("SELECT bankid_altsub FROM users", &[])
                .await
                .unwrap()
                .get::<_, String>(0),
            "altsub-adult"
        );

        let logout = s
            .client
            .client
            .post(format!("{}/v1/auth/logout", s.base))
            .header("cookie", &cookie)
            .header("origin", "https://app.drop.test")
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), StatusCode::NO_CONTENT);
        let me = s
            .client
            .client
            .get(format!("{}/v1/auth/me", s.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn mobile_code_exchange_with_the_independent_provider() {
    let s = stack(ClaimsIn::IdToken).await;
    let callback = s.callback_for("mobile", "synthetic").await;
    let res = s.follow(&callback).await;
    let code = res.headers()["location"]
        .to_str()
        .unwrap()
        .split("code=")
        .nth(1)
        .unwrap()
        .to_owned();
    let token = s.client.exchange(&code).await;
    let token: Value = token.json().await.unwrap();
    let me = s
        .client
        .client
        .get(format!("{}/v1/auth/me", s.base))
        .bearer_auth(token["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let again = s.client.exchange(&code).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"],
        "invalid_code"
    );
}

/// `acr_values=urn:bankid:bid` is only a request (a user can edit the authorize URL): an ID
/// token at a lower level signs no one in.
#[tokio::test]
async fn a_sign_in_below_the_required_assurance_level_gets_no_session() {
    let s = stack_with(|redirect| {
        OidcProvider::start_at_level(CLIENT_ID, CLIENT_SECRET, redirect, "urn:bankid:bis")
    })
    .await;
    for client in ["web", "mobile"] {
        let callback = s.callback_for(client, "adult").await;
        let res = s.follow(&callback).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{client}");
        assert!(res.headers().get("set-cookie").is_none());
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "insufficient_assurance", "{client}: {body}");
    }
    assert_eq!(s.app.count("users").await, 0);
    assert_eq!(s.app.count("sessions").await, 0);
}

#[tokio::test]
async fn a_person_the_provider_vouches_for_badly_gets_no_session() {
    let s = stack(ClaimsIn::IdToken).await;
    for (login, status, code, detail) in [
        ("minor", StatusCode::FORBIDDEN, "underage", None),
        (
            "badfnr",
            StatusCode::UNAUTHORIZED,
            "login_failed",
            Some("invalid_national_id"),
        ),
        (
            "noaltsub",
            StatusCode::UNAUTHORIZED,
            "login_failed",
            Some("missing_claim"),
        ),
    ] {
        let callback = s.callback_for("web", login).await;
        let res = s.follow(&callback).await;
        assert_eq!(res.status(), status, "{login}");
        assert!(res.headers().get("set-cookie").is_none());
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            (body["error"].as_str(), body["details"][0]["code"].as_str()),
            (Some(code), detail),
            "{login}: {body}"
        );
        assert!(!body.to_string().contains("12345678901"), "{body}");
        // The state was spent by the failed attempt: it cannot be replayed.
        let replay = s.follow(&callback).await;
        assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            replay.json::<Value>().await.unwrap()["error"],
            "invalid_login_state"
        );
    }
    assert_eq!(s.app.count("users").await, 0);
    assert_eq!(s.app.count("sessions").await, 0);
}

#[tokio::test]
async fn a_wrong_client_secret_is_our_fault_not_the_users() {
    let s = stack(ClaimsIn::IdToken).await;
    s.app
        .set_secret(
            "bankid-client-secret",
            "not-the-registered-secret-000000000",
        )
        .await;
    let callback = s.callback_for("web", "adult").await;
    let res = s.follow(&callback).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "internal_error");
    assert!(!body.to_string().contains("not-the-registered"), "{body}");
    assert_eq!(s.app.count("sessions").await, 0);
    assert_eq!(s.app.count("users").await, 0);
}
