//! Session tokens: an HS256 JWT whose `jti` names a row in `sessions`. The token proves who
//! signed it; the row decides whether it still counts, so logout and blocking act at once.

use crate::secret::Secret;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How recent a BankID authentication a risky change needs.
pub const STEP_UP_WINDOW: Duration = Duration::minutes(5);

/// Whether `auth_time` is within [`STEP_UP_WINDOW`] of `now` (an unknown time is not).
pub fn recently_authenticated(auth_time: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    auth_time.is_some_and(|at| at <= now + Duration::seconds(60) && now - at <= STEP_UP_WINDOW)
}

/// Name of the web session cookie.
pub const COOKIE: &str = "__Host-drop_token";

/// Name of the cookie that binds a web sign-in to the browser that started it (10 minutes).
pub const LOGIN_COOKIE: &str = "__Host-drop_login";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    /// Browser: an HttpOnly cookie for 24 hours.
    Web,
    /// App: a Bearer token for 7 days.
    Mobile,
}

impl SessionKind {
    pub fn lifetime(self) -> Duration {
        match self {
            Self::Web => Duration::hours(24),
            Self::Mobile => Duration::days(7),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Mobile => "mobile",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The user's id.
    pub sub: Uuid,
    /// The session row's id.
    pub jti: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub kind: SessionKind,
}

impl SessionClaims {
    pub fn new(user: Uuid, jti: Uuid, kind: SessionKind, now: OffsetDateTime) -> Self {
        let exp = now + kind.lifetime();
        Self {
            sub: user,
            jti,
            iat: now.unix_timestamp(),
            exp: exp.unix_timestamp(),
            kind,
        }
    }

    pub fn expires_at(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.exp).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the session key is too short")]
    WeakKey,
    #[error("the session token is not valid")]
    Invalid(#[source] jsonwebtoken::errors::Error),
}

/// Signs and checks session tokens with the instance's `jwt-signing-key`.
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SessionKeys {
    pub fn new(secret: &Secret<String>) -> Result<Self, SessionError> {
        let bytes = secret.expose().as_bytes();
        if bytes.len() < 32 {
            return Err(SessionError::WeakKey);
        }
        Ok(Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
        })
    }

    pub fn issue(&self, claims: &SessionClaims) -> Result<String, SessionError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(SessionError::Invalid)
    }

    /// The claims of a token signed with this key, HS256 only, not expired.
    pub fn verify(&self, token: &str) -> Result<SessionClaims, SessionError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "jti", "iat"]);
        jsonwebtoken::decode::<SessionClaims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(SessionError::Invalid)
    }
}

/// The `Set-Cookie` value carrying a web session.
pub fn session_cookie(token: &str, max_age: Duration) -> String {
    format!(
        "{COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Lax",
        max_age.whole_seconds()
    )
}

/// The `Set-Cookie` value binding a sign-in to this browser.
pub fn login_cookie(secret: &str) -> String {
    format!("{LOGIN_COOKIE}={secret}; Path=/; Max-Age=600; HttpOnly; Secure; SameSite=Lax")
}

/// The `Set-Cookie` value that removes the sign-in binding.
pub fn cleared_login_cookie() -> String {
    format!("{LOGIN_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax")
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value that removes the web session cookie.
pub fn cleared_cookie() -> String {
    format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_up_needs_an_authentication_within_five_minutes() {
        let now = time::macros::datetime!(2026-12-01 12:00 UTC);
        let ago = |s: i64| Some(now - Duration::seconds(s));
        assert!(recently_authenticated(ago(0), now));
        assert!(recently_authenticated(ago(300), now));
        assert!(!recently_authenticated(ago(301), now));
        assert!(!recently_authenticated(None, now));
        // A clock a little ahead at the provider is tolerated; a time far in the future is not.
        assert!(recently_authenticated(ago(-30), now));
        assert!(!recently_authenticated(ago(-3600), now));
    }
    use base64::Engine;

    fn keys(secret: &str) -> SessionKeys {
        SessionKeys::new(&Secret::new(secret.to_owned())).unwrap()
    }

    #[test]
    fn issues_and_verifies() {
        let k = keys(&"k".repeat(64));
        let claims = SessionClaims::new(
            Uuid::new_v4(),
            Uuid::new_v4(),
            SessionKind::Web,
            OffsetDateTime::now_utc(),
        );
        assert_eq!(k.verify(&k.issue(&claims).unwrap()).unwrap(), claims);
        assert_eq!(claims.exp - claims.iat, 86_400);
        let mobile = SessionClaims::new(
            Uuid::new_v4(),
            Uuid::new_v4(),
            SessionKind::Mobile,
            OffsetDateTime::now_utc(),
        );
        assert_eq!(mobile.exp - mobile.iat, 7 * 86_400);
    }

    #[test]
    fn refuses_other_keys_expiry_tampering_and_alg_none() {
        let k = keys(&"k".repeat(64));
        let claims = SessionClaims::new(
            Uuid::new_v4(),
            Uuid::new_v4(),
            SessionKind::Web,
            OffsetDateTime::now_utc(),
        );
        let token = k.issue(&claims).unwrap();
        assert!(keys(&"x".repeat(64)).verify(&token).is_err());

        let expired = SessionClaims::new(
            Uuid::new_v4(),
            Uuid::new_v4(),
            SessionKind::Web,
            OffsetDateTime::now_utc() - Duration::days(2),
        );
        assert!(k.verify(&k.issue(&expired).unwrap()).is_err());

        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims.clone();
        forged.sub = Uuid::new_v4();
        let body = b64.encode(serde_json::to_vec(&forged).unwrap());
        assert!(k
            .verify(&format!("{}.{}.{}", parts[0], body, parts[2]))
            .is_err());
        let none_header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(k.verify(&format!("{none_header}.{}.", parts[1])).is_err());
    }

    #[test]
    fn a_short_key_is_refused() {
        assert!(SessionKeys::new(&Secret::new("short".into())).is_err());
    }

    #[test]
    fn cookies_are_http_only_secure_and_lax() {
        let c = session_cookie("t", Duration::hours(24));
        assert_eq!(
            c,
            "__Host-drop_token=t; Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax"
        );
        assert!(cleared_cookie().contains("Max-Age=0"));
    }
}
