//! OpenID Connect relying party for BankID (authorization code flow with PKCE).
//!
//! The flow, as the auth functions use it:
//!
//! 1. [`OidcClient::authorization_request`] gives the URL to send the browser to, with fresh
//!    `state`, `nonce` and PKCE verifier (the caller stores all three, keyed by `state`).
//! 2. The provider redirects back with `code` and `state` ([`AuthorizationResponse::from_query`],
//!    [`OidcClient::check_response_issuer`]).
//! 3. [`OidcClient::exchange_code`] redeems the code at the token endpoint
//!    (`client_secret_basic`), verifies the ID token (RS256 only, `iss`, `aud`/`azp`, `exp`,
//!    `iat`, `nonce`), fetches userinfo when the ID token lacks claims (BankID answers userinfo
//!    as a signed JWT, verified the same way), and returns a [`BankIdIdentity`].
//!
//! BankID specifics: PKCE S256 is mandatory; `acr_values=urn:bankid:bid`; the stable user key
//! is `bankid_altsub`, never `sub`; the fødselsnummer comes in `nnin_altsub` (scope
//! `nnin_altsub`).
//!
//! The discovery document is fetched on first use and cached for the instance; its `issuer` must
//! equal the configured issuer exactly. Signing keys (JWKS) are cached too: a token signed with a
//! key id we do not know triggers one re-fetch, at most once per
//! [`DEFAULT_JWKS_REFETCH_INTERVAL`], so forged key ids cannot make us hammer the provider; the
//! whole set is refreshed after [`DEFAULT_JWKS_MAX_AGE`] so a withdrawn key stops being trusted.
//!
//! Nothing here logs or puts into an error a token, a code, a verifier, a client secret, a name
//! or a fødselsnummer.

use crate::domain::ids::{Fodselsnummer, FodselsnummerError};
use crate::providers::outbound::{self, OutboundError, OutboundResponse, RetryPolicy};
use crate::secret::Secret;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::Bytes;
use http::{header, Method, Request, StatusCode, Uri};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::{Date, OffsetDateTime};

/// The scopes Drop asks BankID for.
pub const SCOPE: &str = "openid profile nnin_altsub";
/// BankID's level of assurance "high".
pub const ACR_VALUES: &str = "urn:bankid:bid";
/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECONDS: u64 = 60;
/// Least time between two JWKS re-fetches triggered by an unknown key id.
pub const DEFAULT_JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Age after which the cached JWKS is fetched again before use.
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
/// Longest authorization code, state or error code accepted from a callback.
const MAX_PARAM_LEN: usize = 2048;

/// What is wrong with a signed JWT (an ID token or a userinfo response).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtProblem {
    /// Not a compact JWS with a JSON header and claims, or a claim has the wrong type.
    Malformed,
    /// `alg` is not RS256 (`none`, HS256, ...); refused before any key is looked up.
    Algorithm,
    /// No key of the provider's JWKS has the token's `kid` (after the one allowed re-fetch).
    UnknownKey,
    /// The key exists but cannot verify RS256 signatures.
    UnusableKey,
    /// The signature does not verify.
    Signature,
    /// `iss` missing or not the configured issuer.
    Issuer,
    /// `aud` missing or not containing our client id.
    Audience,
    /// `azp` missing with several audiences, or not our client id.
    AuthorizedParty,
    /// `exp` missing or past (beyond the leeway).
    Expired,
    /// `nbf` in the future (beyond the leeway).
    NotYetValid,
    /// `iat` missing, or in the future beyond the leeway.
    IssuedAt,
    /// `nonce` missing or not the one we sent.
    Nonce,
    /// `sub` missing, or userinfo's `sub` differs from the ID token's.
    Subject,
}

impl fmt::Display for JwtProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "malformed token",
            Self::Algorithm => "signing algorithm is not RS256",
            Self::UnknownKey => "unknown signing key (kid)",
            Self::UnusableKey => "signing key is not an RS256 key",
            Self::Signature => "signature does not verify",
            Self::Issuer => "wrong or missing iss",
            Self::Audience => "wrong or missing aud",
            Self::AuthorizedParty => "wrong or missing azp",
            Self::Expired => "expired or missing exp",
            Self::NotYetValid => "not valid yet (nbf)",
            Self::IssuedAt => "iat missing or in the future",
            Self::Nonce => "wrong or missing nonce",
            Self::Subject => "wrong or missing sub",
        })
    }
}

/// Why signing in with the provider failed.
///
/// Suggested mapping: `Provider` and `BadProviderResponse` → 503 `provider_unavailable`;
/// `ClientRejected` and `Random` → 500 (our configuration or machine); everything else → a 4xx
/// (the sign-in attempt is not valid and the user starts again).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached, timed out, answered 5xx after the retries, or sent
    /// more than the body limit; or discovery/JWKS answered with an error status.
    #[error("the OpenID provider is unavailable")]
    Provider(#[source] OutboundError),
    /// The provider answered, but not with what the protocol requires.
    #[error("the OpenID provider's {endpoint} response is not valid: {reason}")]
    BadProviderResponse {
        endpoint: &'static str,
        reason: &'static str,
    },
    /// The token endpoint refused the code (4xx: reused, expired, PKCE mismatch, ...).
    #[error("the token endpoint rejected the authorization code ({error})")]
    TokenRejected { error: String },
    /// The token endpoint refused our client credentials (`invalid_client`, 401).
    #[error("the token endpoint rejected the client credentials ({error})")]
    ClientRejected { error: String },
    #[error("invalid ID token: {0}")]
    InvalidIdToken(JwtProblem),
    #[error("invalid userinfo response: {0}")]
    InvalidUserinfo(JwtProblem),
    /// A claim the identity needs is in neither the ID token nor userinfo.
    #[error("the provider did not send the claim {0}")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or format.
    #[error("the claim {0} is not valid")]
    InvalidClaim(&'static str),
    /// `nnin_altsub` is not a valid fødselsnummer or D-number.
    #[error("nnin_altsub is not a valid national identity number")]
    InvalidNationalId(#[source] FodselsnummerError),
    /// The provider redirected back with an `error` (e.g. `access_denied`).
    #[error("the provider ended the authorization with {error}")]
    AuthorizationFailed { error: String },
    /// The callback's query is not a valid authorization response, or its `iss` is wrong.
    #[error("invalid authorization response: {0}")]
    InvalidAuthorizationResponse(&'static str),
    /// The ID token's `acr` is not the level Drop asked for (a user who edits the authorize
    /// URL may have signed in at a lower one).
    #[error("the ID token's acr is not the required level")]
    InsufficientAssurance,
    #[error("the random number generator failed")]
    Random,
}

/// Where to send the browser, and what to keep until the callback (keyed by `state`).
#[derive(Clone)]
pub struct AuthorizationRequest {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: Secret<String>,
}

impl fmt::Debug for AuthorizationRequest {
    /// Nothing that binds the login: `state`, `nonce` and the verifier (and the URL, which
    /// carries the first two) are shown as present only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field("url", &"***")
            .field("state", &"***")
            .field("nonce", &"***")
            .field("pkce_verifier", &self.pkce_verifier)
            .finish()
    }
}

/// The parameters of the provider's redirect to our callback.
#[derive(Clone)]
pub struct AuthorizationResponse {
    pub code: Secret<String>,
    pub state: String,
    /// RFC 9207 `iss`, if the provider sent one; see [`OidcClient::check_response_issuer`].
    pub iss: Option<String>,
}

impl fmt::Debug for AuthorizationResponse {
    /// The code and `state` are shown as present only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationResponse")
            .field("code", &self.code)
            .field("state", &"***")
            .field("iss", &self.iss)
            .finish()
    }
}

impl AuthorizationResponse {
    /// Parses the callback's query string (without the `?`). An `error` parameter gives
    /// [`OidcError::AuthorizationFailed`]; a missing, repeated or oversized `code` or `state`
    /// gives [`OidcError::InvalidAuthorizationResponse`].
    pub fn from_query(query: &str) -> Result<Self, OidcError> {
        let pairs = parse_query(query);
        let one = |name: &'static str| -> Result<Option<String>, OidcError> {
            let mut values = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
            let first = values.next().cloned();
            if values.next().is_some() {
                return Err(OidcError::InvalidAuthorizationResponse(
                    "repeated parameter",
                ));
            }
            if first.as_ref().is_some_and(|v| v.len() > MAX_PARAM_LEN) {
                return Err(OidcError::InvalidAuthorizationResponse(
                    "oversized parameter",
                ));
            }
            Ok(first.filter(|v| !v.is_empty()))
        };
        if let Some(error) = one("error")? {
            return Err(OidcError::AuthorizationFailed {
                error: oauth_error_code(&error),
            });
        }
        let code = one("code")?.ok_or(OidcError::InvalidAuthorizationResponse("no code"))?;
        let state = one("state")?.ok_or(OidcError::InvalidAuthorizationResponse("no state"))?;
        Ok(Self {
            code: Secret::new(code),
            state,
            iss: one("iss")?,
        })
    }
}

/// A person as BankID identified them.
#[derive(Clone, PartialEq, Eq)]
pub struct BankIdIdentity {
    /// The assurance level signed in at (`acr`): always [`ACR_VALUES`] once verified.
    pub acr: String,
    /// When the person authenticated at BankID (`auth_time`, else the ID token's `iat`).
    pub auth_time: OffsetDateTime,
    /// `bankid_altsub`: the stable key of the user at BankID.
    pub altsub: String,
    /// From `nnin_altsub`.
    pub fnr: Fodselsnummer,
    /// `birthdate`, or the fødselsnummer's date when the provider sends none.
    pub birth_date: Date,
    pub given_name: String,
    pub family_name: String,
}

impl fmt::Debug for BankIdIdentity {
    /// Only the pseudonymous `altsub`: the rest is personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BankIdIdentity")
            .field("altsub", &self.altsub)
            .field("fnr", &self.fnr)
            .field("birth_date", &"****-**-**")
            .field("given_name", &"***")
            .field("family_name", &"***")
            .finish()
    }
}

/// The parts of the discovery document Drop uses.
#[derive(Debug, Clone)]
struct Discovery {
    authorization_endpoint: String,
    token_endpoint: Uri,
    jwks_uri: Uri,
    userinfo_endpoint: Option<Uri>,
    iss_parameter_supported: bool,
}

#[derive(Default)]
struct JwksCache {
    keys: Vec<(Option<String>, DecodingKey)>,
    fetched_at: Option<Instant>,
    last_refetch: Option<Instant>,
    /// JWKS fetches made, for tests and metrics.
    fetches: u64,
}

impl JwksCache {
    fn find(&self, kid: Option<&str>) -> Option<DecodingKey> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|(k, _)| k.as_deref() == Some(kid))
                .map(|(_, key)| key.clone()),
            // No kid in the token: acceptable only when the choice is unambiguous.
            None => match self.keys.as_slice() {
                [(_, key)] => Some(key.clone()),
                _ => None,
            },
        }
    }
}

#[derive(Default)]
struct Cache {
    discovery: tokio::sync::OnceCell<Discovery>,
    jwks: tokio::sync::Mutex<JwksCache>,
}

/// A relying-party client for one OpenID provider and one registered client. Cloning shares
/// the discovery and JWKS caches.
#[derive(Clone)]
pub struct OidcClient {
    issuer: String,
    client_id: String,
    client_secret: Secret<String>,
    redirect_uri: String,
    policy: RetryPolicy,
    jwks_refetch_interval: Duration,
    jwks_max_age: Duration,
    cache: Arc<Cache>,
}

impl fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcClient")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// The verified claims of a JWT, as JSON.
type Claims = Map<String, Value>;

impl OidcClient {
    /// A client for `issuer` (exactly as the provider's discovery document spells it). Nothing
    /// is fetched until first use.
    pub fn new(
        issuer: String,
        client_id: String,
        client_secret: Secret<String>,
        redirect_uri: String,
    ) -> Self {
        Self {
            issuer,
            client_id,
            client_secret,
            redirect_uri,
            policy: RetryPolicy::default(),
            jwks_refetch_interval: DEFAULT_JWKS_REFETCH_INTERVAL,
            jwks_max_age: DEFAULT_JWKS_MAX_AGE,
            cache: Arc::default(),
        }
    }

    /// Timeouts and retries of every call to the provider (tests use millisecond backoff).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Least time between two JWKS re-fetches caused by an unknown `kid`.
    pub fn with_jwks_refetch_interval(mut self, interval: Duration) -> Self {
        self.jwks_refetch_interval = interval;
        self
    }

    /// Age after which the cached JWKS is refreshed before use.
    pub fn with_jwks_max_age(mut self, max_age: Duration) -> Self {
        self.jwks_max_age = max_age;
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// How many times this client (and its clones) fetched the JWKS.
    pub async fn jwks_fetches(&self) -> u64 {
        self.cache.jwks.lock().await.fetches
    }

    /// A fresh authorization request: random `state`, `nonce` and PKCE verifier (32 bytes each,
    /// base64url), S256 challenge, `response_type=code`, [`SCOPE`], [`ACR_VALUES`].
    pub async fn authorization_request(&self) -> Result<AuthorizationRequest, OidcError> {
        let discovery = self.discovery().await?;
        let state = random_token()?;
        let nonce = random_token()?;
        let verifier = random_token()?;
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let query = form_encode(&[
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", SCOPE),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("acr_values", ACR_VALUES),
        ]);
        let endpoint = &discovery.authorization_endpoint;
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        Ok(AuthorizationRequest {
            url: format!("{endpoint}{separator}{query}"),
            state,
            nonce,
            pkce_verifier: Secret::new(verifier),
        })
    }

    /// Checks the callback's RFC 9207 `iss`: when present it must be our issuer, and it must be
    /// present when the provider's discovery document says it sends one.
    pub async fn check_response_issuer(&self, iss: Option<&str>) -> Result<(), OidcError> {
        match iss {
            Some(iss) if iss == self.issuer => Ok(()),
            Some(_) => Err(OidcError::InvalidAuthorizationResponse("wrong iss")),
            None if self.discovery().await?.iss_parameter_supported => {
                Err(OidcError::InvalidAuthorizationResponse("no iss"))
            }
            None => Ok(()),
        }
    }

    /// Redeems `code` with the verifier of its request, verifies the ID token against
    /// `expected_nonce`, fetches userinfo if claims are missing, and returns the identity.
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &Secret<String>,
        expected_nonce: &str,
    ) -> Result<BankIdIdentity, OidcError> {
        let discovery = self.discovery().await?;
        let tokens = self
            .redeem(&discovery.token_endpoint, code, pkce_verifier)
            .await?;
        let id_claims = self
            .verify_jwt(&tokens.id_token, Some(expected_nonce))
            .await
            .map_err(|e| e.into_oidc(OidcError::InvalidIdToken))?;
        let sub = string_claim(&id_claims, "sub")?
            .ok_or(OidcError::InvalidIdToken(JwtProblem::Subject))?;
        // The level asked for in `acr_values` is only a request: the ID token says what it was.
        let acr = string_claim(&id_claims, "acr")?;
        if acr.as_deref() != Some(ACR_VALUES) {
            return Err(OidcError::InsufficientAssurance);
        }
        let time_claim = |name| id_claims.get(name).and_then(Value::as_i64);
        let auth_time = time_claim("auth_time")
            .or_else(|| time_claim("iat"))
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
            .ok_or(OidcError::InvalidClaim("auth_time"))?;

        let mut person = Person::from_claims(&id_claims)?;
        if !person.is_complete() {
            let endpoint = discovery
                .userinfo_endpoint
                .as_ref()
                .ok_or(OidcError::MissingClaim(person.first_missing()))?;
            let info = self.userinfo(endpoint, &tokens.access_token, &sub).await?;
            person.fill_from(Person::from_claims(&info)?);
        }
        person.into_identity(ACR_VALUES.to_owned(), auth_time)
    }

    // -----------------------------------------------------------------------------------------
    // discovery and keys
    // -----------------------------------------------------------------------------------------

    async fn discovery(&self) -> Result<&Discovery, OidcError> {
        self.cache
            .discovery
            .get_or_try_init(|| self.fetch_discovery())
            .await
    }

    async fn fetch_discovery(&self) -> Result<Discovery, OidcError> {
        const WHAT: &str = "discovery";
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let uri = parse_uri(&url, WHAT)?;
        let doc = self.get_json(&uri, WHAT).await?;
        let field = |name: &str| doc.get(name).and_then(Value::as_str);
        if field("issuer") != Some(self.issuer.as_str()) {
            return Err(bad(WHAT, "issuer does not match the configured issuer"));
        }
        let endpoint = |name: &str| -> Result<Uri, OidcError> {
            let value = field(name).ok_or(bad(WHAT, "an endpoint is missing"))?;
            parse_uri(value, WHAT)
        };
        let authorization_endpoint = endpoint("authorization_endpoint")?.to_string();
        let userinfo_endpoint = match field("userinfo_endpoint") {
            Some(u) => Some(parse_uri(u, WHAT)?),
            None => None,
        };
        Ok(Discovery {
            authorization_endpoint,
            token_endpoint: endpoint("token_endpoint")?,
            jwks_uri: endpoint("jwks_uri")?,
            userinfo_endpoint,
            iss_parameter_supported: doc
                .get("authorization_response_iss_parameter_supported")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    async fn fetch_jwks(&self, uri: &Uri) -> Result<Vec<(Option<String>, DecodingKey)>, OidcError> {
        const WHAT: &str = "JWKS";
        let doc = self.get_json(uri, WHAT).await?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(bad(WHAT, "no keys array"))?;
        // Keys Drop cannot use (EC, encryption keys, other algorithms) are skipped.
        Ok(keys
            .iter()
            .filter_map(|jwk| {
                let text = |name: &str| jwk.get(name).and_then(Value::as_str);
                let usable = text("kty") == Some("RSA")
                    && text("use").is_none_or(|u| u == "sig")
                    && text("alg").is_none_or(|a| a == "RS256");
                if !usable {
                    return None;
                }
                let key = DecodingKey::from_rsa_components(text("n")?, text("e")?).ok()?;
                Some((text("kid").map(str::to_owned), key))
            })
            .collect())
    }

    /// The key for `kid`: from the cache, refreshed when older than the max age, re-fetched once
    /// (rate-limited) when the kid is unknown.
    async fn key_for(&self, kid: Option<&str>) -> Result<DecodingKey, VerifyError> {
        let jwks_uri = self
            .discovery()
            .await
            .map_err(VerifyError::Other)?
            .jwks_uri
            .clone();
        let mut cache = self.cache.jwks.lock().await;
        let stale = cache
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.jwks_max_age);
        if stale {
            cache.fetches += 1;
            match self.fetch_jwks(&jwks_uri).await {
                Ok(keys) => cache.keys = keys,
                // Keep verifying with the keys we have while the provider is down.
                Err(e) if cache.fetched_at.is_some() => tracing::warn!(
                    error = %e,
                    "oidc: refreshing the JWKS failed; keeping the cached keys"
                ),
                Err(e) => return Err(VerifyError::Other(e)),
            }
            cache.fetched_at = Some(Instant::now());
        }
        if let Some(key) = cache.find(kid) {
            return Ok(key);
        }
        let may_refetch = !stale
            && cache
                .last_refetch
                .is_none_or(|at| at.elapsed() >= self.jwks_refetch_interval);
        if may_refetch {
            tracing::info!("oidc: token signed with an unknown key id; fetching the JWKS again");
            cache.last_refetch = Some(Instant::now());
            cache.fetches += 1;
            cache.keys = self
                .fetch_jwks(&jwks_uri)
                .await
                .map_err(VerifyError::Other)?;
            cache.fetched_at = Some(Instant::now());
            if let Some(key) = cache.find(kid) {
                return Ok(key);
            }
        }
        Err(VerifyError::Jwt(JwtProblem::UnknownKey))
    }

    // -----------------------------------------------------------------------------------------
    // token endpoint, JWT verification, userinfo
    // -----------------------------------------------------------------------------------------

    async fn redeem(
        &self,
        token_endpoint: &Uri,
        code: &str,
        verifier: &Secret<String>,
    ) -> Result<Tokens, OidcError> {
        const WHAT: &str = "token";
        // RFC 6749 §2.3.1: id and secret are form-encoded before they are joined and base64ed.
        let basic = STANDARD.encode(format!(
            "{}:{}",
            form_component(&self.client_id),
            form_component(self.client_secret.expose())
        ));
        let body = Bytes::from(form_encode(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.redirect_uri),
            ("code_verifier", verifier.expose()),
        ]));
        let response = outbound::send_with_retry(
            || {
                Request::builder()
                    .method(Method::POST)
                    .uri(token_endpoint.clone())
                    .header(header::AUTHORIZATION, format!("Basic {basic}"))
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::ACCEPT, "application/json")
                    .body(body.clone())
            },
            &self.policy,
        )
        .await
        .map_err(OidcError::Provider)?;

        if response.status.is_client_error() {
            let error = serde_json::from_slice::<Value>(&response.body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(oauth_error_code))
                .unwrap_or_else(|| "unknown".to_owned());
            return Err(
                if response.status == StatusCode::UNAUTHORIZED || error == "invalid_client" {
                    OidcError::ClientRejected { error }
                } else {
                    OidcError::TokenRejected { error }
                },
            );
        }
        if !response.status.is_success() {
            return Err(bad(WHAT, "unexpected status"));
        }
        // Parsed as a map: a serde error message could quote a token.
        let doc: Map<String, Value> =
            serde_json::from_slice(&response.body).map_err(|_| bad(WHAT, "not a JSON object"))?;
        let text = |name: &str| {
            doc.get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        if !text("token_type").is_some_and(|t| t.eq_ignore_ascii_case("bearer")) {
            return Err(bad(WHAT, "token_type is not Bearer"));
        }
        Ok(Tokens {
            access_token: Secret::new(
                text("access_token")
                    .ok_or(bad(WHAT, "no access_token"))?
                    .to_owned(),
            ),
            id_token: text("id_token").ok_or(bad(WHAT, "no id_token"))?.to_owned(),
        })
    }

    /// Verifies a compact JWS from the provider: RS256 only (checked before any key lookup),
    /// signature, `iss`, `aud`, `azp`, `exp` (required when `nonce` is given, i.e. for ID
    /// tokens), `nbf`, `iat`, and `nonce` when given.
    async fn verify_jwt(&self, token: &str, nonce: Option<&str>) -> Result<Claims, VerifyError> {
        let is_id_token = nonce.is_some();
        let kid = jws_header_kid(token)?;
        let key = self.key_for(kid.as_deref()).await?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.client_id]);
        if is_id_token {
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        } else {
            validation.set_required_spec_claims(&["iss", "aud", "sub"]);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| VerifyError::Jwt(jwt_problem(&e)))?
            .claims;

        // azp: required with several audiences, and ours whenever present.
        let several_audiences = claims
            .get("aud")
            .and_then(Value::as_array)
            .is_some_and(|a| a.len() > 1);
        match claims.get("azp") {
            Some(Value::String(azp)) if *azp == self.client_id => {}
            None if !several_audiences => {}
            _ => return Err(VerifyError::Jwt(JwtProblem::AuthorizedParty)),
        }

        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let leeway = i64::try_from(LEEWAY_SECONDS).unwrap_or(60);
        match claims.get("iat").map(Value::as_i64) {
            Some(Some(iat)) if iat <= now + leeway => {}
            None if !is_id_token => {}
            _ => return Err(VerifyError::Jwt(JwtProblem::IssuedAt)),
        }

        if let Some(expected) = nonce {
            if claims.get("nonce").and_then(Value::as_str) != Some(expected) {
                return Err(VerifyError::Jwt(JwtProblem::Nonce));
            }
        }
        Ok(claims)
    }

    /// Userinfo with the access token: a signed JWT (`application/jwt`, verified like an ID
    /// token without nonce) or plain JSON; its `sub` must be the ID token's.
    async fn userinfo(
        &self,
        endpoint: &Uri,
        access_token: &Secret<String>,
        sub: &str,
    ) -> Result<Claims, OidcError> {
        const WHAT: &str = "userinfo";
        let response = outbound::send_with_retry(
            || {
                Request::builder()
                    .method(Method::GET)
                    .uri(endpoint.clone())
                    .header(
                        header::AUTHORIZATION,
                        format!("Bearer {}", access_token.expose()),
                    )
                    .header(header::ACCEPT, "application/jwt, application/json")
                    .body(Bytes::new())
            },
            &self.policy,
        )
        .await
        .and_then(|r| r.error_for_status(endpoint))
        .map_err(OidcError::Provider)?;

        let claims = match response.media_type().as_deref() {
            Some("application/jwt") => {
                let token = std::str::from_utf8(&response.body)
                    .map_err(|_| bad(WHAT, "the JWT is not text"))?
                    .trim();
                self.verify_jwt(token, None)
                    .await
                    .map_err(|e| e.into_oidc(OidcError::InvalidUserinfo))?
            }
            Some("application/json") => serde_json::from_slice::<Claims>(&response.body)
                .map_err(|_| bad(WHAT, "not a JSON object"))?,
            _ => {
                return Err(bad(
                    WHAT,
                    "content type is neither application/jwt nor JSON",
                ))
            }
        };
        if claims.get("sub").and_then(Value::as_str) != Some(sub) {
            return Err(OidcError::InvalidUserinfo(JwtProblem::Subject));
        }
        Ok(claims)
    }

    /// GET `uri` as a JSON object; any failure or non-2xx is [`OidcError::Provider`].
    async fn get_json(&self, uri: &Uri, what: &'static str) -> Result<Claims, OidcError> {
        let response: OutboundResponse = outbound::send_with_retry(
            || {
                Request::builder()
                    .method(Method::GET)
                    .uri(uri.clone())
                    .header(header::ACCEPT, "application/json")
                    .body(Bytes::new())
            },
            &self.policy,
        )
        .await
        .and_then(|r| r.error_for_status(uri))
        .map_err(OidcError::Provider)?;
        serde_json::from_slice(&response.body).map_err(|_| bad(what, "not a JSON object"))
    }
}

/// What the token endpoint gave us. Never printed.
struct Tokens {
    access_token: Secret<String>,
    id_token: String,
}

/// A JWT verification failure, before the caller says whether it was the ID token or userinfo.
enum VerifyError {
    Jwt(JwtProblem),
    Other(OidcError),
}

impl VerifyError {
    fn into_oidc(self, wrap: fn(JwtProblem) -> OidcError) -> OidcError {
        match self {
            Self::Jwt(p) => wrap(p),
            Self::Other(e) => e,
        }
    }
}

impl From<JwtProblem> for VerifyError {
    fn from(p: JwtProblem) -> Self {
        Self::Jwt(p)
    }
}

/// The `kid` of a compact JWS whose header says `alg: RS256`; anything else is refused here,
/// before a key is looked up.
fn jws_header_kid(token: &str) -> Result<Option<String>, JwtProblem> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtProblem::Malformed);
    };
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| JwtProblem::Malformed)?;
    let header: Map<String, Value> =
        serde_json::from_slice(&header).map_err(|_| JwtProblem::Malformed)?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(JwtProblem::Algorithm);
    }
    // No extension is understood, so none may be critical (RFC 7515 §4.1.11).
    if header.contains_key("crit") {
        return Err(JwtProblem::Malformed);
    }
    match header.get("kid") {
        None => Ok(None),
        Some(Value::String(kid)) => Ok(Some(kid.clone())),
        Some(_) => Err(JwtProblem::Malformed),
    }
}

fn jwt_problem(e: &jsonwebtoken::errors::Error) -> JwtProblem {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::InvalidSignature => JwtProblem::Signature,
        K::ExpiredSignature => JwtProblem::Expired,
        K::ImmatureSignature => JwtProblem::NotYetValid,
        K::InvalidIssuer => JwtProblem::Issuer,
        K::InvalidAudience => JwtProblem::Audience,
        K::InvalidSubject => JwtProblem::Subject,
        K::InvalidAlgorithm | K::MissingAlgorithm | K::InvalidAlgorithmName => {
            JwtProblem::Algorithm
        }
        K::InvalidRsaKey(_) | K::InvalidKeyFormat | K::UnsupportedAlgorithm => {
            JwtProblem::UnusableKey
        }
        K::MissingRequiredClaim(claim) => match claim.as_str() {
            "iss" => JwtProblem::Issuer,
            "aud" => JwtProblem::Audience,
            "exp" => JwtProblem::Expired,
            "sub" => JwtProblem::Subject,
            _ => JwtProblem::Malformed,
        },
        _ => JwtProblem::Malformed,
    }
}

/// The person claims, from the ID token and then userinfo.
#[derive(Default)]
struct Person {
    altsub: Option<String>,
    nnin: Option<String>,
    birthdate: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
}

impl Person {
    fn from_claims(claims: &Claims) -> Result<Self, OidcError> {
        Ok(Self {
            altsub: string_claim(claims, "bankid_altsub")?,
            nnin: string_claim(claims, "nnin_altsub")?,
            birthdate: string_claim(claims, "birthdate")?,
            given_name: string_claim(claims, "given_name")?,
            family_name: string_claim(claims, "family_name")?,
        })
    }

    fn is_complete(&self) -> bool {
        self.altsub.is_some()
            && self.nnin.is_some()
            && self.birthdate.is_some()
            && self.given_name.is_some()
            && self.family_name.is_some()
    }

    fn first_missing(&self) -> &'static str {
        [
            (self.altsub.is_none(), "bankid_altsub"),
            (self.nnin.is_none(), "nnin_altsub"),
            (self.given_name.is_none(), "given_name"),
            (self.family_name.is_none(), "family_name"),
            (self.birthdate.is_none(), "birthdate"),
        ]
        .into_iter()
        .find_map(|(missing, name)| missing.then_some(name))
        .unwrap_or("birthdate")
    }

    /// Fills what is missing; what the ID token said stays.
    fn fill_from(&mut self, other: Person) {
        self.altsub = self.altsub.take().or(other.altsub);
        self.nnin = self.nnin.take().or(other.nnin);
        self.birthdate = self.birthdate.take().or(other.birthdate);
        self.given_name = self.given_name.take().or(other.given_name);
        self.family_name = self.family_name.take().or(other.family_name);
    }

    fn into_identity(
        self,
        acr: String,
        auth_time: OffsetDateTime,
    ) -> Result<BankIdIdentity, OidcError> {
        let altsub = self
            .altsub
            .ok_or(OidcError::MissingClaim("bankid_altsub"))?;
        let nnin = self.nnin.ok_or(OidcError::MissingClaim("nnin_altsub"))?;
        let fnr: Fodselsnummer = nnin.parse().map_err(OidcError::InvalidNationalId)?;
        let given_name = self
            .given_name
            .ok_or(OidcError::MissingClaim("given_name"))?;
        let family_name = self
            .family_name
            .ok_or(OidcError::MissingClaim("family_name"))?;
        let birth_date = match self.birthdate {
            Some(text) => parse_birthdate(&text).ok_or(OidcError::InvalidClaim("birthdate"))?,
            None => fnr.birth_date(),
        };
        Ok(BankIdIdentity {
            acr,
            auth_time,
            altsub,
            fnr,
            birth_date,
            given_name,
            family_name,
        })
    }
}

/// A string claim: `None` when absent, null or empty; an error when of another type.
fn string_claim(claims: &Claims, name: &'static str) -> Result<Option<String>, OidcError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(OidcError::InvalidClaim(name)),
    }
}

/// `YYYY-MM-DD` (OpenID Connect Core §5.1 `birthdate`).
fn parse_birthdate(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format).ok()
}

fn bad(endpoint: &'static str, reason: &'static str) -> OidcError {
    OidcError::BadProviderResponse { endpoint, reason }
}

fn parse_uri(text: &str, what: &'static str) -> Result<Uri, OidcError> {
    let uri: Uri = text.parse().map_err(|_| bad(what, "not a URL"))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("https" | "http"), Some(_)) => Ok(uri),
        _ => Err(bad(what, "not an http(s) URL")),
    }
}

/// 32 random bytes, base64url without padding (43 characters).
fn random_token() -> Result<String, OidcError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| OidcError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// An OAuth error code from a provider, reduced to a safe token for logs and errors.
fn oauth_error_code(raw: &str) -> String {
    let code: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(64)
        .collect();
    if code.is_empty() {
        "unknown".to_owned()
    } else {
        code
    }
}

use crate::providers::outbound::percent_encode as form_component;

fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_component(k), form_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `application/x-www-form-urlencoded` pairs: `+` is a space, `%XX` a byte; invalid escapes are
/// kept as they are, invalid UTF-8 is replaced.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(byte) = hex {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl OidcClient {
    /// The BankID client for `config`, with the client secret from Secrets Manager. A person
    /// is waiting, and API Gateway gives up after 29 s: a sign-in makes up to four provider
    /// calls, so each gets 3 s and one retry.
    pub async fn from_secrets(
        config: &crate::config::Config,
        secrets: &crate::aws::secrets::SecretStore,
    ) -> Result<Self, crate::ApiError> {
        let bankid = config.bankid.as_ref().ok_or_else(|| {
            crate::ApiError::msg(
                crate::ErrorCode::ServiceUnavailable,
                "BankID sign-in is not configured.",
            )
        })?;
        let secret = secrets.get("bankid-client-secret").await?;
        let interactive = RetryPolicy {
            max_retries: 1,
            timeout: Duration::from_secs(3),
            ..RetryPolicy::default()
        };
        Ok(OidcClient::new(
            bankid.issuer.clone(),
            bankid.client_id.clone(),
            secret,
            config.bankid_redirect_uri(),
        )
        .with_retry_policy(interactive))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_binding_values_never_print() {
        let request = AuthorizationRequest {
            url: "https://idp/authorize?state=st4te-value&nonce=n0nce-value".to_owned(),
            state: "st4te-value".to_owned(),
            nonce: "n0nce-value".to_owned(),
            pkce_verifier: Secret::new("ver1fier-value".to_owned()),
        };
        let response = AuthorizationResponse::from_query("code=c0de-value&state=st4te-value")
            .unwrap_or_else(|e| unreachable!("{e}"));
        let printed = format!("{request:?} {response:?}");
        for secret in ["st4te", "n0nce", "ver1fier", "c0de"] {
            assert!(!printed.contains(secret), "{secret}: {printed}");
        }
    }

    #[test]
    fn form_encoding_round_trips_and_escapes_reserved_characters() {
        let raw = "a b+c/d:e=f&g%h~i.j_k-læ";
        let enc = form_component(raw);
        assert_eq!(enc, "a%20b%2Bc%2Fd%3Ae%3Df%26g%25h~i.j_k-l%C3%A6");
        assert_eq!(form_decode(&enc), raw);
        assert_eq!(form_decode("a+b%2"), "a b%2");
        assert_eq!(
            parse_query("?code=x%2By&state=s&empty"),
            vec![
                ("code".to_owned(), "x+y".to_owned()),
                ("state".to_owned(), "s".to_owned()),
                ("empty".to_owned(), String::new())
            ]
        );
    }

    #[test]
    fn authorization_response_parses_and_refuses_errors_and_repeats() {
        let r = AuthorizationResponse::from_query("code=abc&state=xyz&iss=http%3A%2F%2Fop")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.code.expose(), "abc");
        assert_eq!(r.state, "xyz");
        assert_eq!(r.iss.as_deref(), Some("http://op"));
        assert!(matches!(
            AuthorizationResponse::from_query("error=access_denied&state=x"),
            Err(OidcError::AuthorizationFailed { error }) if error == "access_denied"
        ));
        assert!(matches!(
            AuthorizationResponse::from_query("code=a&code=b&state=x"),
            Err(OidcError::InvalidAuthorizationResponse(_))
        ));
        assert!(matches!(
            AuthorizationResponse::from_query("state=x"),
            Err(OidcError::InvalidAuthorizationResponse("no code"))
        ));
        assert!(!format!("{r:?}").contains("abc"));
    }

    #[test]
    fn header_check_refuses_everything_but_rs256_before_key_lookup() {
        let jwt = |header: &str| format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(header));
        assert_eq!(
            jws_header_kid(&jwt(r#"{"alg":"RS256","kid":"k1"}"#)),
            Ok(Some("k1".to_owned()))
        );
        for alg in ["none", "HS256", "RS384", "PS256", "ES256", "rs256"] {
            assert_eq!(
                jws_header_kid(&jwt(&format!(r#"{{"alg":"{alg}"}}"#))),
                Err(JwtProblem::Algorithm),
                "{alg}"
            );
        }
        assert_eq!(
            jws_header_kid(&jwt(r#"{"kid":"k"}"#)),
            Err(JwtProblem::Algorithm)
        );
        assert_eq!(
            jws_header_kid(&jwt(r#"{"alg":"RS256","crit":["x"]}"#)),
            Err(JwtProblem::Malformed)
        );
        assert_eq!(jws_header_kid("a.b"), Err(JwtProblem::Malformed));
        assert_eq!(jws_header_kid("a.b.c.d.e"), Err(JwtProblem::Malformed));
    }

    #[test]
    fn oauth_error_codes_are_sanitised() {
        assert_eq!(oauth_error_code("invalid_grant"), "invalid_grant");
        assert_eq!(oauth_error_code("<script>x"), "scriptx");
        assert_eq!(oauth_error_code("   "), "unknown");
    }

    #[test]
    fn birthdate_is_an_iso_date() {
        assert_eq!(
            parse_birthdate("1986-10-15"),
            Date::from_calendar_date(1986, time::Month::October, 15).ok()
        );
        assert_eq!(parse_birthdate("15.10.1986"), None);
        assert_eq!(parse_birthdate("1986-02-30"), None);
    }

    #[test]
    fn random_tokens_are_43_url_safe_characters_and_differ() {
        let a = random_token().unwrap_or_default();
        let b = random_token().unwrap_or_default();
        assert_eq!(a.len(), 43);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(a, b);
    }
}
