//! The whole API on one local HTTP server: each request is handed, as a `lambda_http`
//! request with an API Gateway v2 context, to the router of the function that owns its route,
//! exactly as that function's Lambda `main` would.

use bytes::Bytes;
use drop_shared::edge::{Router, MAX_BODY_BYTES};
use drop_shared::AppState;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

pub mod provision;

/// Every function's router (see [`api_meta::all_routers`]).
pub fn functions() -> Vec<Router> {
    api_meta::all_routers()
}

/// Routes requests to the owning function's router.
pub struct LocalApi {
    state: AppState,
    functions: Vec<Router>,
    fallback: Router,
}

impl LocalApi {
    pub fn new(state: AppState) -> Self {
        Self {
            state,
            functions: functions(),
            fallback: api_meta::gateway_router(),
        }
    }

    /// Serves one request as API Gateway and Lambda would.
    pub async fn serve(
        &self,
        req: http::Request<Incoming>,
        peer: SocketAddr,
    ) -> http::Response<Full<Bytes>> {
        let (mut parts, body) = req.into_parts();
        // Read at most one byte past the limit; a longer body is declared too long and dropped,
        // and the router answers 413 as it would for API Gateway's event.
        let body = match Limited::new(body, MAX_BODY_BYTES + 1).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                parts.headers.insert(
                    http::header::CONTENT_LENGTH,
                    http::HeaderValue::from(MAX_BODY_BYTES + 1),
                );
                Bytes::new()
            }
        };
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some(peer.ip().to_string());
        context.http.method = parts.method.clone();
        context.http.path = Some(parts.uri.path().to_owned());
        context.stage = Some("$default".to_owned());
        let body = if body.is_empty() {
            Body::Empty
        } else {
            Body::Binary(body.to_vec())
        };
        let request = http::Request::from_parts(parts, body)
            .with_request_context(RequestContext::ApiGatewayV2(context));
        let path = request.uri().path().to_owned();
        let router = self
            .functions
            .iter()
            .find(|r| r.serves_path(&path))
            .unwrap_or(&self.fallback);
        let (parts, body) = router.handle(&self.state, request).await.into_parts();
        let bytes = match body {
            Body::Empty => Bytes::new(),
            Body::Text(s) => Bytes::from(s),
            Body::Binary(b) => Bytes::from(b),
            _ => Bytes::new(),
        };
        http::Response::from_parts(parts, Full::new(bytes))
    }

    /// Accepts connections on `listener` until `shutdown` resolves.
    pub async fn run(self, listener: TcpListener, shutdown: impl std::future::Future<Output = ()>) {
        let api = Arc::new(self);
        let handler = move |req, peer| {
            let api = api.clone();
            async move { api.serve(req, peer).await }
        };
        drop_shared::edge::serve::serve_http1(listener, "local api", handler, shutdown).await;
    }
}
