//! Who is calling. A signed-in route takes a [`SignedIn`] (or [`Merchant`], [`Admin`])
//! argument: one token check and one SQL round trip that loads the session, the user and
//! their profile, before the handler runs.
//!
//! 401 means "not signed in" (no token, a bad or expired token, a revoked session); 403 means
//! "signed in, but not allowed" (missing role, blocked account, cookie without our Origin).

use crate::aws::secrets::SecretStore;
use crate::domain::session::{cookie_value, recently_authenticated, SessionKind, COOKIE};
use crate::error::{ApiError, ErrorCode, ErrorDetail};
use crate::store::audit::Actor;
use crate::store::sessions::{self, Profile, Role};
use crate::store::Db;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use serde::Serialize;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

/// How the session token arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Cookie,
    Bearer,
}

/// The caller of a signed-in route.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub session_kind: SessionKind,
    pub credential: Credential,
    /// When the person last authenticated at BankID for this session.
    pub auth_time: Option<OffsetDateTime>,
    pub profile: Profile,
}

impl Principal {
    /// Refuses a risky change (a higher limit, a new phone number or email) unless the caller
    /// authenticated at BankID within [`crate::domain::session::STEP_UP_WINDOW`]: a stolen session alone cannot make it.
    pub fn require_recent_sign_in(&self, now: OffsetDateTime) -> Result<(), ApiError> {
        if recently_authenticated(self.auth_time, now) {
            return Ok(());
        }
        Err(
            ApiError::new(ErrorCode::ReauthenticationRequired).with_detail(ErrorDetail::new(
                "session",
                "sign_in_again",
                match self.session_kind {
                    SessionKind::Web => "GET /v1/auth/bankid/start",
                    SessionKind::Mobile => "GET /v1/auth/bankid/start?client=mobile",
                },
            )),
        )
    }

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

/// Checks session tokens: what every signed-in route's state provides (`FromRef`).
#[derive(Clone)]
pub struct Authenticator(Arc<AuthenticatorParts>);

struct AuthenticatorParts {
    db: Db,
    secrets: SecretStore,
    web_origin: String,
}

impl Authenticator {
    pub fn new(db: Db, secrets: SecretStore, web_origin: &str) -> Self {
        Self(Arc::new(AuthenticatorParts {
            db,
            secrets,
            web_origin: web_origin.to_owned(),
        }))
    }

    /// The caller, if their session is valid and they hold `role`.
    pub async fn authenticate(&self, parts: &Parts, role: Role) -> Result<Principal, ApiError> {
        let this = &self.0;
        let (credential, token) =
            credential(&parts.headers).ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))?;
        if credential == Credential::Cookie
            && changes_state(&parts.method)
            && header(&parts.headers, "origin") != Some(this.web_origin.as_str())
        {
            return Err(ApiError::new(ErrorCode::OriginMismatch));
        }
        let claims = this
            .secrets
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
        let session = sessions::live_session(&this.db, claims.jti, claims.sub)
            .await?
            .ok_or_else(|| {
                ApiError::msg(
                    ErrorCode::Unauthorized,
                    "The session has ended; sign in again.",
                )
            })?;
        if session.blocked {
            return Err(ApiError::new(ErrorCode::AccountBlocked));
        }
        if !session.profile.roles.contains(&role) {
            return Err(ApiError::new(ErrorCode::Forbidden));
        }
        Ok(Principal {
            user_id: claims.sub,
            session_id: claims.jti,
            session_kind: claims.kind,
            credential,
            auth_time: session.auth_time,
            profile: session.profile,
        })
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The session token and how it came: `Authorization: Bearer` first, else the cookie.
fn credential(headers: &HeaderMap) -> Option<(Credential, &str)> {
    if let Some(auth) = header(headers, "authorization") {
        let (scheme, token) = auth.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then_some((Credential::Bearer, token.trim()));
    }
    let cookies = header(headers, "cookie")?;
    cookie_value(cookies, COOKIE).map(|value| (Credential::Cookie, value))
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A signed-in user (any role).
#[derive(Debug, Clone)]
pub struct SignedIn(pub Principal);

/// A signed-in user holding the `merchant` role.
#[derive(Debug, Clone)]
pub struct Merchant(pub Principal);

/// A signed-in user holding the `admin` role.
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

macro_rules! signed_in_extractor {
    ($name:ident, $role:expr) => {
        impl<S> FromRequestParts<S> for $name
        where
            Authenticator: FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                Authenticator::from_ref(state)
                    .authenticate(parts, $role)
                    .await
                    .map($name)
            }
        }
    };
}

signed_in_extractor!(SignedIn, Role::User);
signed_in_extractor!(Merchant, Role::Merchant);
signed_in_extractor!(Admin, Role::Admin);

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn bearer_wins_and_the_cookie_is_found_among_others() {
        assert_eq!(
            credential(&headers(&[
                ("authorization", "Bearer abc"),
                ("cookie", "__Host-drop_token=x")
            ])),
            Some((Credential::Bearer, "abc"))
        );
        assert_eq!(
            credential(&headers(&[("cookie", "a=1; __Host-drop_token=xyz; b=2")])),
            Some((Credential::Cookie, "xyz"))
        );
        assert_eq!(
            credential(&headers(&[("authorization", "Basic abc")])),
            None
        );
        assert_eq!(
            credential(&headers(&[("cookie", "__Host-drop_tokenx=1")])),
            None
        );
        assert_eq!(credential(&headers(&[])), None);
    }
}
