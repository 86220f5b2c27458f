//! Signing in with BankID end to end over HTTP: the local API server, the project's BankID
//! sandbox as the provider, PostgreSQL and moto; a browser-like client with a cookie jar.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use drop_local::LocalApi;
use drop_testkit::browser::{Browser, APP_VERIFIER};
use drop_testkit::TestApp;
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;

const CLIENT_ID: &str = "drop-test";
const CLIENT_SECRET: &str = "sandbox-secret-for-tests-only-0123456789";

struct Stack {
    app: TestApp,
    base: String,
    browser: Browser,
}

async fn stack() -> Stack {
    stack_with(&[]).await
}

/// The stack with extra configuration variables.
async fn stack_with(extra: &[(&str, &str)]) -> Stack {
    let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", api.local_addr().unwrap());
    let idp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", idp.local_addr().unwrap());
    let mut env = vec![
        ("BANKID_ISSUER", issuer.as_str()),
        ("BANKID_CLIENT_ID", CLIENT_ID),
        ("DROP_PUBLIC_URL", &base),
        ("DROP_WEB_APP_URL", "https://app.drop.test/home"),
    ];
    env.extend_from_slice(extra);
    let app = TestApp::with_env(&env).await;
    app.set_secret("bankid-client-secret", CLIENT_SECRET).await;
    let sandbox = bankid_sandbox::SandboxConfig {
        issuer,
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uris: vec![app.base.config.bankid_redirect_uri()],
    };
    tokio::spawn(bankid_sandbox::serve(idp, sandbox, std::future::pending()));
    tokio::spawn(LocalApi::new(app.base.clone()).run(api, std::future::pending()));
    let browser = Browser::new(&base);
    Stack { app, base, browser }
}

fn location(res: &reqwest::Response) -> String {
    Browser::location(res)
}

impl Stack {
    /// Start → BankID's page → pick `person` → back at our callback (not yet followed).
    async fn at_callback(&self, client: &str, person: &str) -> String {
        let authorize = self.browser.start(client).await;
        let callback = self.browser.pick_sandbox_person(&authorize, person).await;
        assert!(
            callback.starts_with(&format!("{}/v1/auth/bankid/callback?", self.base)),
            "{callback}"
        );
        callback
    }

    async fn follow(&self, url: &str) -> reqwest::Response {
        self.browser.follow(url).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let res = self
            .browser
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn a_web_user_signs_in_sees_themselves_and_signs_out() {
    let s = stack().await;
    assert_eq!(s.get("/v1/auth/me").await.0, StatusCode::UNAUTHORIZED);

    let callback = s.at_callback("web", "adult").await;
    let res = s.follow(&callback).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), "https://app.drop.test/home");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    // RFC 6265bis: a __Host- cookie is Secure, Path=/ and has no Domain, so a sibling
    // subdomain cannot plant or overwrite it.
    assert!(cookie.starts_with("__Host-drop_token="), "{cookie}");
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Max-Age=86400",
        "Path=/",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!location(&res).contains("drop_token"), "no token in a URL");

    // The client's cookie jar will not send a Secure cookie over plain http; send it by hand.
    let token = cookie.split(';').next().unwrap().to_owned();
    let me = s
        .browser
        .client
        .get(format!("{}/v1/auth/me", s.base))
        .header("cookie", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(
        (me["given_name"].as_str(), me["family_name"].as_str()),
        (Some("Kari"), Some("Nordmann"))
    );
    assert_eq!(me["birth_date"], "1986-10-15");
    assert_eq!(me["kyc_status"], "not_started");
    assert_eq!(me["roles"], json!(["user"]));
    assert_eq!(me["bank_accounts"], 0);
    assert!(me.get("fnr").is_none() && !me.to_string().contains("15108695088"));

    // The session keeps the level BankID vouched for and when the person authenticated (the
    // sandbox's auth_time is its clock at the login, within this test's run).
    let session = s
        .app
        .db
        .query_one(
            "SELECT acr, auth_time, auth_time BETWEEN now() - interval '5 minutes' AND now() FROM sessions",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(session.get::<_, String>(0), "urn:bankid:bid");
    assert!(session.get::<_, bool>(2), "auth_time is this sign-in's");

    // Stored: encrypted and hashed, never in plain text.
    let row = s
        .app
        .db
        .query_one(
            "SELECT bankid_altsub, fnr_ciphertext, fnr_hmac FROM users",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "sandbox-altsub-adult");
    let sealed: Vec<u8> = row.get(1);
    assert!(!sealed.windows(11).any(|w| w == b"15108695088"));
    let opened = s
        .app
        .base
        .secrets
        .fnr_vault()
        .await
        .unwrap()
        .open(me["id"].as_str().unwrap().parse().unwrap(), &sealed)
        .unwrap();
    assert_eq!(opened.expose(), "15108695088");
    assert_eq!(
        s.app
            .count("audit_log WHERE action = 'user.registered'")
            .await,
        1
    );

    // Logging out without the web app's Origin is refused; with it, the session ends at once.
    let logout = format!("{}/v1/auth/logout", s.base);
    let res = s
        .browser
        .client
        .post(&logout)
        .header("cookie", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = s
        .browser
        .client
        .post(&logout)
        .header("cookie", &token)
        .header("origin", "https://app.drop.test")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let me = s
        .browser
        .client
        .get(format!("{}/v1/auth/me", s.base))
        .header("cookie", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);

    // Signing in again finds the same user.
    let callback = s.at_callback("web", "adult").await;
    assert_eq!(s.follow(&callback).await.status(), StatusCode::FOUND);
    assert_eq!(s.app.count("users").await, 1);
    assert_eq!(
        s.app
            .count("audit_log WHERE action = 'user.signed_in'")
            .await,
        1
    );
}

#[tokio::test]
async fn the_mobile_app_gets_a_one_time_code_and_exchanges_it_once_for_a_bearer_token() {
    let s = stack().await;
    let callback = s.at_callback("mobile", "d-number").await;
    let res = s.follow(&callback).await;
    let to_app = location(&res);
    assert!(res.headers().get("set-cookie").is_none());
    let code = to_app
        .strip_prefix("drop://auth/callback?code=")
        .unwrap()
        .to_owned();

    let res = s.browser.exchange(&code).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    let token = body["token"].as_str().unwrap();
    let me = s
        .browser
        .client
        .get(format!("{}/v1/auth/me", s.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap()["given_name"], "Dagny");

    let again = s.browser.exchange(&code).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"],
        "invalid_code"
    );
    let made_up = s.browser.exchange("made-up").await;
    assert_eq!(made_up.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        made_up.json::<Value>().await.unwrap()["error"],
        "invalid_code"
    );
    assert_eq!(s.app.count("sessions").await, 1);

    // A Bearer logout needs no Origin.
    let res = s
        .browser
        .client
        .post(format!("{}/v1/auth/logout", s.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let me = s
        .browser
        .client
        .get(format!("{}/v1/auth/me", s.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

/// The day before `slug` turns 18, from the sandbox's record of them.
fn day_before_18th_birthday(slug: &str) -> String {
    let person = bankid_sandbox::test_persons()
        .iter()
        .find(|p| p.slug == slug)
        .unwrap();
    let born = time::Date::parse(
        person.birthdate,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap();
    let eighteen = born.replace_year(born.year() + 18).unwrap();
    eighteen.previous_day().unwrap().to_string()
}

async fn turned_away_as_underage(s: &Stack, person: &str) {
    let callback = s.at_callback("web", person).await;
    let res = s.follow(&callback).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "{person}");
    assert!(res.headers().get("set-cookie").is_none());
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "underage");
    assert_eq!(s.app.count("users").await, 0);
    assert_eq!(s.app.count("sessions").await, 0);
}

#[tokio::test]
async fn a_minor_is_turned_away_and_nothing_about_them_is_kept() {
    // Ages are taken on the date the test sets, not the calendar's: here the day before the
    // sandbox's minor turns 18.
    let s = stack_with(&[("DROP_TODAY", &day_before_18th_birthday("minor"))]).await;
    turned_away_as_underage(&s, "minor").await;
}

#[tokio::test]
async fn ages_are_taken_on_the_date_set_for_the_test() {
    // The adult (born 1986) on the day before their 18th birthday is still a minor.
    let s = stack_with(&[("DROP_TODAY", &day_before_18th_birthday("adult"))]).await;
    turned_away_as_underage(&s, "adult").await;
}

#[tokio::test]
async fn a_synthetic_test_person_can_sign_in() {
    let s = stack().await;
    let callback = s.at_callback("web", "synthetic").await;
    assert_eq!(s.follow(&callback).await.status(), StatusCode::FOUND);
    assert_eq!(s.app.count("users").await, 1);
}

#[tokio::test]
async fn a_replayed_unknown_or_missing_state_creates_no_session() {
    let s = stack().await;
    let callback = s.at_callback("web", "adult").await;
    assert_eq!(s.follow(&callback).await.status(), StatusCode::FOUND);
    let replay = s.follow(&callback).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["error"],
        "invalid_login_state"
    );

    let (status, body) = s
        .get("/v1/auth/bankid/callback?code=abc&state=never-issued")
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_login_state"))
    );
    let (status, body) = s.get("/v1/auth/bankid/callback?code=abc").await;
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["details"][0]["code"].as_str()
        ),
        (
            StatusCode::UNAUTHORIZED,
            Some("login_failed"),
            Some("invalid_callback")
        )
    );
    let (status, body) = s
        .get("/v1/auth/bankid/callback?error=access_denied&state=x")
        .await;
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["details"][0]["code"].as_str()
        ),
        (
            StatusCode::UNAUTHORIZED,
            Some("login_failed"),
            Some("cancelled_or_refused")
        )
    );
    // Only the first, genuine sign-in wrote anything.
    assert_eq!(s.app.count("sessions").await, 1);
    assert_eq!(s.app.count("users").await, 1);
}

#[tokio::test]
async fn a_forged_code_is_refused_by_the_provider_and_creates_no_session() {
    let s = stack().await;
    let callback = s.at_callback("web", "adult").await;
    let forged = callback.replace("code=", "code=x");
    let res = s.follow(&forged).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().get("set-cookie").is_none());
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["error"].as_str(), body["details"][0]["code"].as_str()),
        (Some("login_failed"), Some("code_rejected"))
    );
    assert_eq!(s.app.count("sessions").await, 0);
    assert_eq!(s.app.count("users").await, 0);
}

#[tokio::test]
async fn passwords_are_gone_and_an_unknown_client_kind_is_refused() {
    let s = stack().await;
    for path in ["/v1/auth/login", "/v1/auth/register"] {
        let res = s
            .browser
            .client
            .post(format!("{}{path}", s.base))
            .json(&json!({"username": "x", "password": "y"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::GONE);
        assert!(res.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("BankID"));
    }
    let (status, body) = s.get("/v1/auth/bankid/start?client=desktop").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"))
    );
}

#[tokio::test]
async fn sign_in_routes_allow_ten_requests_a_minute_per_ip() {
    let s = stack().await;
    let into_window = time::OffsetDateTime::now_utc()
        .unix_timestamp()
        .rem_euclid(60);
    if into_window > 50 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - into_window) as u64)).await;
    }
    for _ in 0..10 {
        assert_eq!(
            s.get("/v1/auth/bankid/start?client=nope").await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    let res = s
        .browser
        .client
        .get(format!("{}/v1/auth/bankid/start", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_mobile_code_intercepted_by_another_app_is_worthless() {
    let s = stack().await;
    let (status, body) = s.get("/v1/auth/bankid/start?client=mobile").await;
    assert_eq!(
        (status, body["details"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("code_challenge"))
    );

    let callback = s.at_callback("mobile", "adult").await;
    let to_app = location(&s.follow(&callback).await);
    let code = to_app.split("code=").nth(1).unwrap();
    let thief =
        json!({ "code": code, "code_verifier": "someone-elses-verifier-0123456789-abcdefghij" });
    let res = s
        .browser
        .client
        .post(format!("{}/v1/auth/token", s.base))
        .json(&thief)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_code");
    assert!(body.get("token").is_none(), "{body}");
    // The code is spent: the real app must sign in again.
    let res = s
        .browser
        .client
        .post(format!("{}/v1/auth/token", s.base))
        .json(&json!({ "code": code, "code_verifier": APP_VERIFIER }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_code");
}

#[tokio::test]
async fn a_callback_link_finished_in_another_browser_signs_no_one_in() {
    let s = stack().await;
    let fresh_browser = || Client::builder().redirect(Policy::none()).build().unwrap();
    let callback = s.at_callback("web", "adult").await;
    // The victim's browser never started this sign-in: it has no sign-in cookie.
    let res = fresh_browser().get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("set-cookie").is_none());
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_login_state"
    );
    // And the state is spent: the attacker cannot finish it either.
    let res = s.follow(&callback).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_login_state"
    );
    assert_eq!(s.app.count("sessions").await, 0);
    assert_eq!(s.app.count("users").await, 0);

    // A sign-in cookie from another sign-in does not fit this one.
    let first = s.at_callback("web", "adult").await;
    let second = s.at_callback("web", "adult").await;
    let second_cookie = s.browser.login_cookie().unwrap();
    let res = fresh_browser()
        .get(&first)
        .header("cookie", &second_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_login_state"
    );
    assert_eq!(s.app.count("sessions").await, 0);
    let res = fresh_browser()
        .get(&second)
        .header("cookie", &second_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let set: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        set.iter().any(|c| c.starts_with("__Host-drop_token=")),
        "{set:?}"
    );
    assert!(
        set.iter()
            .any(|c| c.starts_with("__Host-drop_login=;") && c.contains("Max-Age=0")),
        "{set:?}"
    );
    assert_eq!(s.app.count("sessions").await, 1);
}
