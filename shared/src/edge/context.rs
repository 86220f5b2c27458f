//! What every request carries besides its own content: its ids and the client's address,
//! read from the API Gateway v2 context a Lambda request has (the local server gives each
//! request the same context, so handlers cannot tell the two apart).

use crate::error::{ApiError, ErrorCode};
use crate::store::audit::Origin;
use axum::extract::FromRequestParts;
use axum::http::header::HeaderName;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Request};
use lambda_http::request::RequestContext;
use std::net::IpAddr;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's ids and the client's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMeta {
    /// API Gateway's id for the request (a fresh one where there is no gateway).
    pub request_id: String,
    /// The id the client sent in `x-request-id`, if it is sane; echoed back to it.
    pub client_request_id: Option<String>,
    pub client_ip: Option<IpAddr>,
}

impl RequestMeta {
    fn of(headers: &axum::http::HeaderMap, context: Option<&RequestContext>) -> Self {
        let gateway = match context {
            Some(RequestContext::ApiGatewayV2(ctx)) => Some(ctx),
            _ => None,
        };
        let request_id = gateway
            .and_then(|ctx| ctx.request_id.as_deref())
            .filter(|id| sane_id(id))
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let client_request_id = headers
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|id| sane_id(id))
            .map(str::to_owned);
        let client_ip = gateway
            .and_then(|ctx| ctx.http.source_ip.as_deref())
            .and_then(|ip| ip.parse().ok());
        Self {
            request_id,
            client_request_id,
            client_ip,
        }
    }

    /// The id the response carries: the client's if it sent a sane one, else the gateway's.
    pub fn echoed_id(&self) -> &str {
        self.client_request_id
            .as_deref()
            .unwrap_or(&self.request_id)
    }

    /// Where this request came from, for the audit trail.
    pub fn origin(&self) -> Origin {
        Origin {
            request_id: self.request_id.clone(),
            client_request_id: self.client_request_id.clone(),
            ip: self.client_ip,
        }
    }
}

fn sane_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:=+/".contains(&b))
}

/// The first layer: works out the request's ids, keeps them in its extensions and sets
/// `x-request-id` to the id the response will echo.
pub fn identify<B>(mut req: Request<B>) -> Request<B> {
    let meta = RequestMeta::of(req.headers(), req.extensions().get::<RequestContext>());
    if let Ok(value) = HeaderValue::from_str(meta.echoed_id()) {
        req.headers_mut().insert(REQUEST_ID, value);
    }
    req.extensions_mut().insert(meta);
    req
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<RequestMeta>()
            .cloned()
            .ok_or_else(|| ApiError::msg(ErrorCode::Internal, "request without its context"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;

    fn meta(header: Option<&str>, gateway_id: Option<&str>) -> RequestMeta {
        let mut headers = axum::http::HeaderMap::new();
        if let Some(h) = header {
            headers.insert(REQUEST_ID, HeaderValue::from_str(h).unwrap());
        }
        let mut ctx = ApiGatewayV2httpRequestContext::default();
        ctx.request_id = gateway_id.map(str::to_owned);
        ctx.http.source_ip = Some("192.0.2.7".into());
        RequestMeta::of(&headers, Some(&RequestContext::ApiGatewayV2(ctx)))
    }

    #[test]
    fn the_gateway_id_is_kept_and_a_sane_client_id_beside_it() {
        let m = meta(Some("client-1"), Some("gw-1"));
        assert_eq!(m.request_id, "gw-1");
        assert_eq!(m.client_request_id.as_deref(), Some("client-1"));
        assert_eq!(m.echoed_id(), "client-1");
        assert_eq!(m.client_ip, Some("192.0.2.7".parse().unwrap()));

        let m = meta(Some("<script>"), Some("gw-2"));
        assert_eq!(m.client_request_id, None);
        assert_eq!(m.echoed_id(), "gw-2");

        let m = meta(None, None);
        assert!(uuid::Uuid::parse_str(&m.request_id).is_ok());
    }
}
