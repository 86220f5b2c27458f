//! `POST /resources/accessTokens/sdk`: a WebSDK access token for an applicant. The sandbox has
//! no WebSDK, so issuing the token stands for the person submitting their documents: it starts
//! the simulated review.

use crate::web::{self, Reply};
use crate::{ids, simulation, Sandbox};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenRequest {
    user_id: String,
    level_name: String,
    ttl_in_secs: Option<u64>,
}

pub(crate) fn sdk(sandbox: &Arc<Sandbox>, body: &[u8]) -> Reply {
    let request: TokenRequest = match web::parse_json(body) {
        Ok(request) => request,
        Err(description) => return web::bad_request(&description),
    };
    if request.user_id.is_empty() || request.level_name.is_empty() {
        return web::bad_request("userId and levelName are required");
    }
    if request.ttl_in_secs == Some(0) {
        return web::bad_request("ttlInSecs must be positive");
    }
    let Some(applicant) = sandbox.store.by_external_id(&request.user_id) else {
        return web::not_found(&format!(
            "Applicant with external user id '{}' not found",
            request.user_id
        ));
    };
    if !sandbox.webhooks.has_room() {
        return web::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The sandbox is busy; try again",
        );
    }
    let Some(token) = ids::sdk_token() else {
        tracing::error!("sumsub sandbox: the system RNG failed");
        return web::server_error();
    };
    simulation::start(sandbox, &applicant.id);
    web::json(
        StatusCode::OK,
        &json!({ "token": token, "userId": request.user_id }),
    )
}
