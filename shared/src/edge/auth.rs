//! Who is calling. Every route that needs a signed-in user goes through [`authenticate`]: one
//! token check and one SQL round trip that loads the session, the user and their profile.
//!
//! 401 means "not signed in" (no token, a bad or expired token, a revoked session); 403 means
//! "signed in, but not allowed" (missing role, blocked account, cookie without our Origin).

use crate::store::audit::{Actor, Origin};
use crate::error::{ApiError, ErrorCode};
use crate::edge::ApiRequest;
use crate::domain::session::{cookie_value, SessionKind, COOKIE};
use crate::edge::state::AppState;
use http::Method;
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

/// What a route asks of its caller before the handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// A signed-in user holding this role.
    SignedIn(Role),
}

/// How the session token arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Cookie,
    Bearer,
}

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// The signed-in user's profile, loaded with the session.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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

/// The caller of a signed-in route.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub session_kind: SessionKind,
    pub credential: Credential,
    pub profile: Profile,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        if self.profile.roles.contains(&Role::Admin) {
            Actor::Admin(self.user_id)
        } else {
            Actor::User(self.user_id)
        }
    }
}

/// The signed-in user as `GET /v1/auth/me` and `GET /v1/me` show them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: Uuid,
    #[serde(flatten)]
    pub profile: Profile,
}

impl Me {
    pub fn of(principal: &Principal) -> Self {
        Self {
            id: principal.user_id,
            profile: principal.profile.clone(),
        }
    }
}

impl ApiRequest {
    /// The signed-in caller; only routes declared `SignedIn` have one.
    pub fn principal(&self) -> Result<&Principal, ApiError> {
        self.principal
            .as_ref()
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))
    }

    /// Where this request came from, for the audit trail.
    pub fn origin(&self) -> Origin {
        Origin {
            request_id: self.request_id.clone(),
            ip: self.client_ip,
        }
    }
}

/// The session token and how it came: `Authorization: Bearer` first, else the cookie.
fn credential(req: &ApiRequest) -> Option<(Credential, &str)> {
    if let Some(auth) = req.header("authorization") {
        let (scheme, token) = auth.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then_some((Credential::Bearer, token.trim()));
    }
    let cookies = req.header("cookie")?;
    cookie_value(cookies, COOKIE).map(|value| (Credential::Cookie, value))
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The caller, if their session is valid and they hold `role`.
pub async fn authenticate(
    state: &AppState,
    req: &ApiRequest,
    role: Role,
) -> Result<Principal, ApiError> {
    let (credential, token) =
        credential(req).ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))?;
    if credential == Credential::Cookie
        && changes_state(&req.method)
        && req.header("origin") != Some(state.config.web_origin())
    {
        return Err(ApiError::new(ErrorCode::OriginMismatch));
    }
    let claims = state
        .session_keys()
        .await?
        .verify(token)
        .map_err(|e| ApiError::new(ErrorCode::Unauthorized).with_source(e))?;
    let expected = match claims.kind {
        SessionKind::Web => Credential::Cookie,
        SessionKind::Mobile => Credential::Bearer,
    };
    if credential != expected {
        return Err(ApiError::msg(
            ErrorCode::Unauthorized,
            "This session token is not valid here.",
        ));
    }

    let row = state
        .db
        .read(
            "SELECT u.roles, u.blocked_at IS NOT NULL, u.given_name, u.family_name, u.birth_date, u.phone_e164,
                    u.email, u.kyc_status, u.created_at, u.kyc_reason,
                    (SELECT count(*) FROM bank_accounts b WHERE b.user_id = u.id AND b.removed_at IS NULL)
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.jti = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()
               AND u.anonymised_at IS NULL",
            &[(&claims.jti, Type::UUID), (&claims.sub, Type::UUID)],
        )
        .await?;
    let row = row.first().ok_or_else(|| {
        ApiError::msg(
            ErrorCode::Unauthorized,
            "The session has ended; sign in again.",
        )
    })?;
    if row.try_get::<_, bool>(1)? {
        return Err(ApiError::new(ErrorCode::AccountBlocked));
    }
    let roles: Vec<Role> = row
        .try_get::<_, Vec<String>>(0)?
        .iter()
        .filter_map(|r| Role::parse(r))
        .collect();
    if !roles.contains(&role) {
        return Err(ApiError::new(ErrorCode::Forbidden));
    }
    Ok(Principal {
        user_id: claims.sub,
        session_id: claims.jti,
        session_kind: claims.kind,
        credential,
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;

    fn req(headers: &[(&'static str, &str)]) -> ApiRequest {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        ApiRequest {
            method: Method::GET,
            path: "/".into(),
            headers: map,
            query: vec![],
            raw_query: None,
            body: Bytes::new(),
            path_params: vec![],
            request_id: "r".into(),
            client_ip: None,
            principal: None,
        }
    }

    #[test]
    fn bearer_wins_and_the_cookie_is_found_among_others() {
        assert_eq!(
            credential(&req(&[
                ("authorization", "Bearer abc"),
                ("cookie", "drop_token=x")
            ])),
            Some((Credential::Bearer, "abc"))
        );
        assert_eq!(
            credential(&req(&[("cookie", "a=1; drop_token=xyz; b=2")])),
            Some((Credential::Cookie, "xyz"))
        );
        assert_eq!(credential(&req(&[("authorization", "Basic abc")])), None);
        assert_eq!(credential(&req(&[("cookie", "drop_tokenx=1")])), None);
        assert_eq!(credential(&req(&[])), None);
    }
}
