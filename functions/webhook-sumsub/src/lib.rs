//! `webhook-sumsub`: Sumsub's KYC webhooks. A delivery is believed only when its digest over
//! the raw bytes verifies; it is applied once (by a digest of its body), safely out of order,
//! stored minimised, and answered fast (Sumsub gives up after 5 s).

use axum::extract::State as Extract;
use axum::http::HeaderMap;
use axum::Router;
use drop_shared::aws::secrets::SecretStore;
use drop_shared::aws::webhook_ledger::{body_digest, WebhookLedger};
use drop_shared::domain::kyc::KycEvent;
use drop_shared::edge::openapi::Unavailable;
use drop_shared::edge::{self, Base, Json, RawBody, RequestMeta};
use drop_shared::error::ErrorBody;
use drop_shared::providers::sumsub::{verify_webhook, DigestAlg, WebhookEvent};
use drop_shared::routes;
use drop_shared::store::{kyc, Db};
use drop_shared::{ApiError, ErrorCode};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

const PROVIDER: &str = "sumsub";

/// What webhook-sumsub uses: the database, the webhook secret, and the delivery ledger.
#[derive(Clone)]
pub struct State {
    db: Db,
    secrets: SecretStore,
    ledger: WebhookLedger,
    /// The one digest algorithm deliveries may be signed with.
    webhook_algorithm: DigestAlg,
}

/// The route and its OpenAPI entry; public, believed only when its digest verifies.
pub fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new().routes(routes!(receive))
}

pub fn router(base: &Base) -> Router {
    let router = edge::serving(routes);
    router.with_state(State {
        db: base.db.clone(),
        secrets: base.secrets.clone(),
        ledger: WebhookLedger::new(base.aws.clone(), base.config.webhook_table.clone()),
        webhook_algorithm: base.config.sumsub.webhook_algorithm,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Received {
    /// `applied`, `duplicate`, `unknown_applicant`, or why the event changed nothing.
    pub status: &'static str,
}

#[utoipa::path(
    post, path = "/v1/webhooks/sumsub", tag = "webhooks",
    params(
        ("X-Payload-Digest" = String, Header, description = "Hex HMAC of the raw body under the webhook secret"),
        ("X-Payload-Digest-Alg" = String, Header, description = "HMAC_SHA1_HEX, HMAC_SHA256_HEX or HMAC_SHA512_HEX"),
    ),
    responses(
        (status = 200, description = "Received (applied, or a duplicate, or kept for investigation)", body = Received),
        (status = 400, description = "Verified, but not a Sumsub event", body = ErrorBody),
        (status = 401, description = "Digest missing, unknown algorithm, or wrong", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        Unavailable,
    )
)]
pub async fn receive(
    Extract(state): Extract<State>,
    meta: RequestMeta,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Received>, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let secret = state
        .secrets
        .get("sumsub-webhook-secret")
        .await
        .map_err(|e| {
            ApiError::new(ErrorCode::ServiceUnavailable)
                .with_retry_after(5)
                .with_source(e)
        })?;
    verify_webhook(
        &secret,
        state.webhook_algorithm,
        header("x-payload-digest-alg"),
        header("x-payload-digest"),
        &body,
    )
    .map_err(|e| ApiError::new(ErrorCode::InvalidSignature).with_source(e))?;
    let digest = body_digest(&body);
    if state.ledger.seen(PROVIDER, &digest).await {
        return Ok(Json(Received {
            status: "duplicate",
        }));
    }
    let event = WebhookEvent::parse(&body)
        .map_err(|e| ApiError::msg(ErrorCode::InvalidJson, "Not a Sumsub event.").with_source(e))?;
    let event = KycEvent::from(&event);

    let mut conn = state.db.conn().await?;
    let tx = conn.transaction().await?;
    let outcome = kyc::apply_event(&*tx, &event, &digest, &meta.origin()).await?;
    tx.commit().await?;
    state.ledger.remember(PROVIDER, &digest).await;
    tracing::info!(outcome = outcome.as_str(), event = %event.event_type, "sumsub webhook");
    Ok(Json(Received {
        status: outcome.as_str(),
    }))
}

/// What the Lambda serves: the routes behind the edge's layers.
pub fn app(base: &Base) -> Router {
    edge::app(router(base))
}
