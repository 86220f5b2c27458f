//! HTTP plumbing: parameters, bodies and the response shapes an OAuth server answers with.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, PRAGMA, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{json, Value};

pub(crate) type Reply = Response<Full<Bytes>>;

/// Largest request body the sandbox reads (forms are a few hundred bytes).
const MAX_BODY: usize = 16 * 1024;
/// Largest single parameter value kept (state, nonce, redirect URIs...).
const MAX_VALUE: usize = 2048;

/// Form or query parameters (`application/x-www-form-urlencoded`).
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

/// Why a parameter cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamError {
    /// Given more than once (RFC 6749 §3.1: "MUST NOT be included more than once").
    Repeated,
    /// Longer than the sandbox keeps.
    TooLong,
}

impl ParamError {
    pub(crate) fn describe(self, name: &str) -> String {
        match self {
            Self::Repeated => format!("{name} is given more than once"),
            Self::TooLong => format!("{name} is longer than {MAX_VALUE} bytes"),
        }
    }
}

impl Params {
    pub(crate) fn parse(input: &[u8]) -> Self {
        Self {
            pairs: form_urlencoded::parse(input).into_owned().collect(),
        }
    }

    /// The one value of `name`; an empty value counts as absent (RFC 6749 §3.1).
    pub(crate) fn one(&self, name: &str) -> Result<Option<&str>, ParamError> {
        let mut values = self
            .pairs
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str());
        match (values.next(), values.next()) {
            (Some(_), Some(_)) => Err(ParamError::Repeated),
            (Some(v), None) if v.len() > MAX_VALUE => Err(ParamError::TooLong),
            (v, _) => Ok(v),
        }
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(k, _)| k.as_str())
    }
}

/// Reads a body of at most [`MAX_BODY`] bytes; `None` if it is longer or broken.
pub(crate) async fn read_body(body: axum::body::Body) -> Option<Bytes> {
    Limited::new(body, MAX_BODY)
        .collect()
        .await
        .ok()
        .map(|c| c.to_bytes())
}

fn response(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut reply = Response::new(Full::new(body.into()));
    *reply.status_mut() = status;
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    reply
}

pub(crate) fn json(status: StatusCode, body: &Value) -> Reply {
    let mut reply = response(status, "application/json", body.to_string());
    reply
        .headers_mut()
        .insert(PRAGMA, HeaderValue::from_static("no-cache"));
    reply
}

pub(crate) fn jwt(token: String) -> Reply {
    response(StatusCode::OK, "application/jwt", token)
}

/// A self-contained HTML page that loads nothing and cannot be framed.
pub(crate) fn html(status: StatusCode, page: String) -> Reply {
    let mut reply = response(status, "text/html; charset=utf-8", page);
    let headers = reply.headers_mut();
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    reply
}

/// `{error, error_description}` (RFC 6749 §5.2).
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Reply {
    json(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

/// 401 `invalid_client` with the challenge for HTTP Basic (RFC 6749 §5.2).
pub(crate) fn invalid_client(description: &str) -> Reply {
    let mut reply = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    reply.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Basic realm="bankid-sandbox""#),
    );
    reply
}

/// 401 with a Bearer challenge (RFC 6750 §3); `error` is left out when no token was sent.
pub(crate) fn bearer_challenge(error: Option<&'static str>) -> Reply {
    let (challenge, body) = match error {
        Some(e) => (
            format!(r#"Bearer realm="bankid-sandbox", error="{e}""#),
            json!({ "error": e, "error_description": "the access token is unknown or expired" }),
        ),
        None => (
            r#"Bearer realm="bankid-sandbox""#.to_owned(),
            json!({ "error": "invalid_request", "error_description": "a Bearer access token is required" }),
        ),
    };
    let mut reply = json(StatusCode::UNAUTHORIZED, &body);
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        reply.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    reply
}

/// `base?k=v&...`, appending to any query `base` already has. `None` if the result is not a
/// valid header value (it always is: form encoding leaves only visible ASCII).
pub(crate) fn with_query(base: &str, params: &[(&str, &str)]) -> Option<HeaderValue> {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let separator = if base.contains('?') { '&' } else { '?' };
    HeaderValue::from_str(&format!("{base}{separator}{query}")).ok()
}

/// A redirect to `location` with `status` (302 or 303).
pub(crate) fn redirect(status: StatusCode, location: HeaderValue) -> Reply {
    let mut reply = response(status, "text/plain; charset=utf-8", "");
    reply.headers_mut().insert(LOCATION, location);
    reply
}

pub(crate) fn not_found() -> Reply {
    oauth_error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

pub(crate) fn method_not_allowed(allow: &'static str) -> Reply {
    let mut reply = oauth_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        "method not allowed",
    );
    reply
        .headers_mut()
        .insert(http::header::ALLOW, HeaderValue::from_static(allow));
    reply
}

pub(crate) fn server_error() -> Reply {
    oauth_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the sandbox failed; see its log",
    )
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        let p = Params::parse(b"a=1&b=&c=x%20y+z&d=1&d=2&e=");
        assert_eq!(p.one("a"), Ok(Some("1")));
        assert_eq!(p.one("b"), Ok(None));
        assert_eq!(p.one("c"), Ok(Some("x y z")));
        assert_eq!(p.one("d"), Err(ParamError::Repeated));
        assert_eq!(p.one("missing"), Ok(None));
        let long = format!("a={}", "x".repeat(MAX_VALUE + 1));
        assert_eq!(
            Params::parse(long.as_bytes()).one("a"),
            Err(ParamError::TooLong)
        );
    }

    #[test]
    fn queries_and_escaping() {
        let v = with_query("http://h/cb", &[("code", "a b"), ("state", "s&t")]).unwrap();
        assert_eq!(v, "http://h/cb?code=a+b&state=s%26t");
        let v = with_query("http://h/cb?x=1", &[("code", "c")]).unwrap();
        assert_eq!(v, "http://h/cb?x=1&code=c");
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
