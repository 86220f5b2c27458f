//! The HTTP edge on axum: the error envelope, JSON and query extractors, request ids and
//! the client's address, the signed-in caller, rate limits, and the layers every function is
//! served behind. A function's library exposes its routes as a `utoipa_axum` router; its
//! `main` hands `edge::app(router)` to `lambda_http::run`.

pub mod auth;
pub mod base;
pub mod context;
pub mod error;
pub mod json;
pub mod layers;
pub mod openapi;
pub mod routes;

pub use auth::{Admin, Authenticator, Me, Merchant, Principal, SignedIn};
pub use base::{Base, LAMBDA_POOL_SIZE};
pub use context::{RequestMeta, REQUEST_ID};
pub use error::{method_not_allowed, not_found};
pub use json::{Json, Query, RawBody, MAX_BODY_BYTES};
pub use layers::{app, app_with_fallback, limit};
pub use routes::serving;

/// A `302 Found` to `location`, setting `cookies` (each a `Set-Cookie` value).
pub fn redirect(
    location: &str,
    cookies: &[String],
) -> Result<axum::response::Response, crate::error::ApiError> {
    use axum::http::{header, HeaderValue, StatusCode};
    let value = |v: &str| HeaderValue::from_str(v).map_err(crate::error::ApiError::internal);
    let mut response = axum::response::IntoResponse::into_response(StatusCode::FOUND);
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, value(location)?);
    for cookie in cookies {
        headers.append(header::SET_COOKIE, value(cookie)?);
    }
    Ok(response)
}
