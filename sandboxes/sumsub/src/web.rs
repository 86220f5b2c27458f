//! HTTP plumbing: bodies, query parameters and Sumsub's response shapes.

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

pub(crate) type Reply = Response<Full<Bytes>>;

/// Largest request body the sandbox reads (its requests are a few hundred bytes).
const MAX_BODY: usize = 64 * 1024;

/// Reads a body of at most [`MAX_BODY`] bytes; `None` if it is longer or broken.
pub(crate) async fn read_body(body: axum::body::Body) -> Option<Bytes> {
    Limited::new(body, MAX_BODY)
        .collect()
        .await
        .ok()
        .map(|c| c.to_bytes())
}

/// The first value of a query parameter; an empty value counts as absent.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.into_owned())
}

/// A JSON body, or the description for the 400 that says why it is not one.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|err| format!("Invalid request body: {err}"))
}

pub(crate) fn json(status: StatusCode, body: &Value) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body.to_string())));
    *reply.status_mut() = status;
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    reply
}

/// Sumsub's error shape: `{"code": 409, "description": "...", "correlationId": "req-..."}`.
pub(crate) fn error(status: StatusCode, description: &str) -> Reply {
    let mut body = json!({ "code": status.as_u16(), "description": description });
    if let Some(id) = crate::ids::correlation_id() {
        body["correlationId"] = Value::String(id);
    }
    json(status, &body)
}

pub(crate) fn not_found(description: &str) -> Reply {
    error(StatusCode::NOT_FOUND, description)
}

pub(crate) fn bad_request(description: &str) -> Reply {
    error(StatusCode::BAD_REQUEST, description)
}

pub(crate) fn method_not_allowed(allow: &'static str) -> Reply {
    let mut reply = error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    reply
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    reply
}

pub(crate) fn server_error() -> Reply {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The sandbox failed; see its log",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params() {
        let q = Some("levelName=basic-kyc+level&x=&levelName=second");
        assert_eq!(
            query_param(q, "levelName").as_deref(),
            Some("basic-kyc level")
        );
        assert_eq!(query_param(q, "x"), None);
        assert_eq!(query_param(None, "levelName"), None);
    }

    #[test]
    fn errors_have_sumsub_shape() {
        let reply = error(StatusCode::CONFLICT, "taken");
        assert_eq!(reply.status(), StatusCode::CONFLICT);
        assert_eq!(reply.headers()[CONTENT_TYPE], "application/json");
    }
}
