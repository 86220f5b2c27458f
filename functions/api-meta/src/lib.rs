//! `api-meta`: the health check, the OpenAPI document of every function's routes, and API
//! Gateway's `$default` route (a request no function's route matched: 404 or 405).
//!
//! The document is generated from every function's `utoipa-axum` routes by `cargo xtask
//! openapi` into `openapi.json` beside this crate (a test keeps it fresh) and embedded here,
//! so this function links no other function.

use axum::extract::State as Extract;
use axum::http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use drop_shared::aws::rate_limit::RatePolicy;
use drop_shared::edge::openapi::RateLimited;
use drop_shared::edge::{self, Base, Json};
use drop_shared::error::ErrorBody;
use drop_shared::routes;
use drop_shared::store::Db;
use drop_shared::{ApiError, ErrorCode};
use serde::Serialize;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

/// The whole API's OpenAPI document (see the module's documentation).
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// How long one database check answers for an instance's health.
pub const HEALTH_TTL: Duration = Duration::from_secs(10);

/// What api-meta uses: the database, for a health check at most every [`HEALTH_TTL`].
#[derive(Clone)]
pub struct State(Arc<Parts>);

pub struct Parts {
    db: Db,
    stage: String,
    /// When the database last answered.
    healthy_at: Mutex<Option<Instant>>,
}

/// The routes and their OpenAPI entries; public, the health check rate-limited per IP.
pub fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .route_layer(from_fn_with_state(RatePolicy::HEALTH, edge::limit))
        .routes(routes!(openapi_json))
}

pub fn router(base: &Base) -> Router {
    let router = edge::serving(routes);
    router
        .with_state(State(Arc::new(Parts {
            db: base.db.clone(),
            stage: base.config.stage.clone(),
            healthy_at: Mutex::new(None),
        })))
        .layer(Extension(base.rate_limiter()))
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
        (status = 200, description = "Serving, database reachable (checked at most every 10 s)", body = Health),
        RateLimited,
        (status = 503, description = "Database unreachable", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    )
)]
pub async fn health(Extract(state): Extract<State>) -> Result<Json<Health>, ApiError> {
    let mut healthy_at = state.0.healthy_at.lock().await;
    if !healthy_at.is_some_and(|at| at.elapsed() < HEALTH_TTL) {
        let unavailable = |e: ApiError| {
            ApiError::new(ErrorCode::ServiceUnavailable)
                .with_retry_after(5)
                .with_source(e)
        };
        state.0.db.ping().await.map_err(|e| unavailable(e.into()))?;
        *healthy_at = Some(Instant::now());
    }
    Ok(Json(Health {
        status: "ok",
        stage: state.0.stage.clone(),
        version: env!("CARGO_PKG_VERSION"),
    }))
}

#[utoipa::path(
    get, path = "/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "This document", content_type = "application/json"))
)]
pub async fn openapi_json() -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        OPENAPI_JSON,
    )
        .into_response()
}

/// Every path template in the document with the methods it has.
fn documented_routes() -> &'static [(String, Vec<Method>)] {
    static ROUTES: OnceLock<Vec<(String, Vec<Method>)>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap_or_default();
        let Some(paths) = doc["paths"].as_object() else {
            return Vec::new();
        };
        paths
            .iter()
            .map(|(template, item)| {
                let methods = item
                    .as_object()
                    .into_iter()
                    .flat_map(|ops| ops.keys())
                    .filter_map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
                    .collect();
                (template.clone(), methods)
            })
            .collect()
    })
}

/// Whether `path` is an instance of `template` (`/v1/recipients/{id}`).
fn matches(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) if ts.starts_with('{') && ts.ends_with('}') => {
                if ps.is_empty() {
                    return false;
                }
            }
            (Some(ts), Some(ps)) if ts == ps => {}
            _ => return false,
        }
    }
}

/// API Gateway's `$default` route: 405 with `Allow` for a path another function serves with
/// other methods, else 404 — both in the envelope.
pub async fn unmatched(uri: Uri) -> Response {
    let allowed: Vec<&str> = documented_routes()
        .iter()
        .filter(|(template, _)| matches(template, uri.path()))
        .flat_map(|(_, methods)| methods.iter().map(Method::as_str))
        .collect();
    if allowed.is_empty() {
        return ApiError::new(ErrorCode::NotFound).into_response();
    }
    let mut response = ApiError::new(ErrorCode::MethodNotAllowed).into_response();
    if let Ok(allow) = HeaderValue::from_str(&allowed.join(",")) {
        response.headers_mut().insert(ALLOW, allow);
    }
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}

/// What the Lambda serves: the routes behind the edge's layers, answering for every request
/// no other function's route matched.
pub fn app(base: &Base) -> Router {
    edge::app_with_fallback(router(base), unmatched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_templates_match_segments() {
        assert!(matches("/v1/corridors", "/v1/corridors"));
        assert!(!matches("/v1/corridors", "/v1/corridors/"));
        assert!(matches("/v1/recipients/{id}", "/v1/recipients/abc"));
        assert!(!matches("/v1/recipients/{id}", "/v1/recipients/"));
        assert!(!matches("/v1/recipients/{id}", "/v1/recipients/a/b"));
    }

    #[test]
    fn the_embedded_document_lists_routes() {
        let routes = documented_routes();
        assert!(routes
            .iter()
            .any(|(t, m)| t == "/v1/quotes" && m == &[Method::POST]));
    }
}
