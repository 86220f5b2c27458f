//! `api-auth`: sign-in with BankID (web cookie or mobile Bearer token), sign-out, and who am I.

use drop_shared::edge::auth::Me;
use drop_shared::error::{ErrorBody, ErrorDetail};
use drop_shared::edge::{ok_json, redirect, ApiRequest, HandlerResult, RouteSpec, Router};
use drop_shared::aws::login::{MobileGrant, PendingLogin};
use drop_shared::providers::bankid::AuthorizationResponse;
use drop_shared::aws::rate_limit::RatePolicy;
use drop_shared::domain::session::{
    cleared_cookie, cleared_login_cookie, cookie_value, login_cookie, session_cookie, SessionKind,
    LOGIN_COOKIE,
};
use drop_shared::store::users::{self, age_on, today_in_norway, BankIdPerson};
use drop_shared::{crypto, ApiError, AppState, ErrorCode};
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{OpenApi, ToSchema};

pub const FUNCTION: &str = "api-auth";

/// Where the mobile app receives its one-time code.
pub const MOBILE_CALLBACK: &str = "drop://auth/callback";

pub fn router() -> Router {
    let auth = RatePolicy::AUTH;
    Router::new(FUNCTION)
        .route(
            RouteSpec::public(Method::GET, "/v1/auth/bankid/start").limited(auth),
            start,
        )
        .route(
            RouteSpec::public(Method::GET, "/v1/auth/bankid/callback").limited(auth),
            callback,
        )
        .route(
            RouteSpec::public(Method::POST, "/v1/auth/token").limited(auth),
            exchange_mobile_code,
        )
        .route(
            RouteSpec::signed_in(Method::POST, "/v1/auth/logout"),
            logout,
        )
        .route(RouteSpec::signed_in(Method::GET, "/v1/auth/me"), me)
        .route(
            RouteSpec::public(Method::POST, "/v1/auth/login").limited(auth),
            gone,
        )
        .route(
            RouteSpec::public(Method::POST, "/v1/auth/register").limited(auth),
            gone,
        )
}

#[derive(OpenApi)]
#[openapi(paths(
    start,
    callback,
    exchange_mobile_code,
    logout,
    me,
    gone_login,
    gone_register
))]
pub struct ApiDoc;

#[utoipa::path(
    get, path = "/v1/auth/bankid/start", tag = "auth",
    params(
        ("client" = Option<String>, Query, description = "`web` (default) or `mobile`"),
        ("code_challenge" = Option<String>, Query, description = "Mobile only, required: BASE64URL(SHA-256(code_verifier))"),
        ("code_challenge_method" = Option<String>, Query, description = "Mobile only: `S256`"),
    ),
    responses(
        (status = 302, description = "To BankID"),
        (status = 422, description = "Unknown client", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "BankID unavailable", body = ErrorBody),
    )
)]
pub async fn start(state: AppState, req: ApiRequest) -> HandlerResult {
    let client =
        match req.query_param("client") {
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
            let challenge = req.query_param("code_challenge").unwrap_or_default();
            let method_ok = req
                .query_param("code_challenge_method")
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
    responses(
        (status = 302, description = "Web: to the web app with the drop_token cookie. Mobile: to drop://auth/callback?code=… (a one-time code, 60 s)"),
        (status = 400, description = "Unknown, expired or replayed state", body = ErrorBody),
        (status = 401, description = "BankID sign-in did not verify", body = ErrorBody),
        (status = 403, description = "Under 18", body = ErrorBody),
        (status = 503, description = "BankID unavailable", body = ErrorBody),
    )
)]
pub async fn callback(state: AppState, req: ApiRequest) -> HandlerResult {
    let query = req.raw_query.as_deref().unwrap_or_default();
    let response = match AuthorizationResponse::from_query(query) {
        Ok(response) => response,
        Err(err) => {
            // An error redirect still names its state: spend it, so it cannot be replayed.
            if let Some((_, state_token)) = req.query.iter().find(|(k, _)| k == "state") {
                let _ = state.logins.take_login(state_token).await;
            }
            return Err(err.into());
        }
    };
    let pending = state
        .logins
        .take_login(&response.state)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidLoginState))?;
    if pending.client == SessionKind::Web {
        let cookie = req
            .header("cookie")
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
    if age_on(identity.birth_date, state.config.today_override.unwrap_or_else(|| today_in_norway(now))) < 18 {
        return Err(ApiError::new(ErrorCode::Underage));
    }
    let person = BankIdPerson {
        altsub: identity.altsub,
        fnr: identity.fnr,
        birth_date: identity.birth_date,
        given_name: identity.given_name,
        family_name: identity.family_name,
    };
    let vault = state.fnr_vault().await?;
    let origin = req.origin();
    let mut conn = state.db.conn().await?;
    let tx = conn.transaction().await?;
    let (user_id, registered) = users::sign_in_with_bankid(&*tx, vault, &person, &origin).await?;
    let claims = users::open_session(
        &*tx,
        user_id,
        pending.client,
        &origin,
        req.header("user-agent"),
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(%user_id, registered, kind = pending.client.as_str(), "signed in");

    match pending.client {
        SessionKind::Web => {
            let token = state
                .session_keys()
                .await?
                .issue(&claims)
                .map_err(ApiError::internal)?;
            let cookies = [
                session_cookie(&token, SessionKind::Web.lifetime()),
                cleared_login_cookie(),
            ];
            redirect(&state.config.web_app_url, &cookies)
        }
        SessionKind::Mobile => {
            let code = crypto::random_token(32).map_err(ApiError::internal)?;
            state
                .logins
                .save_mobile_code(
                    &code,
                    &MobileGrant {
                        claims,
                        app_challenge: pending.client_challenge,
                    },
                )
                .await
                .map_err(unavailable)?;
            redirect(&format!("{MOBILE_CALLBACK}?code={code}"), &[])
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeExchange {
    /// The one-time code from `drop://auth/callback?code=…`.
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
        (status = 400, description = "Unknown, expired or used code", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    )
)]
pub async fn exchange_mobile_code(state: AppState, req: ApiRequest) -> HandlerResult {
    let body: CodeExchange = req.json()?;
    if body.code.is_empty() || body.code.len() > 128 {
        return Err(ApiError::new(ErrorCode::InvalidCode));
    }
    let grant = state
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
        .session_keys()
        .await?
        .issue(&claims)
        .map_err(ApiError::internal)?;
    ok_json(&BearerToken {
        token,
        token_type: "Bearer",
        expires_at: claims.expires_at(),
    })
}

#[utoipa::path(
    post, path = "/v1/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out; the session is revoked and the cookie cleared"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Cookie request without the web app's Origin", body = ErrorBody),
    )
)]
pub async fn logout(state: AppState, req: ApiRequest) -> HandlerResult {
    let principal = req.principal()?;
    let mut conn = state.db.conn().await?;
    let tx = conn.transaction().await?;
    users::revoke_session(&*tx, principal.session_id, "logout").await?;
    let entry = drop_shared::store::audit::AuditEntry {
        actor: principal.actor(),
        action: "session.revoked",
        target: Some(("session", principal.session_id)),
        details: serde_json::json!({"reason": "logout"}),
    };
    drop_shared::store::audit::record(&*tx, &req.origin(), entry).await?;
    tx.commit().await?;
    let mut response = http::Response::new(lambda_http::Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    if let Ok(cookie) = http::HeaderValue::from_str(&cleared_cookie()) {
        response
            .headers_mut()
            .insert(http::header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[utoipa::path(
    get, path = "/v1/auth/me", tag = "auth",
    responses(
        (status = 200, description = "Profile, KYC status, roles and linked bank accounts", body = Me),
        (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
pub async fn me(_state: AppState, req: ApiRequest) -> HandlerResult {
    ok_json(&Me::of(req.principal()?))
}

pub async fn gone(_state: AppState, _req: ApiRequest) -> HandlerResult {
    Err(ApiError::msg(
        ErrorCode::Gone,
        "Drop signs you in with BankID: GET /v1/auth/bankid/start.",
    ))
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", responses((status = 410, description = "Sign in with BankID instead", body = ErrorBody)))]
pub async fn gone_login() {}

#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", responses((status = 410, description = "Sign in with BankID instead", body = ErrorBody)))]
pub async fn gone_register() {}
