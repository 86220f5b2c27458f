//! `OidcClient` and `outbound` against an in-process fake OpenID provider: a hyper server on
//! 127.0.0.1 serving discovery, JWKS, token and userinfo, signing with RSA keys made at test
//! time. Each test scripts what the provider answers and checks what the client makes of it.
//! (The same client against the independent `oidc-provider` is in tests/tests/oidc_provider.rs.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::Bytes;
use drop_shared::domain::ids::FodselsnummerKind;
use drop_shared::error::log_chain;
use drop_shared::providers::bankid::{
    parse_query, AuthorizationResponse, JwtProblem, OidcClient, OidcError, ACR_VALUES, SCOPE,
};
use drop_shared::providers::outbound::{self, OutboundError, RetryPolicy, DEFAULT_MAX_BODY_BYTES};
use drop_shared::secret::Secret;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "drop-test";
/// Characters that must be form-encoded in HTTP Basic (RFC 6749 §2.3.1).
const CLIENT_SECRET: &str = "s3c/r+t:=&%é";
const REDIRECT_URI: &str = "https://drop.example/v1/auth/bankid/callback";
const NONCE: &str = "nonce-from-the-state-store";
const ADULT_FNR: &str = "15108695088";

// ---------------------------------------------------------------------------------------------
// keys
// ---------------------------------------------------------------------------------------------

struct TestKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

fn make_key(kid: &str) -> TestKey {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
    let b64 = STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let public = pair.public_key();
    let jwk = json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    });
    TestKey {
        kid: kid.to_owned(),
        encoding: EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        jwk,
    }
}

/// Three keys, made once for the whole file (RSA generation is the slow part).
fn keys() -> &'static [TestKey; 3] {
    static KEYS: OnceLock<[TestKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| [make_key("k1"), make_key("k2"), make_key("k3")])
}

fn sign(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

fn sign_with_kid(key: &TestKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

// ---------------------------------------------------------------------------------------------
// the fake provider
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
enum Reply {
    Json(u16, Value),
    Typed(u16, &'static str, String),
    /// A body of this many bytes, with or without `content-length`.
    Huge {
        bytes: usize,
        declared: bool,
    },
    /// Answers only after this long.
    Slow(Duration),
}

struct FakeState {
    discovery_issuer: Option<String>,
    token_endpoint: Option<String>,
    jwks: Vec<Value>,
    jwks_reply: Option<Reply>,
    token: Reply,
    userinfo: Reply,
    counts: HashMap<&'static str, usize>,
    token_form: Vec<(String, String)>,
    token_auth: Option<String>,
    userinfo_auth: Option<String>,
}

struct Fake {
    issuer: String,
    state: Arc<Mutex<FakeState>>,
}

impl Fake {
    async fn start() -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(FakeState {
            discovery_issuer: None,
            token_endpoint: None,
            jwks: vec![keys()[0].jwk.clone()],
            jwks_reply: None,
            token: Reply::Json(500, json!({"error": "not scripted"})),
            userinfo: Reply::Json(500, json!({"error": "not scripted"})),
            counts: HashMap::new(),
            token_form: Vec::new(),
            token_auth: None,
            userinfo_auth: None,
        }));
        let (served_state, served_issuer) = (state.clone(), issuer.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (state, issuer) = (served_state.clone(), served_issuer.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        handle(state.clone(), issuer.clone(), req)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Fake { issuer, state }
    }

    fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    fn count(&self, route: &str) -> usize {
        self.with(|s| s.counts.get(route).copied().unwrap_or(0))
    }

    /// The token endpoint answers with this ID token.
    fn answer_id_token(&self, id_token: String) {
        self.with(|s| {
            s.token = Reply::Json(
                200,
                json!({
                    "access_token": "at-secret-value",
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": id_token,
                }),
            )
        });
    }

    fn client(&self) -> OidcClient {
        OidcClient::new(
            self.issuer.clone(),
            CLIENT_ID.to_owned(),
            Secret::new(CLIENT_SECRET.to_owned()),
            REDIRECT_URI.to_owned(),
        )
        .with_retry_policy(fast_policy())
    }

    /// Every claim BankID sends for the adult test person, in the ID token.
    fn claims(&self) -> Value {
        json!({
            "iss": self.issuer,
            "sub": "sub-adult",
            "aud": CLIENT_ID,
            "exp": now() + 300,
            "iat": now(),
            "auth_time": now(),
            "nonce": NONCE,
            "acr": ACR_VALUES,
            "bankid_altsub": "altsub-adult",
            "nnin_altsub": ADULT_FNR,
            "birthdate": "1986-10-15",
            "given_name": "Kari",
            "family_name": "Nordmann",
            "name": "Kari Nordmann",
        })
    }

    /// The ID token claims without the person (BankID style: those come from userinfo).
    fn bare_claims(&self) -> Value {
        let mut c = self.claims();
        for name in [
            "nnin_altsub",
            "birthdate",
            "given_name",
            "family_name",
            "name",
        ] {
            c.as_object_mut().unwrap().remove(name);
        }
        c
    }

    fn userinfo_claims(&self) -> Value {
        json!({
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "sub-adult",
            "iat": now(),
            "nnin_altsub": ADULT_FNR,
            "birthdate": "1986-10-15",
            "given_name": "Kari",
            "family_name": "Nordmann",
            "name": "Kari Nordmann",
        })
    }
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(5),
        timeout: Duration::from_millis(1500),
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
    }
}

type Body = BoxBody<Bytes, Infallible>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

async fn reply(r: Reply) -> Response<Body> {
    match r {
        Reply::Json(status, v) => Response::builder()
            .status(status)
            .header("content-type", "application/json; charset=utf-8")
            .body(full(v.to_string()))
            .unwrap(),
        Reply::Typed(status, content_type, body) => Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(full(body))
            .unwrap(),
        Reply::Huge { bytes, declared } => {
            let body = if declared {
                full(vec![b' '; bytes])
            } else {
                // Chunked: no content-length, so only the read limit can stop it.
                let chunks = (0..bytes.div_ceil(64 * 1024))
                    .map(|_| Ok::<_, Infallible>(Frame::data(Bytes::from(vec![b' '; 64 * 1024]))));
                StreamBody::new(futures_util::stream::iter(chunks)).boxed()
            };
            Response::builder()
                .header("content-type", "application/json")
                .body(body)
                .unwrap()
        }
        Reply::Slow(delay) => {
            tokio::time::sleep(delay).await;
            Response::builder().status(200).body(full("{}")).unwrap()
        }
    }
}

async fn handle(
    state: Arc<Mutex<FakeState>>,
    issuer: String,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let answer = {
        let mut s = state.lock().unwrap();
        let route: &'static str = match path.as_str() {
            "/.well-known/openid-configuration" => "discovery",
            "/jwks" => "jwks",
            "/token" => "token",
            "/userinfo" => "userinfo",
            _ => "other",
        };
        *s.counts.entry(route).or_default() += 1;
        match route {
            "discovery" => Reply::Json(
                200,
                json!({
                    "issuer": s.discovery_issuer.clone().unwrap_or_else(|| issuer.clone()),
                    "authorization_endpoint": format!("{issuer}/auth"),
                    "token_endpoint": s.token_endpoint.clone().unwrap_or_else(|| format!("{issuer}/token")),
                    "jwks_uri": format!("{issuer}/jwks"),
                    "userinfo_endpoint": format!("{issuer}/userinfo"),
                    "authorization_response_iss_parameter_supported": true,
                    "id_token_signing_alg_values_supported": ["RS256"],
                }),
            ),
            "jwks" => s
                .jwks_reply
                .clone()
                .unwrap_or_else(|| Reply::Json(200, json!({ "keys": s.jwks }))),
            "token" => {
                s.token_form = parse_query(&String::from_utf8_lossy(&body));
                s.token_auth = auth;
                s.token.clone()
            }
            "userinfo" => {
                s.userinfo_auth = auth;
                s.userinfo.clone()
            }
            _ => Reply::Json(404, json!({"error": "not_found"})),
        }
    };
    Ok(reply(answer).await)
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn form(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

async fn exchange(
    client: &OidcClient,
) -> Result<drop_shared::providers::bankid::BankIdIdentity, OidcError> {
    client
        .exchange_code("the-code", &Secret::new("the-verifier".to_owned()), NONCE)
        .await
}

fn id_token_problem(
    result: Result<drop_shared::providers::bankid::BankIdIdentity, OidcError>,
) -> JwtProblem {
    match result {
        Err(OidcError::InvalidIdToken(p)) => {
            assert_eq!(
                client_sees(OidcError::InvalidIdToken(p)),
                (401, "login_failed", Some("invalid_id_token".to_owned()))
            );
            p
        }
        other => panic!("expected InvalidIdToken, got {other:?}"),
    }
}

/// What a client is answered for a sign-in that failed with `err`: the status, the stable
/// error code and the code of its first detail.
fn client_sees(err: OidcError) -> (u16, &'static str, Option<String>) {
    let api = drop_shared::ApiError::from(err);
    let body = api.body();
    (
        api.status().as_u16(),
        body.error,
        body.details.first().map(|d| d.code.clone()),
    )
}

/// A sign-in the user must restart: 401 `login_failed`, with `reason` in the details.
fn login_failed(reason: &str) -> (u16, &'static str, Option<String>) {
    (401, "login_failed", Some(reason.to_owned()))
}

/// In a module so that `cargo test oidc` (and `cargo xtask test -- oidc`) selects them.
mod oidc {
    use super::*;

    // ---------------------------------------------------------------------------------------------
    // the authorization request
    // ---------------------------------------------------------------------------------------------

    #[tokio::test]
    async fn authorization_request_carries_pkce_s256_bankid_scopes_and_fresh_randomness() {
        let fake = Fake::start().await;
        let client = fake.client();
        let a = client.authorization_request().await.unwrap();
        let b = client.authorization_request().await.unwrap();

        let (endpoint, query) = a.url.split_once('?').unwrap();
        assert_eq!(endpoint, format!("{}/auth", fake.issuer));
        let q = parse_query(query);
        let get = |n: &str| form(&q, n).unwrap_or_else(|| panic!("{n} missing from {}", a.url));
        assert_eq!(get("response_type"), "code");
        assert_eq!(get("client_id"), CLIENT_ID);
        assert_eq!(get("redirect_uri"), REDIRECT_URI);
        assert_eq!(get("scope"), SCOPE);
        assert_eq!(get("scope"), "openid profile nnin_altsub");
        assert_eq!(get("acr_values"), "urn:bankid:bid");
        assert_eq!(get("state"), a.state);
        assert_eq!(get("nonce"), a.nonce);
        assert_eq!(get("code_challenge_method"), "S256");
        assert_eq!(
            get("code_challenge"),
            URL_SAFE_NO_PAD.encode(Sha256::digest(a.pkce_verifier.expose().as_bytes()))
        );
        // Properly encoded: the redirect URI's reserved characters are escaped.
        assert!(a
            .url
            .contains("redirect_uri=https%3A%2F%2Fdrop.example%2Fv1%2Fauth%2Fbankid%2Fcallback"));
        assert!(a.url.contains("scope=openid%20profile%20nnin_altsub"));
        for token in [&a.state, &a.nonce, a.pkce_verifier.expose()] {
            assert!(token.len() >= 43, "at least 32 random bytes, base64url");
        }
        assert_ne!(a.state, b.state);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.pkce_verifier.expose(), b.pkce_verifier.expose());
        assert!(!format!("{a:?}").contains(a.pkce_verifier.expose().as_str()));
        // Discovery is fetched once and cached.
        assert_eq!(fake.count("discovery"), 1);
    }

    #[tokio::test]
    async fn callback_issuer_is_checked_as_rfc_9207_says() {
        let fake = Fake::start().await;
        let client = fake.client();
        client
            .check_response_issuer(Some(&fake.issuer))
            .await
            .unwrap();
        let err = client
            .check_response_issuer(Some("http://evil.example"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, OidcError::InvalidAuthorizationResponse("wrong iss")),
            "{err:?}"
        );
        assert_eq!(client_sees(err), login_failed("invalid_callback"));
        // The fake's discovery says it sends iss, so a missing one is refused.
        assert!(matches!(
            client.check_response_issuer(None).await,
            Err(OidcError::InvalidAuthorizationResponse("no iss"))
        ));
        let r = AuthorizationResponse::from_query(&format!(
            "code=c&state=s&iss={}",
            fake.issuer.replace(':', "%3A").replace('/', "%2F")
        ))
        .unwrap();
        assert_eq!(r.iss.as_deref(), Some(fake.issuer.as_str()));
    }

    #[tokio::test]
    async fn discovery_must_name_the_configured_issuer_exactly() {
        let fake = Fake::start().await;
        fake.with(|s| s.discovery_issuer = Some(format!("{}/", fake.issuer)));
        let err = fake.client().authorization_request().await.unwrap_err();
        assert!(
            matches!(
                err,
                OidcError::BadProviderResponse {
                    endpoint: "discovery",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    // ---------------------------------------------------------------------------------------------
    // the code exchange and the ID token
    // ---------------------------------------------------------------------------------------------

    #[tokio::test]
    async fn happy_path_gives_the_identity_from_the_id_token() {
        let fake = Fake::start().await;
        fake.answer_id_token(sign(&keys()[0], &fake.claims()));
        let client = fake.client();
        let verifier = Secret::new("verifier-0123456789-0123456789-0123456789".to_owned());
        let id = client
            .exchange_code("code/with+odd=chars", &verifier, NONCE)
            .await
            .unwrap();

        assert_eq!(id.altsub, "altsub-adult");
        assert_eq!(id.fnr.expose(), ADULT_FNR);
        assert_eq!(id.fnr.kind(), FodselsnummerKind::Fnr);
        assert_eq!(id.birth_date.to_string(), "1986-10-15");
        assert_eq!(id.given_name, "Kari");
        assert_eq!(id.family_name, "Nordmann");
        let debug = format!("{id:?}");
        assert!(debug.contains("altsub-adult"));
        for personal in [ADULT_FNR, "Kari", "Nordmann", "1986"] {
            assert!(!debug.contains(personal), "{personal} in {debug}");
        }

        // What reached the token endpoint.
        let (form_pairs, auth) = fake.with(|s| (s.token_form.clone(), s.token_auth.clone()));
        assert_eq!(
            form(&form_pairs, "grant_type").as_deref(),
            Some("authorization_code")
        );
        assert_eq!(
            form(&form_pairs, "code").as_deref(),
            Some("code/with+odd=chars")
        );
        assert_eq!(
            form(&form_pairs, "redirect_uri").as_deref(),
            Some(REDIRECT_URI)
        );
        assert_eq!(
            form(&form_pairs, "code_verifier").as_deref(),
            Some(verifier.expose().as_str())
        );
        assert_eq!(
            form(&form_pairs, "client_secret"),
            None,
            "secret only in Basic"
        );
        let basic = auth.unwrap();
        let decoded = String::from_utf8(
            STANDARD
                .decode(basic.strip_prefix("Basic ").unwrap())
                .unwrap(),
        )
        .unwrap();
        let (id_part, secret_part) = decoded.split_once(':').unwrap();
        assert!(!secret_part.contains(':'), "the secret's ':' is encoded");
        assert_eq!(
            parse_query(&format!("i={id_part}&s={secret_part}")),
            vec![
                ("i".to_owned(), CLIENT_ID.to_owned()),
                ("s".to_owned(), CLIENT_SECRET.to_owned()),
            ]
        );
        assert_eq!(fake.count("userinfo"), 0, "every claim was in the ID token");
        assert_eq!(fake.count("jwks"), 1);

        // A second sign-in uses the cached discovery and keys.
        exchange(&client).await.unwrap();
        assert_eq!(fake.count("discovery"), 1);
        assert_eq!(fake.count("jwks"), 1);
    }

    #[tokio::test]
    async fn alg_none_is_refused_before_any_key_lookup() {
        let fake = Fake::start().await;
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"k1"}"#);
        let payload = URL_SAFE_NO_PAD.encode(fake.claims().to_string());
        fake.answer_id_token(format!("{header}.{payload}."));
        let client = fake.client();
        assert_eq!(
            id_token_problem(exchange(&client).await),
            JwtProblem::Algorithm
        );
        assert_eq!(fake.count("jwks"), 0);
        assert_eq!(client.jwks_fetches().await, 0);
    }

    #[tokio::test]
    async fn hs256_signed_with_the_client_secret_is_refused() {
        let fake = Fake::start().await;
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".to_owned());
        let token = jsonwebtoken::encode(
            &header,
            &fake.claims(),
            &EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
        )
        .unwrap();
        fake.answer_id_token(token);
        assert_eq!(
            id_token_problem(exchange(&fake.client()).await),
            JwtProblem::Algorithm
        );
        assert_eq!(fake.count("jwks"), 0);
    }

    #[tokio::test]
    async fn a_signature_by_another_key_is_refused() {
        let fake = Fake::start().await;
        // Claims to be k1 (published) but signed with k2 (not published).
        fake.answer_id_token(sign_with_kid(&keys()[1], "k1", &fake.claims()));
        assert_eq!(
            id_token_problem(exchange(&fake.client()).await),
            JwtProblem::Signature
        );

        // A tampered payload under a genuine signature.
        let token = sign(&keys()[0], &fake.claims());
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut claims = fake.claims();
        claims["nnin_altsub"] = json!("17051050037");
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        fake.answer_id_token(parts.join("."));
        assert_eq!(
            id_token_problem(exchange(&fake.client()).await),
            JwtProblem::Signature
        );
    }

    #[tokio::test]
    async fn an_unknown_kid_causes_exactly_one_rate_limited_jwks_refetch() {
        let fake = Fake::start().await;
        let client = fake.client(); // default re-fetch interval: 30 s
        fake.answer_id_token(sign(&keys()[0], &fake.claims()));
        exchange(&client).await.unwrap();
        assert_eq!(fake.count("jwks"), 1);

        fake.answer_id_token(sign_with_kid(&keys()[2], "forged", &fake.claims()));
        assert_eq!(
            id_token_problem(exchange(&client).await),
            JwtProblem::UnknownKey
        );
        assert_eq!(fake.count("jwks"), 2, "one re-fetch for the unknown kid");

        // Within the interval, more forged kids cost the provider nothing.
        for kid in ["forged", "forged-2", "forged-3"] {
            fake.answer_id_token(sign_with_kid(&keys()[2], kid, &fake.claims()));
            assert_eq!(
                id_token_problem(exchange(&client).await),
                JwtProblem::UnknownKey
            );
        }
        assert_eq!(fake.count("jwks"), 2);
        assert_eq!(client.jwks_fetches().await, 2);

        // Known keys keep working meanwhile.
        fake.answer_id_token(sign(&keys()[0], &fake.claims()));
        exchange(&client).await.unwrap();
        assert_eq!(fake.count("jwks"), 2);
    }

    #[tokio::test]
    async fn a_rotated_key_is_found_by_the_refetch() {
        let fake = Fake::start().await;
        let client = fake.client();
        fake.answer_id_token(sign(&keys()[0], &fake.claims()));
        exchange(&client).await.unwrap();

        fake.with(|s| s.jwks = vec![keys()[0].jwk.clone(), keys()[1].jwk.clone()]);
        fake.answer_id_token(sign(&keys()[1], &fake.claims()));
        let id = exchange(&client).await.unwrap();
        assert_eq!(id.altsub, "altsub-adult");
        assert_eq!(fake.count("jwks"), 2);
    }

    #[tokio::test]
    async fn the_jwks_is_refreshed_after_its_max_age_so_withdrawn_keys_stop_working() {
        let fake = Fake::start().await;
        let client = fake.client().with_jwks_max_age(Duration::from_millis(50));
        fake.answer_id_token(sign(&keys()[0], &fake.claims()));
        exchange(&client).await.unwrap();

        fake.with(|s| s.jwks = vec![keys()[1].jwk.clone()]);
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(
            id_token_problem(exchange(&client).await),
            JwtProblem::UnknownKey
        );
        assert_eq!(fake.count("jwks"), 2);
    }

    #[tokio::test]
    async fn time_claims_are_checked() {
        let fake = Fake::start().await;
        let client = fake.client();

        let mut c = fake.claims();
        c["exp"] = json!(now() - 3600);
        c["iat"] = json!(now() - 3900);
        fake.answer_id_token(sign(&keys()[0], &c));
        assert_eq!(
            id_token_problem(exchange(&client).await),
            JwtProblem::Expired
        );

        let mut c = fake.claims();
        c.as_object_mut().unwrap().remove("exp");
        fake.answer_id_token(sign(&keys()[0], &c));
        assert_eq!(
            id_token_problem(exchange(&client).await),
            JwtProblem::Expired
        );

        let mut c = fake.claims();
        c["iat"] = json!(now() + 600);
        fake.answer_id_token(sign(&keys()[0], &c));
        assert_eq!(
            id_token_problem(exchange(&client).await),
            JwtProblem::IssuedAt
        );

        let mut c = fake.claims();
        c.as_object_mut().unwrap().remove("iat");
        fake.answer_id_token(sign(&keys()[0], &c));
        assert_eq!(
            id_token_problem(exchange(&client).await),
            JwtProblem::IssuedAt
        );

        // Within the 60 s leeway is fine.
        let mut c = fake.claims();
        c["iat"] = json!(now() + 30);
        fake.answer_id_token(sign(&keys()[0], &c));
        exchange(&client).await.unwrap();
    }

    #[tokio::test]
    async fn audience_and_authorized_party_are_checked() {
        let fake = Fake::start().await;
        let client = fake.client();

        let mut c = fake.claims();
        c["aud"] = json!("another-client");
        fake.answer_id_token(sign(&keys()[0], &c));
        assert_eq!(
            id_token_problem(exchange(&client).await),
            JwtProblem::Audience
        );

        let mut c = fake.claims();
        c.as_object_mut().unwrap().remove("aud");
        fake.answer_id_token(sign(&keys()[0], &c));
        assert_eq!(
            id_token_problem(exchange(&client).await),
            JwtProblem::Audience
        );

        // Several audiences: azp must be there and be us.
        let mut c = fake.claims();
        c["aud"] = json!([CLIENT_ID, "another-client"]);
        fake.answer_id_token(sign(&keys()[0], &c));
        assert_eq!(
            id_token_problem(exchange(&client).await),
            JwtProblem::AuthorizedParty
        );
        c["azp"] = json!("another-client");
        fake.answer_id_token(sign(&keys()[0], &c));
        assert_eq!(
            id_token_problem(exchange(&client).await),
            JwtProblem::AuthorizedParty
        );
        c["azp"] = json!(CLIENT_ID);
        fake.answer_id_token(sign(&keys()[0], &c));
        exchange(&client).await.unwrap();
    }

    #[tokio::test]
    async fn issuer_must_match() {
        let fake = Fake::start().await;
        let mut c = fake.claims();
        c["iss"] = json!("https://evil.example");
        fake.answer_id_token(sign(&keys()[0], &c));
        assert_eq!(
            id_token_problem(exchange(&fake.client()).await),
            JwtProblem::Issuer
        );

        c.as_object_mut().unwrap().remove("iss");
        fake.answer_id_token(sign(&keys()[0], &c));
        assert_eq!(
            id_token_problem(exchange(&fake.client()).await),
            JwtProblem::Issuer
        );
    }

    #[tokio::test]
    async fn nonce_must_be_the_one_we_sent() {
        let fake = Fake::start().await;
        let mut c = fake.claims();
        c["nonce"] = json!("someone-elses-nonce");
        fake.answer_id_token(sign(&keys()[0], &c));
        assert_eq!(
            id_token_problem(exchange(&fake.client()).await),
            JwtProblem::Nonce
        );

        c.as_object_mut().unwrap().remove("nonce");
        fake.answer_id_token(sign(&keys()[0], &c));
        assert_eq!(
            id_token_problem(exchange(&fake.client()).await),
            JwtProblem::Nonce
        );
    }

    #[tokio::test]
    async fn a_missing_altsub_is_an_error_even_after_userinfo() {
        let fake = Fake::start().await;
        let mut c = fake.claims();
        c.as_object_mut().unwrap().remove("bankid_altsub");
        fake.answer_id_token(sign(&keys()[0], &c));
        fake.with(|s| {
            s.userinfo = Reply::Json(200, json!({"sub": "sub-adult", "given_name": "Kari"}))
        });
        let err = exchange(&fake.client()).await.unwrap_err();
        assert!(
            matches!(err, OidcError::MissingClaim("bankid_altsub")),
            "{err:?}"
        );
        assert_eq!(client_sees(err), login_failed("missing_claim"));
        assert_eq!(fake.count("userinfo"), 1);
    }

    #[tokio::test]
    async fn an_invalid_national_id_is_its_own_error() {
        let fake = Fake::start().await;
        let mut c = fake.claims();
        c["nnin_altsub"] = json!("12345678901");
        fake.answer_id_token(sign(&keys()[0], &c));
        let err = exchange(&fake.client()).await.unwrap_err();
        assert!(matches!(err, OidcError::InvalidNationalId(_)), "{err:?}");
        assert!(!format!("{err} {err:?}").contains("12345678901"));
        assert_eq!(client_sees(err), login_failed("invalid_national_id"));

        let mut c = fake.claims();
        c["nnin_altsub"] = json!(15108695088u64);
        fake.answer_id_token(sign(&keys()[0], &c));
        let err = exchange(&fake.client()).await.unwrap_err();
        assert!(
            matches!(err, OidcError::InvalidClaim("nnin_altsub")),
            "{err:?}"
        );
        assert_eq!(client_sees(err), login_failed("invalid_claim"));

        let mut c = fake.claims();
        c["birthdate"] = json!("15.10.1986");
        fake.answer_id_token(sign(&keys()[0], &c));
        let err = exchange(&fake.client()).await.unwrap_err();
        assert!(
            matches!(err, OidcError::InvalidClaim("birthdate")),
            "{err:?}"
        );
        assert_eq!(client_sees(err), login_failed("invalid_claim"));
    }

    #[tokio::test]
    async fn d_numbers_and_synthetic_numbers_are_accepted() {
        let fake = Fake::start().await;
        for (fnr, kind, birthdate) in [
            ("41018510187", FodselsnummerKind::DNumber, "1985-01-01"),
            ("12839010182", FodselsnummerKind::Synthetic, "1990-03-12"),
        ] {
            let mut c = fake.claims();
            c["nnin_altsub"] = json!(fnr);
            c["birthdate"] = json!(birthdate);
            fake.answer_id_token(sign(&keys()[0], &c));
            let id = exchange(&fake.client()).await.unwrap();
            assert_eq!(id.fnr.kind(), kind);
            assert_eq!(id.birth_date.to_string(), birthdate);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // userinfo
    // ---------------------------------------------------------------------------------------------

    #[tokio::test]
    async fn userinfo_as_a_signed_jwt_fills_in_the_claims() {
        let fake = Fake::start().await;
        fake.answer_id_token(sign(&keys()[0], &fake.bare_claims()));
        let jwt = sign(&keys()[0], &fake.userinfo_claims());
        fake.with(|s| s.userinfo = Reply::Typed(200, "application/jwt; charset=utf-8", jwt));
        let id = exchange(&fake.client()).await.unwrap();
        assert_eq!(id.altsub, "altsub-adult");
        assert_eq!(id.fnr.expose(), ADULT_FNR);
        assert_eq!(id.given_name, "Kari");
        assert_eq!(id.family_name, "Nordmann");
        assert_eq!(id.birth_date.to_string(), "1986-10-15");
        assert_eq!(
            fake.with(|s| s.userinfo_auth.clone()).as_deref(),
            Some("Bearer at-secret-value")
        );
    }

    #[tokio::test]
    async fn userinfo_jwt_is_verified_like_an_id_token() {
        let fake = Fake::start().await;
        let client = fake.client();
        fake.answer_id_token(sign(&keys()[0], &fake.bare_claims()));
        let check = |claims: Value, key: &TestKey, want: JwtProblem| {
            let jwt = sign(key, &claims);
            fake.with(|s| s.userinfo = Reply::Typed(200, "application/jwt", jwt));
            let client = client.clone();
            async move {
                match exchange(&client).await {
                    Err(OidcError::InvalidUserinfo(p)) => assert_eq!(p, want),
                    other => panic!("expected InvalidUserinfo({want:?}), got {other:?}"),
                }
            }
        };
        let mut c = fake.userinfo_claims();
        c["aud"] = json!("another-client");
        check(c, &keys()[0], JwtProblem::Audience).await;
        let mut c = fake.userinfo_claims();
        c["iss"] = json!("https://evil.example");
        check(c, &keys()[0], JwtProblem::Issuer).await;
        let mut c = fake.userinfo_claims();
        c["sub"] = json!("someone-else");
        check(c, &keys()[0], JwtProblem::Subject).await;
        check(fake.userinfo_claims(), &keys()[2], JwtProblem::UnknownKey).await;

        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
        let payload = URL_SAFE_NO_PAD.encode(fake.userinfo_claims().to_string());
        fake.with(|s| {
            s.userinfo = Reply::Typed(200, "application/jwt", format!("{header}.{payload}."))
        });
        assert!(matches!(
            exchange(&client).await,
            Err(OidcError::InvalidUserinfo(JwtProblem::Algorithm))
        ));
    }

    #[tokio::test]
    async fn userinfo_as_plain_json_is_accepted() {
        let fake = Fake::start().await;
        fake.answer_id_token(sign(&keys()[0], &fake.bare_claims()));
        fake.with(|s| {
            s.userinfo = Reply::Json(
                200,
                json!({
                    "sub": "sub-adult",
                    "nnin_altsub": ADULT_FNR,
                    "given_name": "Kari",
                    "family_name": "Nordmann",
                }),
            )
        });
        let id = exchange(&fake.client()).await.unwrap();
        assert_eq!(id.fnr.expose(), ADULT_FNR);
        // No birthdate anywhere: the fødselsnummer's date.
        assert_eq!(id.birth_date.to_string(), "1986-10-15");

        // A different subject in userinfo is refused.
        fake.with(|s| {
            s.userinfo = Reply::Json(200, json!({"sub": "other", "nnin_altsub": ADULT_FNR}))
        });
        assert!(matches!(
            exchange(&fake.client()).await,
            Err(OidcError::InvalidUserinfo(JwtProblem::Subject))
        ));

        // Neither JWT nor JSON.
        fake.with(|s| s.userinfo = Reply::Typed(200, "text/html", "<html>".to_owned()));
        assert!(matches!(
            exchange(&fake.client()).await,
            Err(OidcError::BadProviderResponse {
                endpoint: "userinfo",
                ..
            })
        ));
    }

    // ---------------------------------------------------------------------------------------------
    // failures of the provider
    // ---------------------------------------------------------------------------------------------

    #[tokio::test]
    async fn a_4xx_from_the_token_endpoint_is_token_rejected_without_retry() {
        let fake = Fake::start().await;
        fake.with(|s| {
            s.token = Reply::Json(
                400,
                json!({"error": "invalid_grant", "error_description": "grant request is invalid"}),
            )
        });
        let err = exchange(&fake.client()).await.unwrap_err();
        assert!(
            matches!(&err, OidcError::TokenRejected { error } if error == "invalid_grant"),
            "{err:?}"
        );
        assert_eq!(client_sees(err), login_failed("code_rejected"));
        assert_eq!(fake.count("token"), 1, "a 4xx is an answer, not retried");

        // Our client credentials refused: our fault, not the user's.
        fake.with(|s| s.token = Reply::Json(401, json!({"error": "invalid_client"})));
        let err = exchange(&fake.client()).await.unwrap_err();
        assert!(matches!(err, OidcError::ClientRejected { .. }), "{err:?}");
        assert_eq!(client_sees(err), (500, "internal_error", None));
    }

    #[tokio::test]
    async fn a_token_endpoint_5xx_is_retried_three_times_then_provider_unavailable() {
        let fake = Fake::start().await;
        fake.with(|s| s.token = Reply::Json(503, json!({"error": "temporarily_unavailable"})));
        let err = exchange(&fake.client()).await.unwrap_err();
        match &err {
            OidcError::Provider(OutboundError::Status { status, .. }) => {
                assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
            }
            other => panic!("expected Provider(Status), got {other:?}"),
        }
        let printed = format!("{err} {err:?} {}", log_chain(&err));
        assert!(!printed.contains("temporarily_unavailable"), "{printed}");
        assert_eq!(client_sees(err), (503, "provider_unavailable", None));
        assert_eq!(fake.count("token"), 4, "first attempt and three retries");
    }

    #[tokio::test]
    async fn a_closed_token_port_is_provider_unavailable_after_retries() {
        let fake = Fake::start().await;
        let port = closed_port();
        fake.with(|s| s.token_endpoint = Some(format!("http://127.0.0.1:{port}/token")));
        let started = Instant::now();
        let err = exchange(&fake.client()).await.unwrap_err();
        assert!(
            matches!(err, OidcError::Provider(OutboundError::Connect { .. })),
            "{err:?}"
        );
        // Backoff 5 + 10 + 20 ms in the test policy.
        assert!(started.elapsed() >= Duration::from_millis(35));
        let text = format!("{err} {err:?}");
        assert!(!text.contains(CLIENT_SECRET) && !text.contains("the-code"));
    }

    #[tokio::test]
    async fn a_provider_that_is_down_is_provider_unavailable() {
        let port = closed_port();
        let client = OidcClient::new(
            format!("http://127.0.0.1:{port}"),
            CLIENT_ID.to_owned(),
            Secret::new(CLIENT_SECRET.to_owned()),
            REDIRECT_URI.to_owned(),
        )
        .with_retry_policy(fast_policy());
        assert!(matches!(
            client.authorization_request().await,
            Err(OidcError::Provider(OutboundError::Connect { .. }))
        ));
    }

    #[tokio::test]
    async fn a_slow_provider_times_out_and_is_retried() {
        let fake = Fake::start().await;
        fake.with(|s| s.token = Reply::Slow(Duration::from_secs(5)));
        let client = fake.client().with_retry_policy(RetryPolicy {
            timeout: Duration::from_millis(100),
            max_retries: 1,
            ..fast_policy()
        });
        let err = exchange(&client).await.unwrap_err();
        assert!(
            matches!(err, OidcError::Provider(OutboundError::Timeout { .. })),
            "{err:?}"
        );
        assert_eq!(fake.count("token"), 2);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused() {
        for declared in [true, false] {
            let fake = Fake::start().await;
            fake.answer_id_token(sign(&keys()[0], &fake.claims()));
            fake.with(|s| {
                s.jwks_reply = Some(Reply::Huge {
                    bytes: DEFAULT_MAX_BODY_BYTES + 64 * 1024,
                    declared,
                })
            });
            let err = exchange(&fake.client()).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    OidcError::Provider(OutboundError::BodyTooLarge { limit, .. }) if limit == DEFAULT_MAX_BODY_BYTES
                ),
                "declared={declared}: {err:?}"
            );
            assert_eq!(fake.count("jwks"), 1, "an oversized body is not retried");
        }
    }

    #[tokio::test]
    async fn outbound_returns_4xx_answers_and_retries_only_5xx() {
        let fake = Fake::start().await;
        let uri = format!("{}/nowhere", fake.issuer);
        let policy = fast_policy();
        let response = outbound::send_with_retry(
            || Request::builder().uri(uri.as_str()).body(Bytes::new()),
            &policy,
        )
        .await
        .unwrap();
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        assert_eq!(response.media_type().as_deref(), Some("application/json"));
        assert_eq!(fake.count("other"), 1);
    }
}
