//! What every Berlin Group request goes through, before and after its handler: the request log,
//! injected faults, the `X-Request-ID` check and echo, blocked PSUs — and the header checks the
//! handlers share.

use crate::banks::{self, Bank};
use crate::faults::FaultKind;
use crate::reply::{self, BgError};
use crate::Sandbox;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::Arc;

pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub(crate) const ASPSP_SCA_APPROACH: HeaderName = HeaderName::from_static("aspsp-sca-approach");

/// Largest request body read (Berlin Group bodies are a few hundred bytes).
const MAX_BODY: usize = 64 * 1024;

/// The bank a request is addressed to (its first path segment), for the handlers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BankRef(pub &'static Bank);

/// The middleware of every Berlin Group route.
pub(crate) async fn berlin_group(
    State(sandbox): State<Arc<Sandbox>>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = request
        .headers()
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| uuid::Uuid::parse_str(v).is_ok())
        .map(str::to_owned);
    let mut response = handle(&sandbox, request, next, request_id.is_some()).await;
    echo_request_id(&mut response, request_id);
    response
}

/// Answers carry the request's `X-Request-ID`; a request without a valid one gets a new one
/// (the spec requires the header on every answer).
fn echo_request_id(response: &mut Response, request_id: Option<String>) {
    let id = request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
}

async fn handle(sandbox: &Sandbox, request: Request, next: Next, has_request_id: bool) -> Response {
    let (parts, body) = request.into_parts();
    let slug = parts
        .uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    let Some(bank) = banks::find(slug) else {
        return BgError::unknown("There is no such bank").into_response();
    };
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return BgError::format("The body is too large or could not be read").into_response();
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |pq| pq.as_str());
    sandbox.received.record(
        bank.slug,
        parts.method.as_str(),
        path,
        &parts.headers,
        &body,
    );
    let fault = sandbox.faults.take(bank.id);
    if let Some(kind) = fault {
        tracing::info!(bank = bank.slug, ?kind, "bank sandbox: injecting a fault");
    }
    let config = &sandbox.core.config;
    let request = Request::from_parts(parts, Body::from(body));
    match fault {
        None => normal(bank, request, next, has_request_id).await,
        Some(FaultKind::Status500) => reply::tpp_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "The bank failed (sandbox fault status500)",
        ),
        Some(FaultKind::Status503) => reply::tpp_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "The bank is unavailable (sandbox fault status503)",
        ),
        Some(FaultKind::Timeout) => {
            sandbox.hold(config.timeout_hold).await;
            reply::tpp_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "The bank did not answer in time (sandbox fault timeout)",
            )
        }
        Some(FaultKind::Slow) => {
            sandbox.hold(config.slow_delay).await;
            normal(bank, request, next, has_request_id).await
        }
        Some(FaultKind::Html) => reply::html_response(
            StatusCode::OK,
            "<!doctype html><html><head><title>Service Unavailable</title></head>\
             <body><h1>Service Unavailable</h1><p>The online bank is down for maintenance.</p>\
             </body></html>"
                .to_owned(),
        ),
        Some(FaultKind::Malformed) => {
            reply::json_response(StatusCode::OK, &json!({ "consentStatus": 7 }))
        }
        Some(FaultKind::Error200) => reply::json_response(
            StatusCode::OK,
            &reply::tpp_messages(
                "INTERNAL_SERVER_ERROR",
                "The bank failed (sandbox fault error200)",
            ),
        ),
        Some(FaultKind::Embedded) => {
            embedded(normal(bank, request, next, has_request_id).await).await
        }
    }
}

/// The request as the bank answers it when nothing is injected.
async fn normal(
    bank: &'static Bank,
    mut request: Request,
    next: Next,
    has_request_id: bool,
) -> Response {
    if !has_request_id {
        return BgError::format("X-Request-ID is missing or not a UUID").into_response();
    }
    if header(request.headers(), "psu-id") == Some(crate::persons::Person::Blocked.name()) {
        return BgError::new(
            StatusCode::FORBIDDEN,
            "SERVICE_BLOCKED",
            "The bank has blocked this PSU",
        )
        .into_response();
    }
    request.extensions_mut().insert(BankRef(bank));
    next.run(request).await
}

/// The `embedded` fault: the answer claims the EMBEDDED approach and has no `scaRedirect` (nor
/// `startAuthorisation`), but a link to start an embedded authorisation instead.
async fn embedded(response: Response) -> Response {
    if !response.headers().contains_key(ASPSP_SCA_APPROACH) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    parts
        .headers
        .insert(ASPSP_SCA_APPROACH, HeaderValue::from_static("EMBEDDED"));
    parts.headers.remove(CONTENT_LENGTH);
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if let Some(links) = value.get_mut("_links").and_then(Value::as_object_mut) {
        links.remove("scaRedirect");
        let start = links.remove("startAuthorisation").or_else(|| {
            links
                .get("self")
                .and_then(|s| s["href"].as_str())
                .map(|href| json!({ "href": format!("{href}/authorisations") }))
        });
        match start {
            Some(start) => {
                links.insert("startAuthorisationWithPsuAuthentication".into(), start);
            }
            None => {
                if let Some(status) = links.get("scaStatus").cloned() {
                    links.insert("updatePsuAuthentication".into(), status);
                }
            }
        }
    }
    Response::from_parts(parts, Body::from(value.to_string()))
}

/// A known path with another method: 405 `SERVICE_INVALID` (the `Allow` header is added by the
/// router).
pub(crate) async fn method_not_allowed() -> Response {
    BgError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "SERVICE_INVALID",
        "The method is not allowed on this resource",
    )
    .into_response()
}

/// Any other path: 404 `RESOURCE_UNKNOWN`, echoing `X-Request-ID`.
pub(crate) async fn not_found(headers: HeaderMap) -> Response {
    let mut response = BgError::unknown("There is no such resource").into_response();
    let request_id = header(&headers, "x-request-id")
        .filter(|v| uuid::Uuid::parse_str(v).is_ok())
        .map(str::to_owned);
    echo_request_id(&mut response, request_id);
    response
}

// ---------------------------------------------------------------------------------------------
// Header checks shared by the handlers

/// A header's value, if present and text.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `PSU-IP-Address`: required on initiations, optional elsewhere; an IP address if present.
pub(crate) fn psu_ip(headers: &HeaderMap, required: bool) -> Result<Option<IpAddr>, BgError> {
    match headers.get("psu-ip-address") {
        None if required => Err(BgError::format("PSU-IP-Address is missing")),
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
            .map(Some)
            .ok_or_else(|| BgError::format("PSU-IP-Address is not an IP address")),
    }
}

/// An absolute `http(s)` URI in header `name`, if present.
fn uri_header(headers: &HeaderMap, name: &str) -> Result<Option<String>, BgError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text = value.to_str().ok();
    let uri = text.and_then(|t| t.parse::<http::Uri>().ok());
    let absolute = uri.as_ref().is_some_and(|u| {
        matches!(u.scheme_str(), Some("http" | "https")) && u.authority().is_some()
    });
    match (text, absolute) {
        (Some(text), true) => Ok(Some(text.to_owned())),
        _ => Err(BgError::format(format!(
            "{} is not an absolute http(s) URI",
            canonical(name)
        ))),
    }
}

fn canonical(name: &str) -> &'static str {
    match name {
        "tpp-redirect-uri" => "TPP-Redirect-URI",
        "tpp-nok-redirect-uri" => "TPP-Nok-Redirect-URI",
        "tpp-notification-uri" => "TPP-Notification-URI",
        _ => "A header",
    }
}

/// Where the PSU goes after SCA: `TPP-Redirect-URI` (required for the REDIRECT approach) and
/// `TPP-Nok-Redirect-URI`.
pub(crate) fn redirects(headers: &HeaderMap) -> Result<(String, Option<String>), BgError> {
    let ok = uri_header(headers, "tpp-redirect-uri")?.ok_or_else(|| {
        BgError::format("TPP-Redirect-URI is missing (the SCA approach is REDIRECT)")
    })?;
    let nok = uri_header(headers, "tpp-nok-redirect-uri")?;
    Ok((ok, nok))
}

/// `TPP-Notification-URI`, if given.
pub(crate) fn notification_uri(headers: &HeaderMap) -> Result<Option<String>, BgError> {
    uri_header(headers, "tpp-notification-uri")
}

/// Whether the body is JSON (`Content-Type: application/json`); a bank answers 415 if not.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let media = header(headers, CONTENT_TYPE.as_str())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    media.as_deref() == Some("application/json")
}

/// `{"href": url}`.
pub(crate) fn href(url: &str) -> Value {
    json!({ "href": url })
}

/// A 201 of an initiation: `ASPSP-SCA-Approach: REDIRECT` and `Location`.
pub(crate) fn created(body: &Value, location: &str) -> Response {
    let mut response = reply::json_response(StatusCode::CREATED, body);
    let headers = response.headers_mut();
    headers.insert(ASPSP_SCA_APPROACH, HeaderValue::from_static("REDIRECT"));
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(http::header::LOCATION, location);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn psu_ip_addresses() {
        assert_eq!(psu_ip(&headers(&[]), false), Ok(None));
        assert!(psu_ip(&headers(&[]), true).is_err());
        assert_eq!(
            psu_ip(&headers(&[("psu-ip-address", "192.168.8.78")]), true),
            Ok(Some("192.168.8.78".parse().unwrap()))
        );
        assert!(psu_ip(&headers(&[("psu-ip-address", "localhost")]), false).is_err());
    }

    #[test]
    fn redirect_uris() {
        assert!(redirects(&headers(&[])).is_err());
        assert_eq!(
            redirects(&headers(&[(
                "tpp-redirect-uri",
                "https://tpp.example/ok?s=1"
            )])),
            Ok(("https://tpp.example/ok?s=1".into(), None))
        );
        for bad in ["/relative", "ftp://tpp.example/", "not a uri"] {
            let map = headers(&[
                ("tpp-redirect-uri", "https://tpp.example/ok"),
                ("tpp-nok-redirect-uri", bad),
            ]);
            let error = redirects(&map).unwrap_err();
            assert!(error.text.contains("TPP-Nok-Redirect-URI"), "{bad}");
        }
        assert_eq!(notification_uri(&headers(&[])), Ok(None));
    }

    #[test]
    fn json_bodies() {
        assert!(is_json(&headers(&[(
            "content-type",
            "application/json; charset=utf-8"
        )])));
        assert!(!is_json(&headers(&[("content-type", "text/plain")])));
        assert!(!is_json(&headers(&[])));
    }
}
