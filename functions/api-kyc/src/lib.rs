//! `api-kyc`: identity verification with Sumsub (hvitvaskingsloven § 12). A user starts it
//! here (an SDK token for Sumsub's web or mobile SDK) and reads its status; the decision
//! arrives through `webhook-sumsub`.

use drop_shared::store::audit::{self, AuditEntry};
use drop_shared::error::ErrorBody;
use drop_shared::edge::{ok_json, ApiRequest, HandlerResult, RouteSpec, Router};
use drop_shared::domain::kyc::KycStatus;
use drop_shared::providers::sumsub::{ApplicantInfo, SDK_TOKEN_TTL_SECS};
use drop_shared::{ApiError, AppState, ErrorCode};
use http::Method;
use serde::Serialize;
use tokio_postgres::types::Type;
use utoipa::{OpenApi, ToSchema};

pub const FUNCTION: &str = "api-kyc";

pub fn router() -> Router {
    Router::new(FUNCTION)
        .route(RouteSpec::signed_in(Method::POST, "/v1/kyc/start"), start)
        .route(RouteSpec::signed_in(Method::GET, "/v1/kyc/status"), status)
}

#[derive(OpenApi)]
#[openapi(paths(start, status))]
pub struct ApiDoc;

#[derive(Debug, Serialize, ToSchema)]
pub struct KycStart {
    /// Access token for Sumsub's SDK.
    pub token: String,
    /// The verification level the SDK runs.
    pub level: String,
    pub expires_in_seconds: u32,
}

#[utoipa::path(
    post, path = "/v1/kyc/start", tag = "kyc",
    responses(
        (status = 200, description = "An SDK token for the signed-in user's applicant", body = KycStart),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 503, description = "Sumsub unavailable; nothing was left half-done", body = ErrorBody),
    )
)]
pub async fn start(state: AppState, req: ApiRequest) -> HandlerResult {
    let who = req.principal()?;
    let sumsub = state.sumsub().await?;
    let conn = state.db.conn().await?;
    let rows = conn
        .query_typed(
            "SELECT sumsub_applicant_id FROM users WHERE id = $1",
            &[(&who.user_id, Type::UUID)],
        )
        .await?;
    let existing: Option<String> = rows.first().map(|r| r.try_get(0)).transpose()?.flatten();
    drop(conn);
    if existing.is_none() {
        // Sumsub answers a repeated create for the same external id with the same applicant,
        // so a start that failed after creating it completes the same one next time.
        let info = ApplicantInfo {
            first_name: who.profile.given_name.clone(),
            last_name: who.profile.family_name.clone(),
            dob: who.profile.birth_date,
        };
        let applicant = sumsub
            .create_applicant(&who.user_id.to_string(), &info)
            .await?;
        let mut conn = state.db.conn().await?;
        let tx = conn.transaction().await?;
        let stored = tx
            .query_typed(
                "UPDATE users SET sumsub_applicant_id = $2 WHERE id = $1 AND sumsub_applicant_id IS NULL RETURNING id",
                &[(&who.user_id, Type::UUID), (&applicant, Type::TEXT)],
            )
            .await?;
        // A concurrent start may have stored it first: then it has written the audit row.
        if !stored.is_empty() {
            let entry = AuditEntry {
                actor: who.actor(),
                action: "kyc.applicant_created",
                target: Some(("user", who.user_id)),
                details: serde_json::json!({"provider": "sumsub"}),
            };
            audit::record(&*tx, &req.origin(), entry).await?;
        }
        tx.commit().await?;
    }
    let token = sumsub.sdk_access_token(&who.user_id.to_string()).await?;
    ok_json(&KycStart {
        token: token.token.expose().clone(),
        level: sumsub.level_name().to_owned(),
        expires_in_seconds: SDK_TOKEN_TTL_SECS,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KycStatusView {
    pub status: KycStatus,
    /// Why Sumsub asks for resubmission or rejected, in words for the user.
    pub reason: Option<String>,
    /// Whether the user may send money.
    pub can_send_money: bool,
}

#[utoipa::path(
    get, path = "/v1/kyc/status", tag = "kyc",
    responses((status = 200, body = KycStatusView), (status = 401, description = "Not signed in", body = ErrorBody))
)]
pub async fn status(_state: AppState, req: ApiRequest) -> HandlerResult {
    let profile = &req.principal()?.profile;
    let status = KycStatus::parse(&profile.kyc_status)
        .ok_or_else(|| ApiError::msg(ErrorCode::Internal, "unknown KYC status"))?;
    let reason = match status {
        KycStatus::ResubmissionRequested | KycStatus::Rejected => profile.kyc_reason.clone(),
        _ => None,
    };
    ok_json(&KycStatusView {
        status,
        reason,
        can_send_money: status == KycStatus::Approved,
    })
}
