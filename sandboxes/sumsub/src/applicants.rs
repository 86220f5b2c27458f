//! `POST /resources/applicants?levelName=…` and `GET /resources/applicants/…/one`.

use crate::store::{Applicant, Duplicate, FixedInfo};
use crate::web::{self, Reply};
use crate::{clock, ids, review::ReviewStatus, Sandbox};
use http::StatusCode;
use percent_encoding::percent_decode_str;
use serde::Deserialize;

/// Longest external user id, level name or name kept.
const MAX_TEXT: usize = 256;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewApplicant {
    external_user_id: String,
    #[serde(default)]
    fixed_info: FixedInfo,
}

fn too_long(fixed_info: &FixedInfo) -> bool {
    [
        &fixed_info.first_name,
        &fixed_info.last_name,
        &fixed_info.dob,
    ]
    .iter()
    .any(|v| v.as_ref().is_some_and(|v| v.len() > MAX_TEXT))
}

/// `POST /resources/applicants?levelName=LEVEL`: 201 with the new applicant, or 409 if the
/// external user id has one already.
pub(crate) fn create(sandbox: &Sandbox, query: Option<&str>, body: &[u8]) -> Reply {
    let Some(level_name) = web::query_param(query, "levelName") else {
        return web::bad_request("levelName is required");
    };
    let new: NewApplicant = match web::parse_json(body) {
        Ok(new) => new,
        Err(description) => return web::bad_request(&description),
    };
    if new.external_user_id.is_empty() {
        return web::bad_request("externalUserId is required");
    }
    if level_name.len() > MAX_TEXT
        || new.external_user_id.len() > MAX_TEXT
        || too_long(&new.fixed_info)
    {
        return web::bad_request("A value is too long");
    }
    let (Some(id), Some(inspection_id)) = (ids::object_id(), ids::object_id()) else {
        tracing::error!("sumsub sandbox: the system RNG failed");
        return web::server_error();
    };
    let applicant = Applicant {
        id,
        inspection_id,
        external_user_id: new.external_user_id,
        level_name,
        created_at: clock::created_at(),
        fixed_info: new.fixed_info,
        review_status: ReviewStatus::Init,
        review_result: None,
        review_seq: 0,
    };
    match sandbox.store.insert(applicant.clone()) {
        Ok(()) => {
            tracing::info!(applicant_id = %applicant.id, "sumsub sandbox: applicant created");
            web::json(StatusCode::CREATED, &applicant.to_json())
        }
        Err(Duplicate) => web::error(
            StatusCode::CONFLICT,
            &format!(
                "Applicant with external user id '{}' already exists",
                applicant.external_user_id
            ),
        ),
    }
}

/// `GET /resources/applicants/{applicantId}/one`.
pub(crate) fn by_id(sandbox: &Sandbox, id: &str) -> Reply {
    match sandbox.store.by_id(id) {
        Some(applicant) => web::json(StatusCode::OK, &applicant.to_json()),
        None => web::not_found(&format!("Applicant with id '{id}' not found")),
    }
}

/// `GET /resources/applicants/-;externalUserId={id}/one`, the id percent-encoded in the path.
pub(crate) fn by_external_id(sandbox: &Sandbox, encoded: &str) -> Reply {
    let Ok(external_user_id) = percent_decode_str(encoded).decode_utf8() else {
        return web::bad_request("externalUserId is not UTF-8");
    };
    match sandbox.store.by_external_id(&external_user_id) {
        Some(applicant) => web::json(StatusCode::OK, &applicant.to_json()),
        None => web::not_found(&format!(
            "Applicant with external user id '{external_user_id}' not found"
        )),
    }
}
