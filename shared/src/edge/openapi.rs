//! What the OpenAPI document says about the answers every route of a kind can give, so each
//! route's `#[utoipa::path]` lists them by kind: `responses((status = 200, …), SignedInErrors)`.
//! Every error body is the envelope, [`ErrorBody`].

use crate::error::ErrorBody;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::IntoResponses;

/// The security scheme of a mobile session: `Authorization: Bearer <token>`.
pub const BEARER: &str = "bearer";
/// The security scheme of a web session: the `__Host-drop_token` cookie (state changes also
/// need the web app's `Origin`).
pub const SESSION_COOKIE: &str = "session_cookie";

/// The two ways to be signed in, as the document's security schemes.
pub fn security_schemes() -> [(&'static str, SecurityScheme); 2] {
    [
        (
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A mobile session: the token from POST /v1/auth/token."))
                    .build(),
            ),
        ),
        (
            SESSION_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::domain::session::COOKIE,
                "A web session, set by the BankID callback. A request that changes state also sends the web app's Origin.",
            ))),
        ),
    ]
}

/// What a signed-in route answers before its handler runs.
#[derive(IntoResponses)]
pub enum SignedInErrors {
    /// Not signed in, or the session has ended (`unauthorized`).
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The account is blocked, the role is missing, or a cookie request that changes state
    /// came without the web app's `Origin`.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// The database or the session keys did not answer; try again after `Retry-After`.
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds")))]
    Unavailable(ErrorBody),
}

/// What a route with a JSON body answers when the body is not one it takes.
#[derive(IntoResponses)]
pub enum JsonBodyErrors {
    /// Not JSON (`invalid_json`).
    #[response(status = 400)]
    InvalidJson(ErrorBody),
    /// Over 64 KiB (`payload_too_large`).
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// `Content-Type` is not `application/json` (`unsupported_media_type`).
    #[response(status = 415)]
    NotJson(ErrorBody),
    /// JSON of the wrong shape or with a value the route refuses; `details` names the field.
    #[response(status = 422)]
    Invalid(ErrorBody),
}

/// Too many requests from this client IP (`rate_limited`).
#[derive(IntoResponses)]
#[response(status = 429, headers(("Retry-After" = u64, description = "Seconds")))]
pub struct RateLimited(pub ErrorBody);

/// The database or another dependency did not answer (`service_unavailable`).
#[derive(IntoResponses)]
#[response(status = 503, headers(("Retry-After" = u64, description = "Seconds")))]
pub struct Unavailable(pub ErrorBody);
