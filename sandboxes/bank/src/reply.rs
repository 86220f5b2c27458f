//! Answers in the spec's shapes: JSON bodies, and errors as NextGenPSD2 `tppMessages`
//! (`{"tppMessages":[{"category":"ERROR","code":"FORMAT_ERROR","text":"…"}]}`).

use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use serde_json::{json, Value};

/// The spec's limit on a `tppMessages` text.
const MAX_TEXT: usize = 500;

/// A refused Berlin Group request: the status, the NextGenPSD2 code and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BgError {
    pub status: StatusCode,
    pub code: &'static str,
    pub text: String,
}

impl BgError {
    pub(crate) fn new(status: StatusCode, code: &'static str, text: impl Into<String>) -> Self {
        Self {
            status,
            code,
            text: text.into(),
        }
    }

    /// 400 `FORMAT_ERROR`: a header or the body is not what the spec asks for.
    pub(crate) fn format(text: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "FORMAT_ERROR", text)
    }

    /// 404 `RESOURCE_UNKNOWN`.
    pub(crate) fn unknown(text: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_UNKNOWN", text)
    }

    /// 409 `STATUS_INVALID`: the resource's status does not allow the call.
    pub(crate) fn status_invalid(text: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "STATUS_INVALID", text)
    }
}

impl IntoResponse for BgError {
    fn into_response(self) -> Response {
        tpp_error(self.status, self.code, &self.text)
    }
}

/// A `tppMessages` body with one error.
pub(crate) fn tpp_messages(code: &str, text: &str) -> Value {
    let text: String = text.chars().take(MAX_TEXT).collect();
    json!({ "tppMessages": [{ "category": "ERROR", "code": code, "text": text }] })
}

pub(crate) fn tpp_error(status: StatusCode, code: &str, text: &str) -> Response {
    json_response(status, &tpp_messages(code, text))
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(crate) fn html_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `{"error": "…"}`: how the sandbox-only control API refuses a request.
pub(crate) fn control_error(status: StatusCode, text: &str) -> Response {
    json_response(status, &json!({ "error": text }))
}

/// Escapes text for HTML.
pub(crate) fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpp_messages_shape_and_limit() {
        let body = tpp_messages("FORMAT_ERROR", &"x".repeat(600));
        assert_eq!(body["tppMessages"][0]["category"], "ERROR");
        assert_eq!(body["tppMessages"][0]["code"], "FORMAT_ERROR");
        assert_eq!(
            body["tppMessages"][0]["text"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            500
        );
        let response = BgError::format("no").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    }

    #[test]
    fn html_escaping() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }
}
