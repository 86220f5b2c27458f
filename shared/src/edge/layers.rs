//! The layers every function's router is served behind, and the per-route rate limit.
//!
//! [`app`] wraps a router (one function's in Lambda, every function's in the local server):
//! request ids, a tracing span and the JSON access log, the body limit, and the response
//! headers every answer carries.

use crate::aws::rate_limit::{Decision, RateLimiter, RatePolicy};
use crate::edge::context::{self, RequestMeta, REQUEST_ID};
use crate::edge::error::{method_not_allowed, not_found};
use crate::edge::json::MAX_BODY_BYTES;
use crate::error::{ApiError, ErrorCode};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::handler::Handler;
use axum::http::header::{CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::net::IpAddr;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::request_id::PropagateRequestIdLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

/// `router` behind the edge's layers, ready for `lambda_http::run` or `axum::serve`: a path
/// it does not have is 404, a method it does not have 405 with `Allow`, both in the envelope.
pub fn app(router: Router) -> Router {
    app_with_fallback(router, not_found)
}

/// As [`app`], with `fallback` answering paths the router does not have.
pub fn app_with_fallback<H, T>(router: Router, fallback: H) -> Router
where
    H: Handler<T, ()>,
    T: 'static,
{
    router
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(fallback)
        .layer(axum::middleware::from_fn(within_deadline))
        .layer(
            ServiceBuilder::new()
                .map_request(context::identify::<axum::body::Body>)
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_request(())
                        .on_response(access_log)
                        .on_failure(()),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(SetResponseHeaderLayer::if_not_present(
                    CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
}

/// How long a request may take where no Lambda deadline says (the local server, tests): the
/// template's default function timeout.
pub const DEFAULT_REQUEST_BUDGET: Duration = Duration::from_secs(10);

/// Kept back from the Lambda's own deadline to answer in time.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// Answers 503 `service_unavailable` with our envelope before the function's deadline, if a
/// dependency has not answered by then, rather than letting Lambda cut the request off (API
/// Gateway would then answer without the envelope).
async fn within_deadline(req: Request, next: Next) -> Response {
    use lambda_http::RequestExt as _;
    let budget = req
        .lambda_context_ref()
        .and_then(|ctx| {
            ctx.deadline()
                .duration_since(std::time::SystemTime::now())
                .ok()
        })
        .unwrap_or(DEFAULT_REQUEST_BUDGET)
        .saturating_sub(DEADLINE_MARGIN);
    match tokio::time::timeout(budget, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::msg(
            ErrorCode::ServiceUnavailable,
            "A service Drop depends on did not answer in time.",
        )
        .with_retry_after(1)
        .into_response(),
    }
}

fn request_span(req: &Request) -> Span {
    let request_id = req
        .extensions()
        .get::<RequestMeta>()
        .map(|m| m.request_id.as_str())
        .unwrap_or_default();
    tracing::info_span!("request", request_id = %request_id, method = %req.method(), path = %req.uri().path())
}

fn access_log(response: &Response, latency: Duration, _span: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        elapsed_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        "handled"
    );
}

/// A route layer: at most `policy` requests per client IP, counted in DynamoDB by the
/// [`RateLimiter`] the function's router carries as an extension. Use it as
/// `.route_layer(axum::middleware::from_fn_with_state(RatePolicy::AUTH, edge::limit))`.
pub async fn limit(State(policy): State<RatePolicy>, req: Request, next: Next) -> Response {
    let Some(limiter) = req.extensions().get::<RateLimiter>().cloned() else {
        return ApiError::msg(ErrorCode::Internal, "route limited without a rate limiter")
            .into_response();
    };
    let subject = req
        .extensions()
        .get::<RequestMeta>()
        .and_then(|m| m.client_ip)
        .map(rate_limit_subject)
        .unwrap_or_else(|| "unknown".into());
    match limiter.check(policy, &subject).await {
        Decision::Limited { retry_after_secs } => ApiError::new(ErrorCode::RateLimited)
            .with_retry_after(retry_after_secs)
            .into_response(),
        Decision::Allowed { .. } => next.run(req).await,
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

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_dependency_that_does_not_answer_gets_the_503_envelope_before_the_lambda_deadline() {
        let hung = Router::new().route(
            "/hung",
            axum::routing::get(std::future::pending::<&'static str>),
        );
        let mut context = lambda_http::Context::default();
        let deadline = std::time::SystemTime::now() + Duration::from_millis(800);
        context.deadline = deadline
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let mut req = Request::new(axum::body::Body::empty());
        *req.uri_mut() = "/hung".parse().unwrap();
        req.extensions_mut().insert(context);
        let service = app(hung);
        let response = service.oneshot(req).await.unwrap();
        assert_eq!(
            response.status(),
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(response.headers()["retry-after"], "1");
        assert!(
            std::time::SystemTime::now() < deadline,
            "answered before the Lambda deadline"
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
}
