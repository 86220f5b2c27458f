//! The HTTP edge every API function shares: routing, request ids, body limits, rate limits,
//! JSON in and out, and the error envelope.
//!
//! A function declares its routes once in a [`Router`]. The Lambda `main`, the local API
//! server and the tests all call [`Router::handle`] with a `lambda_http::Request`, so an
//! API Gateway event, a local HTTP request and a test request take the same path.

use crate::edge::auth::{authenticate, Access, Principal, Role};
use crate::error::{ApiError, ErrorCode, ErrorDetail};
use crate::aws::rate_limit::{Decision, RatePolicy};
use crate::edge::state::AppState;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Instant;
use tracing::Instrument;

pub type Response = http::Response<Body>;
pub type HandlerResult = Result<Response, ApiError>;
type BoxFuture = Pin<Box<dyn Future<Output = HandlerResult> + Send>>;
type Handler = Box<dyn Fn(AppState, ApiRequest) -> BoxFuture + Send + Sync>;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Largest request body any route accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

struct Route {
    method: Method,
    path: &'static str,
    access: Access,
    rate_limit: Option<RatePolicy>,
    handler: Handler,
}

/// How to list other functions' path templates, and the list once made.
type RoutesElsewhere = (fn() -> Vec<String>, std::sync::OnceLock<Vec<String>>);

/// A function's routes and the shared edge around them.
pub struct Router {
    function: &'static str,
    routes: Vec<Route>,
    /// Path templates of routes other functions own, so that an unmatched request is told 405
    /// rather than 404 when its path exists with another method (API Gateway's `$default`
    /// route). Computed at the first unmatched request, not at init.
    elsewhere: Option<RoutesElsewhere>,
}

/// A route as other parts of the system see it (SAM template, OpenAPI, local server).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteKey {
    pub method: Method,
    pub path: &'static str,
}

impl std::fmt::Display for RouteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// One declared route, for [`Router::route`].
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub rate_limit: Option<RatePolicy>,
}

impl RouteSpec {
    /// Anyone may call it.
    pub fn public(method: Method, path: &'static str) -> Self {
        Self {
            method,
            path,
            access: Access::Public,
            rate_limit: None,
        }
    }

    /// Only a signed-in user may call it.
    pub fn signed_in(method: Method, path: &'static str) -> Self {
        Self {
            access: Access::SignedIn(Role::User),
            ..Self::public(method, path)
        }
    }

    /// Only a signed-in user holding `role` may call it.
    pub fn for_role(method: Method, path: &'static str, role: Role) -> Self {
        Self {
            access: Access::SignedIn(role),
            ..Self::public(method, path)
        }
    }

    pub fn limited(mut self, policy: RatePolicy) -> Self {
        self.rate_limit = Some(policy);
        self
    }
}

impl Router {
    pub fn new(function: &'static str) -> Self {
        Self {
            function,
            routes: Vec::new(),
            elsewhere: None,
        }
    }

    /// Makes this router the answer for requests no function claims. `paths` gives the path
    /// templates of every route (from the OpenAPI document, so that no other function's
    /// handlers are linked in); it runs once, at the first unmatched request.
    pub fn answering_unmatched_for(mut self, paths: fn() -> Vec<String>) -> Self {
        self.elsewhere = Some((paths, std::sync::OnceLock::new()));
        self
    }

    pub fn function(&self) -> &'static str {
        self.function
    }

    pub fn route<H, Fut>(mut self, spec: RouteSpec, handler: H) -> Self
    where
        H: Fn(AppState, ApiRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        self.routes.push(Route {
            method: spec.method,
            path: spec.path,
            access: spec.access,
            rate_limit: spec.rate_limit,
            handler: Box::new(move |state, req| Box::pin(handler(state, req))),
        });
        self
    }

    pub fn route_keys(&self) -> Vec<RouteKey> {
        self.routes
            .iter()
            .map(|r| RouteKey {
                method: r.method.clone(),
                path: r.path,
            })
            .collect()
    }

    /// Whether any route of this router has a path template matching `path`.
    pub fn serves_path(&self, path: &str) -> bool {
        self.routes
            .iter()
            .any(|r| match_path(r.path, path).is_some())
    }

    /// Serves one request end to end. Never fails: every error becomes the JSON envelope.
    pub async fn handle(&self, state: &AppState, req: lambda_http::Request) -> Response {
        let started = Instant::now();
        let request_id = request_id(&req);
        let method = req.method().clone();
        let span =
            tracing::info_span!("request", request_id = %request_id, function = self.function);
        async {
            let (route_path, result) = self.dispatch(state, req, &request_id).await;
            let mut response = match result {
                Ok(response) => response,
                Err(err) => {
                    log_error(&err);
                    error_response(&err)
                }
            };
            finish_headers(response.headers_mut(), &request_id);
            tracing::info!(
                method = %method,
                route = route_path.unwrap_or("unmatched"),
                status = response.status().as_u16(),
                elapsed_us = started.elapsed().as_micros() as u64,
                "handled"
            );
            response
        }
        .instrument(span)
        .await
    }

    async fn dispatch(
        &self,
        state: &AppState,
        req: lambda_http::Request,
        request_id: &str,
    ) -> (Option<&'static str>, HandlerResult) {
        let path = req.uri().path().to_owned();
        let mut path_matched = false;
        let mut found = None;
        for route in &self.routes {
            if let Some(params) = match_path(route.path, &path) {
                path_matched = true;
                if route.method == req.method() {
                    found = Some((route, params));
                    break;
                }
            }
        }
        let Some((route, params)) = found else {
            let known_elsewhere = |(paths, cell): &RoutesElsewhere| {
                cell.get_or_init(paths)
                    .iter()
                    .any(|template| match_path(template, &path).is_some())
            };
            let path_matched = path_matched || self.elsewhere.as_ref().is_some_and(known_elsewhere);
            let code = if path_matched {
                ErrorCode::MethodNotAllowed
            } else {
                ErrorCode::NotFound
            };
            return (None, Err(ApiError::new(code)));
        };
        let result = async {
            let mut api_req = ApiRequest::from_lambda(req, params, request_id)?;
            if let Some(policy) = route.rate_limit {
                let subject = api_req
                    .client_ip
                    .map(rate_limit_subject)
                    .unwrap_or_else(|| "unknown".into());
                if let Decision::Limited { retry_after_secs } =
                    state.rate_limiter.check(policy, &subject).await
                {
                    return Err(
                        ApiError::new(ErrorCode::RateLimited).with_retry_after(retry_after_secs)
                    );
                }
            }
            if let Access::SignedIn(role) = route.access {
                api_req.principal = Some(authenticate(state, &api_req, role).await?);
            }
            (route.handler)(state.clone(), api_req).await
        }
        .await;
        (Some(route.path), result)
    }
}

/// Matches `/v1/recipients/{id}` against a concrete path, returning the parameters.
fn match_path<'t>(template: &'t str, path: &str) -> Option<Vec<(&'t str, String)>> {
    let mut params = Vec::new();
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) => {
                if let Some(name) = ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    if ps.is_empty() {
                        return None;
                    }
                    params.push((name, ps.to_owned()));
                } else if ts != ps {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Whose requests count together: an IPv4 address, or an IPv6 /64 (one subscriber's prefix;
/// counting single IPv6 addresses would give every client 2^64 buckets).
fn rate_limit_subject(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The client's request id if it sent a sane one, else API Gateway's, else a new one.
fn request_id(req: &lambda_http::Request) -> String {
    let sane = |s: &str| {
        (1..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:=+/".contains(&b))
    };
    if let Some(id) = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|s| sane(s))
    {
        return id.to_owned();
    }
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() {
        if let Some(id) = ctx.request_id.as_deref().filter(|s| sane(s)) {
            return id.to_owned();
        }
    }
    uuid::Uuid::new_v4().to_string()
}

fn finish_headers(headers: &mut HeaderMap, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID, v);
    }
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
}

fn log_error(err: &ApiError) {
    if err.status().is_server_error() {
        tracing::error!(code = err.code.as_str(), causes = ?err.cause_chain(), "request failed");
    } else {
        tracing::info!(code = err.code.as_str(), causes = ?err.cause_chain(), "request refused");
    }
}

/// The JSON envelope for an error, with `Retry-After` where it applies.
pub fn error_response(err: &ApiError) -> Response {
    let mut response = json_response(err.status(), &err.body());
    if let Some(secs) = err.retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// A JSON response. Serialising our own types cannot fail; if it ever did, the client gets a
/// plain 500 envelope rather than a half-written body.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    let (status, bytes) = match serde_json::to_vec(body) {
        Ok(bytes) => (status, bytes),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"error":"internal_error","message":"Something went wrong on our side.","details":[]}"#.to_vec(),
        ),
    };
    let mut response = http::Response::new(Body::Binary(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A `302 Found` to `location`, setting `cookies` (each a `Set-Cookie` value).
pub fn redirect(location: &str, cookies: &[String]) -> HandlerResult {
    let mut response = http::Response::new(Body::Empty);
    *response.status_mut() = StatusCode::FOUND;
    let value = |v: &str| HeaderValue::from_str(v).map_err(ApiError::internal);
    response
        .headers_mut()
        .insert(http::header::LOCATION, value(location)?);
    for cookie in cookies {
        response
            .headers_mut()
            .append(http::header::SET_COOKIE, value(cookie)?);
    }
    Ok(response)
}

pub fn ok_json<T: Serialize + ?Sized>(body: &T) -> HandlerResult {
    Ok(json_response(StatusCode::OK, body))
}

/// A request as handlers see it: parsed once, body bounded, client IP and request id known.
#[derive(Debug)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub query: Vec<(String, String)>,
    /// The query string as sent, for parsers with their own rules (OAuth callbacks).
    pub raw_query: Option<String>,
    pub body: Bytes,
    pub path_params: Vec<(&'static str, String)>,
    pub request_id: String,
    pub client_ip: Option<IpAddr>,
    /// The signed-in caller, on routes that require one.
    pub principal: Option<Principal>,
}

impl ApiRequest {
    fn from_lambda(
        req: lambda_http::Request,
        path_params: Vec<(&'static str, String)>,
        request_id: &str,
    ) -> Result<Self, ApiError> {
        let client_ip = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => {
                ctx.http.source_ip.as_deref().and_then(|s| s.parse().ok())
            }
            _ => None,
        };
        let query = req
            .uri()
            .query()
            .map(form_urlencoded_pairs)
            .unwrap_or_default();
        let raw_query = req.uri().query().map(str::to_owned);
        let (parts, body) = req.into_parts();
        let declared_len = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared_len.is_some_and(|n| n > MAX_BODY_BYTES) {
            return Err(ApiError::new(ErrorCode::PayloadTooLarge));
        }
        let body = match body {
            Body::Empty => Bytes::new(),
            Body::Text(s) => Bytes::from(s),
            Body::Binary(b) => Bytes::from(b),
            _ => Bytes::new(),
        };
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::new(ErrorCode::PayloadTooLarge));
        }
        Ok(Self {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            headers: parts.headers,
            query,
            raw_query,
            body,
            path_params,
            request_id: request_id.to_owned(),
            client_ip,
            principal: None,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON of type `T`: `application/json` required, syntax errors are
    /// `invalid_json` (400), shape errors are `validation_failed` (422) naming the field.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let is_json = self
            .header("content-type")
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::new(ErrorCode::UnsupportedMediaType));
        }
        let de = &mut serde_json::Deserializer::from_slice(&self.body);
        let value = serde_path_to_error::deserialize(de).map_err(|err| {
            let field = err.path().to_string();
            let inner = err.into_inner();
            if inner.is_data() {
                let field = if field == "." { String::new() } else { field };
                let message = field_problem(&inner.to_string());
                ApiError::new(ErrorCode::ValidationFailed)
                    .with_detail(ErrorDetail::new(field, message.0, message.1))
            } else {
                ApiError::new(ErrorCode::InvalidJson)
            }
        })?;
        Ok(value)
    }
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

/// Decodes `a=1&b=x%20y` into pairs; malformed escapes are kept literally.
fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes[i] {
            b'%' => bytes
                .get(i + 1)
                .and_then(|&h| hex(h))
                .zip(bytes.get(i + 2).and_then(|&l| hex(l))),
            _ => None,
        };
        match (bytes[i], decoded) {
            (_, Some((h, l))) => {
                out.push(h * 16 + l);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_templates_match_segments_and_capture_parameters() {
        assert_eq!(match_path("/v1/corridors", "/v1/corridors"), Some(vec![]));
        assert_eq!(match_path("/v1/corridors", "/v1/corridors/"), None);
        assert_eq!(
            match_path("/v1/recipients/{id}", "/v1/recipients/abc"),
            Some(vec![("id", "abc".to_owned())])
        );
        assert_eq!(match_path("/v1/recipients/{id}", "/v1/recipients/"), None);
        assert_eq!(
            match_path("/v1/recipients/{id}", "/v1/recipients/a/b"),
            None
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_64_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(rate_limit_subject(a), rate_limit_subject(b));
        assert_eq!(
            rate_limit_subject("2001:db8:1:2::1".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            rate_limit_subject("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1"
        );
        assert_eq!(
            rate_limit_subject("192.0.2.1".parse().unwrap()),
            "192.0.2.1"
        );
    }

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

    #[test]
    fn query_strings_decode() {
        assert_eq!(
            form_urlencoded_pairs("a=1&b=x%20y&c=%zz&d"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "%zz".into()),
                ("d".into(), "".into())
            ]
        );
        assert_eq!(
            form_urlencoded_pairs("x=%4"),
            vec![("x".into(), "%4".into())]
        );
        assert_eq!(
            form_urlencoded_pairs("x=%C3%B8"),
            vec![("x".into(), "ø".into())]
        );
    }
}
