//! The sandbox-only control API under `/sandbox`: the banks, faults, the request log and the
//! SCA form as JSON.

use crate::banks::BANKS;
use crate::faults::FaultRequest;
use crate::reply::{self, control_error};
use crate::{sca, wire, Sandbox};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// `GET /sandbox/banks`.
pub(crate) async fn banks() -> Response {
    let banks: Vec<Value> = BANKS
        .iter()
        .map(|bank| {
            json!({
                "id": bank.slug,
                "name": bank.name,
                "bic": bank.bic,
                "products": bank.products.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                "explicitAuthorisation": bank.explicit_authorisation,
            })
        })
        .collect();
    reply::json_response(StatusCode::OK, &Value::Array(banks))
}

/// `POST /sandbox/faults` `{"bank","kind","count"}`: 204.
pub(crate) async fn add_fault(State(sandbox): State<Arc<Sandbox>>, body: Bytes) -> Response {
    let request: FaultRequest = match wire::parse(&body) {
        Ok(request) => request,
        Err(text) => return control_error(StatusCode::BAD_REQUEST, &text),
    };
    if !sandbox
        .faults
        .add(request.bank, request.kind, request.count)
    {
        return control_error(
            StatusCode::BAD_REQUEST,
            "Too many faults queued for that bank",
        );
    }
    tracing::info!(bank = ?request.bank, kind = ?request.kind, count = request.count, "bank sandbox: faults queued");
    StatusCode::NO_CONTENT.into_response()
}

/// `DELETE /sandbox/faults`: 204, no faults left.
pub(crate) async fn clear_faults(State(sandbox): State<Arc<Sandbox>>) -> Response {
    sandbox.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /sandbox/requests`.
pub(crate) async fn requests(State(sandbox): State<Arc<Sandbox>>) -> Response {
    reply::json_response(StatusCode::OK, &sandbox.received.to_json())
}

/// `DELETE /sandbox/requests`: 204, the log is empty.
pub(crate) async fn clear_requests(State(sandbox): State<Arc<Sandbox>>) -> Response {
    sandbox.received.clear();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Debug, Deserialize)]
struct ScaDecision {
    #[serde(default)]
    psu: Option<String>,
    action: String,
}

/// `POST /sandbox/sca/{authorisationId}` `{"psu","action"}`: the SCA form's decision; 200
/// `{"location"}` where the form's 303 would go.
pub(crate) async fn sca(
    State(sandbox): State<Arc<Sandbox>>,
    Path(authorisation_id): Path<String>,
    body: Bytes,
) -> Response {
    let decision: ScaDecision = match wire::parse(&body) {
        Ok(decision) => decision,
        Err(text) => return control_error(StatusCode::BAD_REQUEST, &text),
    };
    match sca::decide(
        &sandbox,
        None,
        &authorisation_id,
        decision.psu.as_deref(),
        &decision.action,
    ) {
        Ok(location) => reply::json_response(StatusCode::OK, &json!({ "location": location })),
        Err(error) => control_error(error.status(), &error.text()),
    }
}
