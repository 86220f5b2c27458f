//! `api-meta`: the health check and the OpenAPI document of every function's routes.

use drop_shared::error::ErrorBody;
use drop_shared::edge::{json_response, ok_json, ApiRequest, HandlerResult, RouteSpec, Router};
use drop_shared::{AppState, ErrorCode};
use http::{Method, StatusCode};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

pub const FUNCTION: &str = "api-meta";

/// Every API function's router: the one table of who owns which route. The local server
/// serves these; the SAM template and the OpenAPI document must declare the same routes.
pub fn all_routers() -> Vec<Router> {
    vec![
        api_auth::router(),
        api_me::router(),
        api_kyc::router(),
        api_rates::router(),
        webhook_sumsub::router(),
        router(),
    ]
}

/// What the Lambda serves: its own routes, and API Gateway's `$default` route — any request no
/// function's route matched — answered with the 404 or 405 envelope.
pub fn gateway_router() -> Router {
    router().answering_unmatched_for(|| openapi().paths.paths.keys().cloned().collect())
}

pub fn router() -> Router {
    Router::new(FUNCTION)
        .route(RouteSpec::public(Method::GET, "/v1/health"), health)
        .route(
            RouteSpec::public(Method::GET, "/v1/openapi.json"),
            openapi_json,
        )
}

#[derive(OpenApi)]
#[openapi(paths(health, openapi_json))]
pub struct ApiDoc;

/// The OpenAPI document of the whole API, generated from each function's declarations.
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
    doc.merge(ApiDoc::openapi());
    doc.merge(api_auth::ApiDoc::openapi());
    doc.merge(api_me::ApiDoc::openapi());
    doc.merge(api_kyc::ApiDoc::openapi());
    doc.merge(webhook_sumsub::ApiDoc::openapi());
    doc.merge(api_rates::ApiDoc::openapi());
    doc
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the database answers.
    pub status: &'static str,
    pub stage: String,
    pub version: &'static str,
}

#[utoipa::path(
    get, path = "/v1/health", tag = "meta",
    responses(
        (status = 200, description = "Serving, database reachable", body = Health),
        (status = 503, description = "Database unreachable", body = ErrorBody),
    )
)]
pub async fn health(state: AppState, _req: ApiRequest) -> HandlerResult {
    let conn = state.db.conn().await?;
    conn.query_typed("SELECT 1", &[]).await.map_err(|e| {
        drop_shared::ApiError::new(ErrorCode::ServiceUnavailable)
            .with_retry_after(5)
            .with_source(e)
    })?;
    ok_json(&Health {
        status: "ok",
        stage: state.config.stage.clone(),
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[utoipa::path(
    get, path = "/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "This document", content_type = "application/json"))
)]
pub async fn openapi_json(_state: AppState, _req: ApiRequest) -> HandlerResult {
    let mut response = json_response(StatusCode::OK, &openapi());
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}
