//! A browser, or the mobile app, signing in through Drop's API over HTTP. Redirects are not
//! followed, so each step can be looked at; the sign-in cookie is kept as a browser keeps it
//! (sent back only by [`Browser::follow`]), and the app's PKCE verifier is fixed.

use std::sync::Mutex;

/// The mobile app's PKCE `code_verifier` (43 characters).
pub const APP_VERIFIER: &str = "app-verifier-0123456789-0123456789-abcdefgh";

/// The app's S256 challenge, BASE64URL(SHA-256(verifier)) (RFC 7636 § 4.2), computed here
/// rather than by the code under test.
fn app_challenge() -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(APP_VERIFIER))
}

pub struct Browser {
    pub client: reqwest::Client,
    base: String,
    login_cookie: Mutex<Option<String>>,
}

impl Browser {
    /// A browser for the API at `base`.
    pub fn new(base: &str) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            client,
            base: base.to_owned(),
            login_cookie: Mutex::default(),
        }
    }

    pub fn location(res: &reqwest::Response) -> String {
        res.headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("a Location header")
            .to_owned()
    }

    /// The sign-in cookie the last web start set (`name=value`).
    pub fn login_cookie(&self) -> Option<String> {
        self.login_cookie.lock().expect("lock").clone()
    }

    /// `GET /v1/auth/bankid/start?client=…` (with the app's challenge); keeps the sign-in
    /// cookie and returns the provider's authorization URL.
    pub async fn start(&self, client: &str) -> String {
        let challenge = app_challenge();
        let url = format!(
            "{}/v1/auth/bankid/start?client={client}&code_challenge={challenge}",
            self.base
        );
        let res = self.client.get(url).send().await.expect("start");
        assert_eq!(res.status(), reqwest::StatusCode::FOUND, "start");
        let cookie = res
            .headers()
            .get("set-cookie")
            .and_then(|c| c.to_str().ok())
            .and_then(|c| c.split(';').next())
            .map(str::to_owned);
        *self.login_cookie.lock().expect("lock") = cookie;
        Self::location(&res)
    }

    /// Picks `person` on the BankID sandbox's page; returns the redirect to Drop's callback.
    pub async fn pick_sandbox_person(&self, authorize: &str, person: &str) -> String {
        let page = self
            .client
            .get(authorize)
            .send()
            .await
            .expect("sandbox page")
            .text()
            .await
            .expect("page");
        let transaction = page
            .split("name=\"transaction\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a transaction on the sandbox page")
            .to_owned();
        let issuer = authorize.split("/authorize").next().unwrap_or_default();
        let form = [("transaction", transaction.as_str()), ("person", person)];
        let res = self
            .client
            .post(format!("{issuer}/authorize/choose"))
            .form(&form)
            .send()
            .await
            .expect("choose");
        Self::location(&res)
    }

    /// A GET as the browser that started sign-in makes it: with its sign-in cookie.
    pub async fn follow(&self, url: &str) -> reqwest::Response {
        let mut req = self.client.get(url);
        if let Some(cookie) = self.login_cookie() {
            req = req.header("cookie", cookie);
        }
        req.send().await.expect("follow")
    }

    /// `POST /v1/auth/token` with the code from `drop://auth/callback?code=…` and the app's
    /// verifier.
    pub async fn exchange(&self, code: &str) -> reqwest::Response {
        let body = serde_json::json!({ "code": code, "code_verifier": APP_VERIFIER });
        self.client
            .post(format!("{}/v1/auth/token", self.base))
            .json(&body)
            .send()
            .await
            .expect("token")
    }
}
