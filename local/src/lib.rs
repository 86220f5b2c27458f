//! The whole API on one local HTTP server: every function's router merged into one axum app
//! behind the edge's layers, with one outer layer that gives each request the API Gateway v2
//! context (source IP, request id) a Lambda request carries, so handlers cannot tell the two
//! apart. Also the one place that composes every function's OpenAPI entries.

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use drop_shared::edge::{self, Base};
use drop_shared::{ApiError, ErrorCode};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext;
use std::net::SocketAddr;
use tokio::net::TcpListener;

pub mod provision;

/// The most API Gateway accepts as a request body (10 MB); it answers 413 itself above.
pub const GATEWAY_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// One API function: its binary's name, its routes' OpenAPI entries, and what its Lambda serves.
pub struct Function {
    pub name: &'static str,
    pub openapi: fn() -> utoipa::openapi::OpenApi,
    pub router: fn(&Base) -> Router,
    pub app: fn(&Base) -> Router,
}

macro_rules! function {
    ($name:literal, $krate:ident) => {
        Function {
            name: $name,
            openapi: || $krate::routes().into_openapi(),
            router: $krate::router,
            app: $krate::app,
        }
    };
}

/// Every API function: the one table of who owns which route. The local server serves these;
/// the SAM template and the OpenAPI document must declare the same routes.
pub fn functions() -> [Function; 7] {
    [
        function!("api-auth", api_auth),
        function!("api-me", api_me),
        function!("api-kyc", api_kyc),
        function!("api-accounts", api_accounts),
        function!("api-rates", api_rates),
        function!("webhook-sumsub", webhook_sumsub),
        function!("api-meta", api_meta),
    ]
}

/// The OpenAPI document of the whole API, from each function's declarations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = utoipa::openapi::OpenApiBuilder::new()
        .info(
            utoipa::openapi::InfoBuilder::new()
                .title("Drop API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Send money abroad and pay by QR code from your own Norwegian bank account.",
                ))
                .build(),
        )
        .build();
    for function in functions() {
        doc.merge((function.openapi)());
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, scheme) in edge::openapi::security_schemes() {
        components.add_security_scheme(name, scheme);
    }
    doc
}

/// The document as `cargo xtask openapi` writes it to `functions/api-meta/openapi.json`.
pub fn openapi_json() -> String {
    let mut text = serde_json::to_string_pretty(&openapi()).unwrap_or_default();
    text.push('\n');
    text
}

/// Every function's routes in one app, as API Gateway and Lambda together would serve them.
pub fn app(base: &Base) -> Router {
    let routes = functions()
        .iter()
        .fold(Router::new(), |app, f| app.merge((f.router)(base)));
    edge::app(routes).layer(axum::middleware::from_fn(gateway))
}

/// What API Gateway does before a Lambda sees a request: reads the whole body (up to its own
/// limit, so an over-long body still gets the function's 413 on an open connection) and
/// attaches the request context with the client's address and a request id.
async fn gateway(req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    let (mut parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, GATEWAY_MAX_BODY_BYTES).await else {
        return ApiError::new(ErrorCode::PayloadTooLarge).into_response();
    };
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.request_id = Some(uuid::Uuid::new_v4().to_string());
    context.http.source_ip = peer.map(|p| p.ip().to_string());
    context.http.method = parts.method.clone();
    context.http.path = Some(parts.uri.path().to_owned());
    context.stage = Some("$default".to_owned());
    parts
        .extensions
        .insert(RequestContext::ApiGatewayV2(context));
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// The local API server.
pub struct LocalApi {
    app: Router,
}

impl LocalApi {
    pub fn new(base: Base) -> Self {
        Self { app: app(&base) }
    }

    /// Serves connections on `listener` until `shutdown` resolves, then lets requests in
    /// flight finish.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let service = self.app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(err) = axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %err, "local api stopped");
        }
    }
}
