//! Reading a session with its user: the one query behind every signed-in request.

use serde::Serialize;
use time::{Date, OffsetDateTime};
use tokio_postgres::types::Type;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Merchant,
    Admin,
}

impl Role {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "merchant" => Some(Self::Merchant),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

use crate::domain::iso_date;

/// The signed-in user's profile, loaded with the session.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct Profile {
    pub given_name: String,
    pub family_name: String,
    #[serde(with = "iso_date")]
    #[schema(value_type = String, format = Date)]
    pub birth_date: Date,
    /// E.164, e.g. `+4741234567`; required before any payment.
    pub phone_number: Option<String>,
    pub email: Option<String>,
    /// `not_started`, `pending`, `approved`, `resubmission_requested`, `rejected`, `on_hold`.
    #[schema(value_type = crate::domain::kyc::KycStatus)]
    pub kyc_status: String,
    /// Sumsub's reason for the user, when it asks for resubmission or rejects.
    pub kyc_reason: Option<String>,
    pub roles: Vec<Role>,
    /// Linked bank accounts (AISP consents) not removed.
    pub bank_accounts: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub member_since: OffsetDateTime,
}

/// Personal data: `Debug` shows only what is not.
impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("kyc_status", &self.kyc_status)
            .field("roles", &self.roles)
            .field("bank_accounts", &self.bank_accounts)
            .finish_non_exhaustive()
    }
}

/// A live session and its user.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub blocked: bool,
    /// When the person last authenticated at BankID for this session (unknown for sessions
    /// older than the column).
    pub auth_time: Option<OffsetDateTime>,
    pub profile: Profile,
}

/// The session `jti` of `user_id` if it is live (not revoked, not expired, user not erased).
/// A read: retried once on a fresh connection if the database dropped the first.
pub async fn live_session(
    db: &crate::store::Db,
    jti: Uuid,
    user_id: Uuid,
) -> Result<Option<LiveSession>, crate::ApiError> {
    let rows = db
        .read(
            "SELECT u.roles, u.blocked_at IS NOT NULL, u.given_name, u.family_name, u.birth_date, u.phone_e164,
                    u.email, u.kyc_status, u.created_at, u.kyc_reason,
                    (SELECT count(*) FROM bank_accounts b WHERE b.user_id = u.id AND b.removed_at IS NULL),
                    s.auth_time
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.jti = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()
               AND u.anonymised_at IS NULL",
            &[(&jti, Type::UUID), (&user_id, Type::UUID)],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let roles = row
        .try_get::<_, Vec<String>>(0)?
        .iter()
        .filter_map(|r| Role::parse(r))
        .collect();
    Ok(Some(LiveSession {
        blocked: row.try_get(1)?,
        auth_time: row.try_get(11)?,
        profile: Profile {
            given_name: row.try_get(2)?,
            family_name: row.try_get(3)?,
            birth_date: row.try_get(4)?,
            phone_number: row.try_get(5)?,
            email: row.try_get(6)?,
            kyc_status: row.try_get(7)?,
            roles,
            member_since: row.try_get(8)?,
            bank_accounts: row.try_get(10)?,
            kyc_reason: row.try_get(9)?,
        },
    }))
}
