//! `api-kyc`: identity verification with Sumsub (hvitvaskingsloven § 12). A user starts it
//! here (an SDK token for Sumsub's web or mobile SDK) and reads its status; the decision
//! arrives through `webhook-sumsub`.

use axum::extract::State as Extract;
use axum::Router;
use drop_shared::aws::secrets::SecretStore;
use drop_shared::config::SumsubConfig;
use drop_shared::domain::kyc::KycStatus;
use drop_shared::edge::openapi::SignedInErrors;
use drop_shared::edge::{self, Authenticator, Base, Json, RequestMeta, SignedIn};
use drop_shared::error::ErrorBody;
use drop_shared::providers::sumsub::{ApplicantInfo, SumsubClient, SDK_TOKEN_TTL_SECS};
use drop_shared::routes;
use drop_shared::store::{kyc, Db};
use drop_shared::{ApiError, ErrorCode};
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::OnceCell;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

/// What api-kyc uses: the database, the session check, and Sumsub (built on first use).
#[derive(Clone)]
pub struct State {
    db: Db,
    auth: Authenticator,
    secrets: SecretStore,
    sumsub_config: Arc<SumsubConfig>,
    sumsub: Arc<OnceCell<SumsubClient>>,
}

impl State {
    async fn sumsub(&self) -> Result<&SumsubClient, ApiError> {
        self.sumsub
            .get_or_try_init(|| SumsubClient::from_secrets(&self.sumsub_config, &self.secrets))
            .await
    }
}

impl axum::extract::FromRef<State> for Authenticator {
    fn from_ref(state: &State) -> Self {
        state.auth.clone()
    }
}

/// The routes and their OpenAPI entries; both need a signed-in user.
pub fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(status))
}

pub fn router(base: &Base) -> Router {
    let router = edge::serving(routes);
    router.with_state(State {
        db: base.db.clone(),
        auth: base.authenticator(),
        secrets: base.secrets.clone(),
        sumsub_config: Arc::new(base.config.sumsub.clone()),
        sumsub: Arc::default(),
    })
}

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
        SignedInErrors,
        (status = 502, description = "Sumsub no longer knows the applicant Drop holds (`provider_error`)", body = ErrorBody),
        (status = 503, description = "Sumsub or the database unavailable; nothing was left half-done", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
    security(("bearer" = []), ("session_cookie" = []))
)]
pub async fn start(
    Extract(state): Extract<State>,
    meta: RequestMeta,
    SignedIn(who): SignedIn,
) -> Result<Json<KycStart>, ApiError> {
    let sumsub = state.sumsub().await?;
    let existing = kyc::applicant_id(&**state.db.conn().await?, who.user_id).await?;
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
        kyc::record_applicant(
            &state.db,
            who.user_id,
            &applicant,
            who.actor(),
            &meta.origin(),
        )
        .await?;
    }
    let token = sumsub.sdk_access_token(&who.user_id.to_string()).await?;
    Ok(Json(KycStart {
        token: token.token.expose().clone(),
        level: sumsub.level_name().to_owned(),
        expires_in_seconds: SDK_TOKEN_TTL_SECS,
    }))
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
    responses((status = 200, description = "Where the user's verification stands", body = KycStatusView), SignedInErrors),
    security(("bearer" = []), ("session_cookie" = []))
)]
pub async fn status(SignedIn(who): SignedIn) -> Result<Json<KycStatusView>, ApiError> {
    let profile = &who.profile;
    let status = KycStatus::parse(&profile.kyc_status)
        .ok_or_else(|| ApiError::msg(ErrorCode::Internal, "unknown KYC status"))?;
    let reason = match status {
        KycStatus::ResubmissionRequested | KycStatus::Rejected => profile.kyc_reason.clone(),
        _ => None,
    };
    Ok(Json(KycStatusView {
        status,
        reason,
        can_send_money: status == KycStatus::Approved,
    }))
}

/// What the Lambda serves: the routes behind the edge's layers.
pub fn app(base: &Base) -> Router {
    edge::app(router(base))
}
