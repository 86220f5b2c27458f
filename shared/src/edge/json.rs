//! JSON in and out, and query strings, with the envelope's codes: a body that is not
//! `application/json` is 415 `unsupported_media_type`, one over the limit 413
//! `payload_too_large`, bad syntax 400 `invalid_json`, a bad shape 422 `validation_failed`
//! naming the field — never quoting the client's value, which may be personal data.

use crate::error::{ApiError, ErrorCode, ErrorDetail};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Largest request body any route accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON object as the request body (as an extractor), or a JSON response (as a return value).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::new(ErrorCode::UnsupportedMediaType));
        }
        let RawBody(body) = RawBody::from_request(req, state).await?;
        let value = parse_json(&body)?;
        // serde also reads a struct from a JSON array of its fields: every body is an object.
        if body.trim_ascii_start().first() != Some(&b'{') {
            return Err(invalid_field(
                "",
                "invalid type: not an object, expected a JSON object",
            ));
        }
        Ok(Json(value))
    }
}

/// The body's bytes as sent (for signatures over the raw body), within the body limit.
#[derive(Debug, Clone, Default)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|rejection| match rejection.status() {
                axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::new(ErrorCode::PayloadTooLarge)
                }
                _ => ApiError::new(ErrorCode::InvalidJson).with_source(rejection),
            })
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Parses `body` as JSON of type `T` with the envelope's codes.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let field = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_data() {
            invalid_field(&field, &inner.to_string())
        } else {
            ApiError::new(ErrorCode::InvalidJson)
        }
    })
}

/// A query string of type `T`; a parameter of the wrong shape is 422 naming it.
#[derive(Debug, Clone, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|err| {
                let field = err.path().to_string();
                invalid_field(&field, &err.into_inner().to_string())
            })
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

fn invalid_field(field: &str, serde_message: &str) -> ApiError {
    let field = if field == "." { "" } else { field };
    let (code, message) = field_problem(serde_message);
    ApiError::new(ErrorCode::ValidationFailed).with_detail(ErrorDetail::new(field, code, message))
}

/// A stable code and a message for serde's complaint about a field, without the client's
/// value (serde quotes it: `invalid type: string "…"`), which may be personal data.
fn field_problem(serde_message: &str) -> (&'static str, String) {
    let message = serde_message
        .split(" at line")
        .next()
        .unwrap_or(serde_message);
    if let Some(rest) = message.strip_prefix("missing field ") {
        return ("missing", format!("The field {rest} is required."));
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let name = rest.split(',').next().unwrap_or(rest);
        return ("unknown_field", format!("The field {name} is not allowed."));
    }
    match message.split_once(", expected ") {
        Some((_, expected)) => ("invalid", format!("Expected {expected}.")),
        None => ("invalid", "The value is not valid here.".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_problems_never_quote_the_value() {
        let (code, msg) = field_problem(
            r#"invalid type: string "15108695088", expected u32 at line 1 column 20"#,
        );
        assert_eq!((code, msg.as_str()), ("invalid", "Expected u32."));
        assert_eq!(field_problem("missing field `send_amount`").0, "missing");
        let (code, msg) = field_problem("unknown field `fee`, expected one of `a`, `b`");
        assert_eq!(
            (code, msg.as_str()),
            ("unknown_field", "The field `fee` is not allowed.")
        );
        assert!(!field_problem(r#"unknown variant `secret-value`"#)
            .1
            .contains("secret"));
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Pair {
        #[serde(default)]
        a: Option<String>,
    }

    async fn extract(body: &'static str) -> Result<Pair, ApiError> {
        let req = Request::builder()
            .header(CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(body))
            .unwrap();
        Json::<Pair>::from_request(req, &()).await.map(|Json(p)| p)
    }

    #[tokio::test]
    async fn a_body_is_an_object_never_an_array_of_fields() {
        assert_eq!(
            extract(r#" {"a":"x"}"#).await.unwrap().a.as_deref(),
            Some("x")
        );
        for array in ["[]", r#"["x"]"#, " [ ] "] {
            let err = extract(array).await.unwrap_err();
            assert_eq!(err.code, ErrorCode::ValidationFailed, "{array}");
        }
        assert_eq!(extract("[").await.unwrap_err().code, ErrorCode::InvalidJson);
    }
}
