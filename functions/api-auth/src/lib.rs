//! `api-auth`: sign-in with BankID (web cookie or mobile Bearer token), sign-out, and who am I.

use axum::extract::{RawQuery, State as Extract};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use drop_shared::aws::login::{LoginStore, MobileGrant, PendingLogin};
use drop_shared::aws::rate_limit::RatePolicy;
use drop_shared::aws::secrets::SecretStore;
use drop_shared::config::Config;
use drop_shared::crypto::FnrVault;
use drop_shared::domain::session::{
    cleared_cookie, cleared_login_cookie, cookie_value, login_cookie, session_cookie, SessionKind,
    LOGIN_COOKIE,
};
use drop_shared::edge::openapi::{RateLimited, SignedInErrors};
use drop_shared::edge::{
    self, redirect, Authenticator, Base, Json, Me, Query, RequestMeta, SignedIn,
};
use drop_shared::error::{ErrorBody, ErrorDetail};
use drop_shared::providers::bankid::{parse_query, AuthorizationResponse, OidcClient};
use drop_shared::routes;
use drop_shared::store::audit::{audited, AuditEntry};
use drop_shared::store::users::{self, age_on, today_in_norway, BankIdPerson};
use drop_shared::store::Db;
use drop_shared::{crypto, ApiError, ErrorCode};
use serde::{Deserialize, Deserializer, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::OnceCell;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

/// What api-auth uses: configuration, the database, pending logins, and BankID and the
/// fødselsnummer vault (both built on first use).
#[derive(Clone)]
pub struct State(Arc<Parts>);

pub struct Parts {
    config: Config,
    db: Db,
    secrets: SecretStore,
    logins: LoginStore,
    auth: Authenticator,
    bankid: OnceCell<OidcClient>,
    vault: OnceCell<FnrVault>,
}

impl State {
    async fn bankid(&self) -> Result<&OidcClient, ApiError> {
        let this = &self.0;
        this.bankid
            .get_or_try_init(|| OidcClient::from_secrets(&this.config, &this.secrets))
            .await
    }

    async fn vault(&self) -> Result<&FnrVault, ApiError> {
        self.0
            .vault
            .get_or_try_init(|| self.0.secrets.fnr_vault())
            .await
    }
}

impl axum::extract::FromRef<State> for Authenticator {
    fn from_ref(state: &State) -> Self {
        state.0.auth.clone()
    }
}

/// The routes and their OpenAPI entries. Sign-in routes: 10 per 60 s per client IP.
pub fn routes() -> OpenApiRouter<State> {
    let sign_in = OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(callback))
        .routes(routes!(exchange_mobile_code))
        .routes(routes!(gone_login))
        .routes(routes!(gone_register))
        .route_layer(from_fn_with_state(RatePolicy::AUTH, edge::limit));
    OpenApiRouter::new()
        .routes(routes!(logout))
        .routes(routes!(me))
        .merge(sign_in)
}

pub fn router(base: &Base) -> Router {
    let router = edge::serving(routes);
    let state = State(Arc::new(Parts {
        config: base.config.clone(),
        db: base.db.clone(),
        secrets: base.secrets.clone(),
        logins: LoginStore::new(base.aws.clone(), base.config.login_table.clone()),
        auth: base.authenticator(),
        bankid: OnceCell::new(),
        vault: OnceCell::new(),
    }));
    router
        .with_state(state)
        .layer(Extension(base.rate_limiter()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// `web` (default) or `mobile`.
    #[param(value_type = Option<String>, schema_with = client_schema)]
    pub client: Option<String>,
    /// Mobile: required, BASE64URL(SHA-256(code_verifier)) (RFC 7636 S256). A web sign-in
    /// needs none, but one of another shape is refused.
    #[serde(default, deserialize_with = "challenge")]
    #[param(pattern = "^[A-Za-z0-9_-]{43}$")]
    pub code_challenge: Option<String>,
    /// `S256`, the only method (the default).
    #[serde(default, deserialize_with = "s256")]
    #[param(value_type = Option<String>, schema_with = s256_schema)]
    pub code_challenge_method: Option<String>,
}

fn client_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some("`web` (default) or `mobile`."))
        .enum_values(Some(["web", "mobile"]))
        .default(Some(serde_json::json!("web")))
        .build()
}

fn s256_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some("`S256`, the only method (the default)."))
        .enum_values(Some(["S256"]))
        .build()
}

fn challenge<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = String::deserialize(d)?;
    let shape_ok = value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if shape_ok {
        Ok(Some(value))
    } else {
        Err(serde::de::Error::invalid_value(
            serde::de::Unexpected::Other("another shape"),
            &"BASE64URL(SHA-256(code_verifier)), 43 characters",
        ))
    }
}

fn s256<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = String::deserialize(d)?;
    if value == "S256" {
        Ok(Some(value))
    } else {
        Err(serde::de::Error::invalid_value(
            serde::de::Unexpected::Other("another method"),
            &"S256",
        ))
    }
}

#[utoipa::path(
    get, path = "/v1/auth/bankid/start", tag = "auth",
    params(StartQuery),
    responses(
        (status = 302, description = "To BankID (a web sign-in also gets the __Host-drop_login cookie)", headers(("Location" = String, description = "BankID's authorization URL"))),
        (status = 422, description = "Unknown client, or a code_challenge (required for mobile) or method of another shape", body = ErrorBody),
        RateLimited,
        (status = 503, description = "BankID or the login store unavailable", body = ErrorBody),
    )
)]
pub async fn start(
    Extract(state): Extract<State>,
    Query(query): Query<StartQuery>,
) -> Result<Response, ApiError> {
    let client =
        match query.client.as_deref() {
            None | Some("web") => SessionKind::Web,
            Some("mobile") => SessionKind::Mobile,
            Some(_) => {
                return Err(ApiError::new(ErrorCode::ValidationFailed).with_detail(
                    ErrorDetail::new("client", "invalid", "Use `web` or `mobile`."),
                ))
            }
        };
    // Whoever finishes the sign-in must prove it is whoever started it (RFC 7636 S256): the
    // mobile app with its own code_verifier at the code exchange, the browser with a cookie.
    let (client_challenge, browser_cookie) = match client {
        SessionKind::Web => {
            let secret = crypto::random_token(32).map_err(ApiError::internal)?;
            (crypto::pkce_challenge(&secret), Some(login_cookie(&secret)))
        }
        SessionKind::Mobile => {
            let challenge = query.code_challenge.as_deref().unwrap_or_default();
            let method_ok = query
                .code_challenge_method
                .as_deref()
                .is_none_or(|m| m == "S256");
            let shape_ok = challenge.len() == 43
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !method_ok || !shape_ok {
                return Err(ApiError::new(ErrorCode::ValidationFailed).with_detail(ErrorDetail::new(
                    "code_challenge",
                    "invalid",
                    "The mobile app sends code_challenge = BASE64URL(SHA-256(code_verifier)), method S256.",
                )));
            }
            (challenge.to_owned(), None)
        }
    };
    let authorization = state.bankid().await?.authorization_request().await?;
    let pending = PendingLogin {
        nonce: authorization.nonce,
        pkce_verifier: authorization.pkce_verifier,
        client,
        client_challenge,
    };
    state
        .0
        .logins
        .save_login(&authorization.state, &pending)
        .await
        .map_err(unavailable)?;
    redirect(&authorization.url, browser_cookie.as_slice())
}

fn unavailable(err: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::new(ErrorCode::ServiceUnavailable)
        .with_retry_after(1)
        .with_source(err)
}

#[utoipa::path(
    get, path = "/v1/auth/bankid/callback", tag = "auth",
    // BankID's authorization response (RFC 6749 § 4.1.2, RFC 9207).
    params(
        ("code" = Option<String>, Query, description = "The authorization code"),
        ("state" = Option<String>, Query, description = "The state /v1/auth/bankid/start sent; each is used once"),
        ("iss" = Option<String>, Query, description = "The issuer (RFC 9207)"),
        ("error" = Option<String>, Query, description = "BankID's error code, when the sign-in did not complete"),
        ("error_description" = Option<String>, Query),
    ),
    responses(
        (status = 302, description = "Web: to the web app with the __Host-drop_token cookie. Mobile: to the app's redirect (DROP_MOBILE_REDIRECT_URI; drop://auth/callback locally) with ?code=… (a one-time code, 60 s)"),
        (status = 400, description = "No code or state, an unknown, expired or replayed state, or another browser than the one that started", body = ErrorBody),
        (status = 401, description = "BankID sign-in did not verify, or BankID answered with an error", body = ErrorBody),
        (status = 403, description = "Under 18, a blocked account, or too low an assurance level", body = ErrorBody),
        RateLimited,
        (status = 503, description = "BankID, the login store or the database unavailable", body = ErrorBody),
    )
)]
pub async fn callback(
    Extract(state): Extract<State>,
    meta: RequestMeta,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = query.unwrap_or_default();
    let logins = &state.0.logins;
    let response = match AuthorizationResponse::from_query(&query) {
        Ok(response) => response,
        Err(err) => {
            // An error redirect still names its state: spend it, so it cannot be replayed.
            if let Some((_, state_token)) = parse_query(&query).iter().find(|(k, _)| k == "state") {
                let _ = logins.take_login(state_token).await;
            }
            return Err(err.into());
        }
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let pending = logins
        .take_login(&response.state)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidLoginState))?;
    if pending.client == SessionKind::Web {
        let cookie = header("cookie")
            .and_then(|c| cookie_value(c, LOGIN_COOKIE))
            .unwrap_or_default();
        if !crypto::pkce_verifies(cookie, &pending.client_challenge) {
            return Err(ApiError::msg(
                ErrorCode::InvalidLoginState,
                "Finish signing in in the browser that started it.",
            ));
        }
    }
    let bankid = state.bankid().await?;
    bankid
        .check_response_issuer(response.iss.as_deref())
        .await?;
    let identity = bankid
        .exchange_code(
            response.code.expose(),
            &pending.pkce_verifier,
            &pending.nonce,
        )
        .await?;

    let now = OffsetDateTime::now_utc();
    if age_on(
        identity.birth_date,
        state
            .0
            .config
            .today_override
            .unwrap_or_else(|| today_in_norway(now)),
    ) < 18
    {
        return Err(ApiError::new(ErrorCode::Underage));
    }
    let assurance = users::Assurance {
        acr: identity.acr,
        auth_time: identity.auth_time,
    };
    let person = BankIdPerson {
        altsub: identity.altsub,
        fnr: identity.fnr,
        birth_date: identity.birth_date,
        given_name: identity.given_name,
        family_name: identity.family_name,
    };
    let vault = state.vault().await?;
    let origin = meta.origin();
    let mut conn = state.0.db.conn().await?;
    let tx = conn.transaction().await?;
    let (user_id, registered) = users::sign_in_with_bankid(&*tx, vault, &person, &origin).await?;
    let claims = users::open_session(
        &*tx,
        user_id,
        pending.client,
        &origin,
        header("user-agent"),
        &assurance,
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(%user_id, registered, kind = pending.client.as_str(), "signed in");

    match pending.client {
        SessionKind::Web => {
            let token = state
                .0
                .secrets
                .session_keys()
                .await?
                .issue(&claims)
                .map_err(ApiError::internal)?;
            let cookies = [
                session_cookie(&token, SessionKind::Web.lifetime()),
                cleared_login_cookie(),
            ];
            redirect(&state.0.config.web_app_url, &cookies)
        }
        SessionKind::Mobile => {
            let code = crypto::random_token(32).map_err(ApiError::internal)?;
            logins
                .save_mobile_code(
                    &code,
                    &MobileGrant {
                        claims,
                        app_challenge: pending.client_challenge,
                    },
                )
                .await
                .map_err(unavailable)?;
            let to = &state.0.config.mobile_redirect_uri;
            let separator = if to.contains('?') { '&' } else { '?' };
            redirect(&format!("{to}{separator}code={code}"), &[])
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeExchange {
    /// The one-time code from `drop://auth/callback?code=…`.
    #[schema(min_length = 1, max_length = 128)]
    pub code: String,
    /// The PKCE verifier whose S256 challenge the app sent to `/v1/auth/bankid/start`.
    pub code_verifier: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BearerToken {
    pub token: String,
    pub token_type: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

#[utoipa::path(
    post, path = "/v1/auth/token", tag = "auth",
    request_body = CodeExchange,
    responses(
        (status = 200, description = "A 7-day Bearer token", body = BearerToken),
        (status = 400, description = "Not JSON (`invalid_json`), or an unknown, expired, used or another app's code (`invalid_code`)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A field missing, of the wrong type, or unknown", body = ErrorBody),
        RateLimited,
        (status = 503, description = "The login store or the session keys unavailable", body = ErrorBody),
    )
)]
pub async fn exchange_mobile_code(
    Extract(state): Extract<State>,
    Json(body): Json<CodeExchange>,
) -> Result<Json<BearerToken>, ApiError> {
    if body.code.is_empty() || body.code.len() > 128 {
        return Err(ApiError::new(ErrorCode::InvalidCode));
    }
    let grant = state
        .0
        .logins
        .take_mobile_code(&body.code)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidCode))?;
    // The code is spent either way: a wrong verifier cannot be retried against it.
    if !crypto::pkce_verifies(&body.code_verifier, &grant.app_challenge) {
        return Err(ApiError::msg(
            ErrorCode::InvalidCode,
            "This code was issued to another app.",
        ));
    }
    let claims = grant.claims;
    let token = state
        .0
        .secrets
        .session_keys()
        .await?
        .issue(&claims)
        .map_err(ApiError::internal)?;
    Ok(Json(BearerToken {
        token,
        token_type: "Bearer",
        expires_at: claims.expires_at(),
    }))
}

#[utoipa::path(
    post, path = "/v1/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out; the session is revoked and the cookie cleared"),
        SignedInErrors,
    ),
    security(("bearer" = []), ("session_cookie" = []))
)]
pub async fn logout(
    Extract(state): Extract<State>,
    meta: RequestMeta,
    SignedIn(who): SignedIn,
) -> Result<Response, ApiError> {
    let entry = AuditEntry {
        actor: who.actor(),
        action: "session.revoked",
        target: Some(("session", who.session_id)),
        details: serde_json::json!({"reason": "logout"}),
    };
    audited(&state.0.db, &meta.origin(), entry, async |tx| {
        users::revoke_session(tx, who.session_id, "logout").await?;
        Ok(())
    })
    .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cleared_cookie()) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    Ok(response)
}

#[utoipa::path(
    get, path = "/v1/auth/me", tag = "auth",
    responses(
        (status = 200, description = "Profile, KYC status, roles and linked bank accounts", body = Me),
        SignedInErrors,
    ),
    security(("bearer" = []), ("session_cookie" = []))
)]
pub async fn me(SignedIn(who): SignedIn) -> Json<Me> {
    Json(Me::of(&who))
}

fn gone() -> ApiError {
    ApiError::msg(
        ErrorCode::Gone,
        "Drop signs you in with BankID: GET /v1/auth/bankid/start.",
    )
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", responses((status = 410, description = "Gone: sign in with BankID instead", body = ErrorBody), RateLimited))]
pub async fn gone_login() -> ApiError {
    gone()
}

#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", responses((status = 410, description = "Gone: sign in with BankID instead", body = ErrorBody), RateLimited))]
pub async fn gone_register() -> ApiError {
    gone()
}

/// What the Lambda serves: the routes behind the edge's layers.
pub fn app(base: &Base) -> Router {
    edge::app(router(base))
}
