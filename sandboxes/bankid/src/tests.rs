//! The sandbox over real HTTP on 127.0.0.1, as a relying party and a browser would use it.

use crate::clock::Clock;
use crate::{crypto, run, test_persons, SandboxConfig};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use reqwest::{header, redirect, Client, Response, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const CLIENT_ID: &str = "drop-local";
/// Characters that HTTP Basic must carry form-urlencoded (RFC 6749 §2.3.1).
const SECRET: &str = "s3cret+/=:&ø";
const REDIRECT: &str = "http://127.0.0.1:9/auth/callback";
const OTHER_REDIRECT: &str = "http://localhost:9/auth/callback?app=web";

struct Sandbox {
    base: String,
    clock: Clock,
    http: Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// One login in progress: what the relying party keeps between its redirects.
struct Login {
    verifier: String,
    state: String,
    nonce: String,
    scope: &'static str,
    redirect_uri: &'static str,
}

impl Login {
    fn new() -> Self {
        let verifier = format!("{}.{}", token(), token());
        Self {
            verifier,
            state: token(),
            nonce: token(),
            scope: "openid profile nnin_altsub",
            redirect_uri: REDIRECT,
        }
    }

    fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(crypto::sha256(self.verifier.as_bytes()))
    }

    /// The authorize query a correct relying party sends.
    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("client_id", CLIENT_ID.into()),
            ("redirect_uri", self.redirect_uri.into()),
            ("response_type", "code".into()),
            ("scope", self.scope.into()),
            ("state", self.state.clone()),
            ("nonce", self.nonce.clone()),
            ("code_challenge", self.challenge()),
            ("code_challenge_method", "S256".into()),
            ("acr_values", "urn:bankid:bid".into()),
            ("ui_locales", "nb".into()),
        ]
    }
}

fn token() -> String {
    crypto::random_token().unwrap()
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn query(pairs: &[(&str, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn location(resp: &Response) -> String {
    resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// The query of a redirect to `redirect_uri`, as a map.
fn redirect_params(location: &str, redirect_uri: &str) -> HashMap<String, String> {
    let rest = location
        .strip_prefix(redirect_uri)
        .unwrap_or_else(|| panic!("{location} does not go to {redirect_uri}"));
    let query = rest.trim_start_matches(['?', '&']);
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn hidden_transaction(page: &str) -> String {
    let marker = r#"name="transaction" value=""#;
    let start = page.find(marker).unwrap() + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

impl Sandbox {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = SandboxConfig {
            issuer: base.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: SECRET.into(),
            redirect_uris: vec![REDIRECT.into(), OTHER_REDIRECT.into()],
        };
        let clock = Clock::default();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(run(listener, config, clock.clone(), async {
            let _ = rx.await;
        }));
        let http = Client::builder()
            .redirect(redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base,
            clock,
            http,
            shutdown: Some(tx),
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn authorize(&self, params: &[(&str, String)]) -> Response {
        let url = format!("{}?{}", self.url("/authorize"), query(params));
        self.http.get(url).send().await.unwrap()
    }

    async fn choose(&self, transaction: &str, person: &str) -> Response {
        self.http
            .post(self.url("/authorize/choose"))
            .form(&[("transaction", transaction), ("person", person)])
            .send()
            .await
            .unwrap()
    }

    /// Authorize page, then the person's button: the code the relying party receives.
    async fn code_for(&self, login: &Login, person: &str) -> String {
        let page = self.authorize(&login.params()).await;
        assert_eq!(page.status(), StatusCode::OK);
        let transaction = hidden_transaction(&page.text().await.unwrap());
        let chosen = self.choose(&transaction, person).await;
        assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
        let params = redirect_params(&location(&chosen), login.redirect_uri);
        assert_eq!(params["state"], login.state);
        params["code"].clone()
    }

    async fn token_with(&self, secret: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url("/token"))
            .basic_auth(encode(CLIENT_ID), Some(encode(secret)))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn token(&self, login: &Login, code: &str, verifier: &str) -> Response {
        self.token_with(
            SECRET,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", login.redirect_uri),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    async fn userinfo(&self, access_token: &str) -> Response {
        self.http
            .get(self.url("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }

    /// The signing key, as a relying party finds it: discovery, then `jwks_uri`.
    async fn decoding_key(&self, kid: &str) -> DecodingKey {
        let discovery: Value = self.get_json("/.well-known/openid-configuration").await;
        let jwks: JwkSet = self
            .http
            .get(discovery["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        DecodingKey::from_jwk(jwks.find(kid).unwrap()).unwrap()
    }

    /// Verifies a JWT from the sandbox as a relying party must (RS256, key by kid, iss, aud).
    async fn verify(&self, jwt: &str) -> Value {
        let header = decode_header(jwt).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        let key = self.decoding_key(&header.kid.unwrap()).await;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[CLIENT_ID]);
        validation.set_issuer(&[&self.base]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        decode::<Value>(jwt, &key, &validation).unwrap().claims
    }

    async fn get_json(&self, path: &str) -> Value {
        let resp = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

async fn error_json(resp: Response) -> (StatusCode, String) {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert!(body["error_description"].is_string(), "{body}");
    (status, body["error"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn discovery() {
    let sb = Sandbox::start().await;
    let d = sb.get_json("/.well-known/openid-configuration").await;
    assert_eq!(d["issuer"], sb.base);
    assert_eq!(d["authorization_endpoint"], sb.url("/authorize"));
    assert_eq!(d["token_endpoint"], sb.url("/token"));
    assert_eq!(d["userinfo_endpoint"], sb.url("/userinfo"));
    assert_eq!(d["jwks_uri"], sb.url("/jwks"));
    let list = |k: &str| d[k].clone();
    assert_eq!(
        list("response_types_supported"),
        serde_json::json!(["code"])
    );
    assert_eq!(
        list("subject_types_supported"),
        serde_json::json!(["pairwise"])
    );
    assert_eq!(
        list("id_token_signing_alg_values_supported"),
        serde_json::json!(["RS256"])
    );
    assert_eq!(
        list("token_endpoint_auth_methods_supported"),
        serde_json::json!(["client_secret_basic"])
    );
    assert_eq!(
        list("code_challenge_methods_supported"),
        serde_json::json!(["S256"])
    );
    assert_eq!(
        list("scopes_supported"),
        serde_json::json!(["openid", "profile", "nnin_altsub"])
    );
    assert_eq!(
        list("acr_values_supported"),
        serde_json::json!(["urn:bankid:bid"])
    );
    let claims = d["claims_supported"].as_array().unwrap();
    for c in ["bankid_altsub", "nnin_altsub", "birthdate", "acr"] {
        assert!(claims.iter().any(|v| v == c), "{c}");
    }
    let jwks = sb.get_json("/jwks").await;
    let key = &jwks["keys"][0];
    assert_eq!(
        (&key["kty"], &key["use"], &key["alg"]),
        (&"RSA".into(), &"sig".into(), &"RS256".into())
    );
    assert!(key["kid"].is_string() && key["n"].is_string() && key["e"] == "AQAB");
    sb.stop().await;
}

#[tokio::test]
async fn the_full_code_flow() {
    let sb = Sandbox::start().await;
    let login = Login::new();

    let page = sb.authorize(&login.params()).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>BankID sandbox — not real BankID</title>"));
    for p in test_persons() {
        assert!(
            html.contains(&format!(r#"name="person" value="{}""#, p.slug)),
            "{}",
            p.slug
        );
        assert!(html.contains(&p.name()), "{}", p.slug);
    }
    // The form carries a server-side transaction, not the raw parameters.
    assert!(!html.contains(&login.nonce) && !html.contains(&login.state));
    assert!(!html.contains(&login.challenge()));
    let transaction = hidden_transaction(&html);

    let chosen = sb.choose(&transaction, "adult").await;
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    let back = redirect_params(&location(&chosen), REDIRECT);
    assert_eq!(back["state"], login.state);
    let code = &back["code"];
    // At least 128 bits: 43 base64url characters carry 256.
    assert!(code.len() >= 22);

    let resp = sb.token(&login, code, &login.verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 300);
    let id = sb.verify(tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id["iss"], sb.base);
    assert_eq!(id["aud"], CLIENT_ID);
    assert_eq!(id["nonce"], login.nonce);
    assert_eq!(id["acr"], "urn:bankid:bid");
    assert_eq!(id["amr"], serde_json::json!(["BID"]));
    assert_eq!(id["bankid_altsub"], "sandbox-altsub-adult");
    assert_eq!(id["given_name"], "Kari");
    assert_eq!(id["family_name"], "Nordmann");
    assert_eq!(id["name"], "Kari Nordmann");
    assert_eq!(id["birthdate"], "1986-10-15");
    assert_eq!(
        id["exp"].as_u64().unwrap() - id["iat"].as_u64().unwrap(),
        300
    );
    assert!(id["auth_time"].as_u64().unwrap() <= id["iat"].as_u64().unwrap());
    let sub = id["sub"].as_str().unwrap();
    assert!(!sub.is_empty() && !sub.contains("altsub"));
    // Like BankID: the fødselsnummer is never in the ID token.
    assert!(id.get("nnin_altsub").is_none());
    assert!(!tokens["id_token"].to_string().contains("15108695088"));

    let resp = sb.userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/jwt");
    let info = sb.verify(&resp.text().await.unwrap()).await;
    assert_eq!(info["nnin_altsub"], "15108695088");
    assert_eq!(info["sub"], sub);
    assert_eq!(info["bankid_altsub"], "sandbox-altsub-adult");
    assert_eq!(info["name"], "Kari Nordmann");
    assert_eq!(info["birthdate"], "1986-10-15");
    sb.stop().await;
}

#[tokio::test]
async fn each_person_logs_in_with_their_own_number() {
    let sb = Sandbox::start().await;
    let mut subs = Vec::new();
    for p in test_persons() {
        let login = Login::new();
        let code = sb.code_for(&login, p.slug).await;
        let tokens: Value = sb
            .token(&login, &code, &login.verifier)
            .await
            .json()
            .await
            .unwrap();
        let id = sb.verify(tokens["id_token"].as_str().unwrap()).await;
        assert_eq!(id["bankid_altsub"], p.bankid_altsub);
        let info = sb.userinfo(tokens["access_token"].as_str().unwrap()).await;
        let info = sb.verify(&info.text().await.unwrap()).await;
        assert_eq!(info["nnin_altsub"], p.nnin);
        assert_eq!(info["birthdate"], p.birthdate);
        subs.push(id["sub"].as_str().unwrap().to_owned());
    }
    subs.sort();
    subs.dedup();
    assert_eq!(subs.len(), test_persons().len());
    sb.stop().await;
}

#[tokio::test]
async fn nnin_altsub_only_with_its_scope() {
    let sb = Sandbox::start().await;
    let login = Login {
        scope: "openid profile",
        ..Login::new()
    };
    let code = sb.code_for(&login, "adult").await;
    let tokens: Value = sb
        .token(&login, &code, &login.verifier)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["scope"], "openid profile");
    let info = sb.userinfo(tokens["access_token"].as_str().unwrap()).await;
    let info = sb.verify(&info.text().await.unwrap()).await;
    assert!(info.get("nnin_altsub").is_none());
    assert_eq!(info["bankid_altsub"], "sandbox-altsub-adult");
    sb.stop().await;
}

#[tokio::test]
async fn client_authentication() {
    let sb = Sandbox::start().await;
    let login = Login::new();
    let code = sb.code_for(&login, "adult").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", login.verifier.as_str()),
    ];

    let resp = sb.token_with("wrong-secret", &form).await;
    assert!(resp.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(
        error_json(resp).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );

    // The secret as is, not form-urlencoded: a different secret.
    let resp = sb
        .http
        .post(sb.url("/token"))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(error_json(resp).await.1, "invalid_client");

    // client_secret_post is not offered.
    let mut post = form.to_vec();
    post.extend([("client_id", CLIENT_ID), ("client_secret", SECRET)]);
    let resp = sb
        .http
        .post(sb.url("/token"))
        .form(&post)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_json(resp).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );

    // None of those spent the code.
    let resp = sb.token(&login, &code, &login.verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    sb.stop().await;
}

#[tokio::test]
async fn wrong_verifier_is_invalid_grant_and_spends_the_code() {
    let sb = Sandbox::start().await;
    let login = Login::new();
    let code = sb.code_for(&login, "adult").await;
    let other = Login::new().verifier;
    let resp = sb.token(&login, &code, &other).await;
    assert_eq!(
        error_json(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    let resp = sb.token(&login, &code, &login.verifier).await;
    assert_eq!(error_json(resp).await.1, "invalid_grant");
    sb.stop().await;
}

#[tokio::test]
async fn code_reuse_is_invalid_grant_and_revokes_the_token() {
    let sb = Sandbox::start().await;
    let login = Login::new();
    let code = sb.code_for(&login, "adult").await;
    let first: Value = sb
        .token(&login, &code, &login.verifier)
        .await
        .json()
        .await
        .unwrap();
    let access_token = first["access_token"].as_str().unwrap();
    assert_eq!(sb.userinfo(access_token).await.status(), StatusCode::OK);

    let again = sb.token(&login, &code, &login.verifier).await;
    assert_eq!(
        error_json(again).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    let revoked = sb.userinfo(access_token).await;
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
    assert!(revoked.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    sb.stop().await;
}

#[tokio::test]
async fn expired_code_is_invalid_grant() {
    let sb = Sandbox::start().await;
    let login = Login::new();
    let code = sb.code_for(&login, "adult").await;
    sb.clock.advance(Duration::from_secs(61));
    let resp = sb.token(&login, &code, &login.verifier).await;
    assert_eq!(
        error_json(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    sb.stop().await;
}

#[tokio::test]
async fn redirect_uri_must_match_the_one_bound_to_the_code() {
    let sb = Sandbox::start().await;
    let login = Login {
        redirect_uri: OTHER_REDIRECT,
        ..Login::new()
    };
    // A registered URI with a query keeps it; the code is appended.
    let code = sb.code_for(&login, "adult").await;
    let elsewhere = Login {
        redirect_uri: REDIRECT,
        ..login
    };
    let resp = sb.token(&elsewhere, &code, &elsewhere.verifier).await;
    assert_eq!(error_json(resp).await.1, "invalid_grant");
    sb.stop().await;
}

#[tokio::test]
async fn unvalidated_redirect_uris_get_an_error_page_never_a_redirect() {
    let sb = Sandbox::start().await;
    let login = Login::new();
    let with = |name: &'static str, value: Option<&str>| {
        let mut params: Vec<_> = login
            .params()
            .into_iter()
            .filter(|(k, _)| *k != name)
            .collect();
        if let Some(v) = value {
            params.push((name, v.to_owned()));
        }
        params
    };
    for params in [
        with("redirect_uri", Some("http://127.0.0.1:9/evil")),
        with("redirect_uri", Some("http://127.0.0.1:9/auth/callback/")),
        with("redirect_uri", None),
        with("client_id", Some("someone-else")),
        with("client_id", None),
        {
            let mut p = login.params();
            p.push(("redirect_uri", OTHER_REDIRECT.into()));
            p
        },
    ] {
        let resp = sb.authorize(&params).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(resp.headers().get(header::LOCATION).is_none());
        let html = resp.text().await.unwrap();
        assert!(html.contains("BankID sandbox — not real BankID"));
        assert!(!html.contains(r#"name="transaction""#));
    }
    sb.stop().await;
}

#[tokio::test]
async fn authorize_errors_after_the_redirect_uri_go_back_to_the_client() {
    let sb = Sandbox::start().await;
    let login = Login::new();
    let without = |name: &str| -> Vec<_> {
        login
            .params()
            .into_iter()
            .filter(|(k, _)| *k != name)
            .collect()
    };
    let replace = |name: &'static str, value: &str| {
        let mut p = without(name);
        p.push((name, value.to_owned()));
        p
    };
    let cases = [
        (without("code_challenge"), "invalid_request"),
        (without("code_challenge_method"), "invalid_request"),
        (replace("code_challenge_method", "plain"), "invalid_request"),
        (replace("code_challenge", "too-short"), "invalid_request"),
        (without("nonce"), "invalid_request"),
        (without("response_type"), "invalid_request"),
        (
            replace("response_type", "token"),
            "unsupported_response_type",
        ),
        (replace("scope", "profile nnin_altsub"), "invalid_scope"),
        (replace("acr_values", "urn:bankid:bis"), "invalid_request"),
        (replace("prompt", "none"), "login_required"),
        (
            {
                let mut p = login.params();
                p.push(("nonce", "second".into()));
                p
            },
            "invalid_request",
        ),
    ];
    for (params, error) in cases {
        let resp = sb.authorize(&params).await;
        assert_eq!(resp.status(), StatusCode::FOUND);
        let back = redirect_params(&location(&resp), REDIRECT);
        assert_eq!(back["error"], error, "{back:?}");
        assert_eq!(back["state"], login.state);
        assert!(!back.contains_key("code"));
    }
    // Without state there is none to echo.
    let resp = sb.authorize(&without("state")).await;
    let back = redirect_params(&location(&resp), REDIRECT);
    assert_eq!(back["error"], "invalid_request");
    assert!(!back.contains_key("state"));
    sb.stop().await;
}

#[tokio::test]
async fn cancel_and_single_use_transactions() {
    let sb = Sandbox::start().await;
    let login = Login::new();
    let page = sb.authorize(&login.params()).await.text().await.unwrap();
    let transaction = hidden_transaction(&page);

    let unknown = sb.choose(&transaction, "nobody").await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert!(unknown.headers().get(header::LOCATION).is_none());

    let cancel = sb
        .http
        .post(sb.url("/authorize/choose"))
        .form(&[("transaction", transaction.as_str()), ("cancel", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), StatusCode::SEE_OTHER);
    let back = redirect_params(&location(&cancel), REDIRECT);
    assert_eq!(
        (back["error"].as_str(), back["state"].as_str()),
        ("access_denied", login.state.as_str())
    );

    let reused = sb.choose(&transaction, "adult").await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    assert!(reused.headers().get(header::LOCATION).is_none());
    let forged = sb.choose(&token(), "adult").await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    sb.stop().await;
}

#[tokio::test]
async fn token_request_errors() {
    let sb = Sandbox::start().await;
    let login = Login::new();
    let code = sb.code_for(&login, "adult").await;
    let base = |skip: &str| -> Vec<(&str, &str)> {
        [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", login.verifier.as_str()),
        ]
        .into_iter()
        .filter(|(k, _)| *k != skip)
        .collect()
    };
    for skip in ["grant_type", "code", "redirect_uri", "code_verifier"] {
        let resp = sb.token_with(SECRET, &base(skip)).await;
        assert_eq!(
            error_json(resp).await,
            (StatusCode::BAD_REQUEST, "invalid_request".into()),
            "{skip}"
        );
    }
    let mut refresh = base("grant_type");
    refresh.push(("grant_type", "refresh_token"));
    let resp = sb.token_with(SECRET, &refresh).await;
    assert_eq!(error_json(resp).await.1, "unsupported_grant_type");
    let mut short = base("code_verifier");
    short.push(("code_verifier", "short"));
    let resp = sb.token_with(SECRET, &short).await;
    assert_eq!(error_json(resp).await.1, "invalid_request");
    let mut unknown = base("code");
    unknown.push(("code", "not-a-code"));
    let resp = sb.token_with(SECRET, &unknown).await;
    assert_eq!(
        error_json(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    // None of the malformed requests spent the code.
    assert_eq!(
        sb.token(&login, &code, &login.verifier).await.status(),
        StatusCode::OK
    );
    sb.stop().await;
}

#[tokio::test]
async fn userinfo_needs_a_bearer_token() {
    let sb = Sandbox::start().await;
    let resp = sb.http.get(sb.url("/userinfo")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="bankid-sandbox""#
    );
    let resp = sb.userinfo(&token()).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = sb.http.post(sb.url("/jwks")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let resp = sb.http.get(sb.url("/nowhere")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    sb.stop().await;
}

#[tokio::test]
async fn an_issuer_with_a_path_prefixes_every_endpoint() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/bankid", listener.local_addr().unwrap());
    let config = SandboxConfig {
        issuer: base.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: SECRET.into(),
        redirect_uris: vec![REDIRECT.into()],
    };
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(crate::serve(listener, config, async {
        let _ = rx.await;
    }));
    let d: Value = reqwest::get(format!("{base}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], base);
    assert_eq!(d["token_endpoint"], format!("{base}/token"));
    let jwks = reqwest::get(d["jwks_uri"].as_str().unwrap()).await.unwrap();
    assert_eq!(jwks.status(), StatusCode::OK);
    let login = Login::new();
    let page = reqwest::get(format!("{base}/authorize?{}", query(&login.params())))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"action="/bankid/authorize/choose""#));
    let _ = tx.send(());
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}
