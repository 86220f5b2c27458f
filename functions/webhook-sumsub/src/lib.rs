//! `webhook-sumsub`: Sumsub's KYC webhooks. A delivery is believed only when its digest over
//! the raw bytes verifies; it is applied once (by a digest of its body), safely out of order,
//! stored minimised, and answered fast (Sumsub gives up after 5 s).

use drop_shared::store::audit::Origin;
use drop_shared::error::ErrorBody;
use drop_shared::edge::{ok_json, ApiRequest, HandlerResult, RouteSpec, Router};
use drop_shared::domain::kyc::KycEvent;
use drop_shared::store::kyc;
use drop_shared::providers::sumsub::{verify_webhook, WebhookEvent};
use drop_shared::aws::webhook_ledger::body_digest;
use drop_shared::{ApiError, AppState, ErrorCode};
use http::Method;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

pub const FUNCTION: &str = "webhook-sumsub";
const PROVIDER: &str = "sumsub";

pub fn router() -> Router {
    Router::new(FUNCTION).route(
        RouteSpec::public(Method::POST, "/v1/webhooks/sumsub"),
        receive,
    )
}

#[derive(OpenApi)]
#[openapi(paths(receive))]
pub struct ApiDoc;

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
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
pub async fn receive(state: AppState, req: ApiRequest) -> HandlerResult {
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
        state.config.sumsub.webhook_algorithm,
        req.header("x-payload-digest-alg"),
        req.header("x-payload-digest"),
        &req.body,
    )
    .map_err(|e| ApiError::new(ErrorCode::InvalidSignature).with_source(e))?;
    let digest = body_digest(&req.body);
    if state.webhooks.seen(PROVIDER, &digest).await {
        return ok_json(&Received {
            status: "duplicate",
        });
    }
    let event = WebhookEvent::parse(&req.body)
        .map_err(|e| ApiError::msg(ErrorCode::InvalidJson, "Not a Sumsub event.").with_source(e))?;
    let event = KycEvent::from(&event);

    let mut conn = state.db.conn().await?;
    let tx = conn.transaction().await?;
    let origin = Origin {
        request_id: req.request_id.clone(),
        ip: req.client_ip,
    };
    let outcome = kyc::apply_event(&*tx, &event, &digest, &origin).await?;
    tx.commit().await?;
    state.webhooks.remember(PROVIDER, &digest).await;
    tracing::info!(outcome = outcome.as_str(), event = %event.event_type, "sumsub webhook");
    ok_json(&Received {
        status: outcome.as_str(),
    })
}
