//! Users and their sessions in PostgreSQL.

use crate::crypto::FnrVault;
use crate::domain::ids::Fodselsnummer;
use crate::domain::session::{SessionClaims, SessionKind};
use crate::store::audit::{self, Actor, AuditEntry, Origin};
use time::{Date, OffsetDateTime};
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// Who BankID says signed in.
pub struct BankIdPerson {
    /// BankID's stable key for the person at Drop (`bankid_altsub`).
    pub altsub: String,
    pub fnr: Fodselsnummer,
    pub birth_date: Date,
    pub given_name: String,
    pub family_name: String,
}

/// Age in whole years on `today`.
pub fn age_on(birth_date: Date, today: Date) -> i32 {
    let mut age = today.year() - birth_date.year();
    if (today.month() as u8, today.day()) < (birth_date.month() as u8, birth_date.day()) {
        age -= 1;
    }
    age
}

/// Today in Norway, where the age limit applies.
pub fn today_in_norway(now: OffsetDateTime) -> Date {
    // Oslo is UTC+1 in winter and UTC+2 in summer: taking UTC+1 can make someone turning 18
    // wait an hour longer in summer, and never lets anyone in early.
    (now + time::Duration::hours(1)).date()
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("database")]
    Db(#[from] tokio_postgres::Error),
    #[error("the person was registered concurrently but cannot be found")]
    Conflict,
    #[error("sealing the national identity number")]
    Crypto(#[from] crate::crypto::CryptoError),
}

/// Finds the person by BankID key, else by national identity number (their BankID key changed),
/// else registers them; refreshes names and birth date from BankID. Returns the user id and
/// whether they were new. Runs on the caller's transaction, with its audit row.
pub async fn sign_in_with_bankid(
    tx: &impl GenericClient,
    vault: &FnrVault,
    person: &BankIdPerson,
    origin: &Origin,
) -> Result<(Uuid, bool), UserError> {
    let hash = vault.lookup_hash(&person.fnr).to_vec();
    if let Some(id) = find_and_refresh(tx, person, &hash).await? {
        record_sign_in(tx, origin, id, "user.signed_in").await?;
        return Ok((id, false));
    }
    let id = Uuid::now_v7();
    let sealed = vault.seal(id, &person.fnr)?;
    // A concurrent first sign-in of the same person may insert first: then this insert waits
    // for it, inserts nothing, and the person it registered is found instead.
    let inserted = tx
        .query_typed(
            "INSERT INTO users (id, bankid_altsub, fnr_ciphertext, fnr_hmac, given_name, family_name, birth_date)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id",
            &[
                (&id, Type::UUID),
                (&person.altsub, Type::TEXT),
                (&sealed, Type::BYTEA),
                (&hash, Type::BYTEA),
                (&person.given_name, Type::TEXT),
                (&person.family_name, Type::TEXT),
                (&person.birth_date, Type::DATE),
            ],
        )
        .await?;
    if inserted.is_empty() {
        let id = find_and_refresh(tx, person, &hash)
            .await?
            .ok_or(UserError::Conflict)?;
        record_sign_in(tx, origin, id, "user.signed_in").await?;
        return Ok((id, false));
    }
    record_sign_in(tx, origin, id, "user.registered").await?;
    Ok((id, true))
}

/// The live user with this BankID key, else with this national identity number (their BankID
/// key changed), locked and refreshed from BankID.
async fn find_and_refresh(
    tx: &impl GenericClient,
    person: &BankIdPerson,
    hash: &[u8],
) -> Result<Option<Uuid>, UserError> {
    let existing = tx
        .query_typed(
            "SELECT id FROM users WHERE anonymised_at IS NULL AND (bankid_altsub = $1 OR fnr_hmac = $2)
             ORDER BY (bankid_altsub = $1) DESC LIMIT 1 FOR UPDATE",
            &[(&person.altsub, Type::TEXT), (&hash, Type::BYTEA)],
        )
        .await?;
    if let Some(row) = existing.first() {
        let id: Uuid = row.try_get(0)?;
        tx.query_typed(
            "UPDATE users SET bankid_altsub = $2, given_name = $3, family_name = $4, birth_date = $5 WHERE id = $1",
            &[
                (&id, Type::UUID),
                (&person.altsub, Type::TEXT),
                (&person.given_name, Type::TEXT),
                (&person.family_name, Type::TEXT),
                (&person.birth_date, Type::DATE),
            ],
        )
        .await?;
        return Ok(Some(id));
    }
    Ok(None)
}

async fn record_sign_in(
    tx: &impl GenericClient,
    origin: &Origin,
    id: Uuid,
    action: &str,
) -> Result<(), tokio_postgres::Error> {
    let details = serde_json::json!({"method": "bankid"});
    audit::record(
        tx,
        origin,
        AuditEntry {
            actor: Actor::User(id),
            action,
            target: Some(("user", id)),
            details,
        },
    )
    .await
}

/// How a session was signed in: BankID's assurance level and when the person authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assurance {
    pub acr: String,
    pub auth_time: OffsetDateTime,
}

/// Opens a session row and returns the claims of its token.
pub async fn open_session(
    db: &impl GenericClient,
    user_id: Uuid,
    kind: SessionKind,
    origin: &Origin,
    user_agent: Option<&str>,
    assurance: &Assurance,
    now: OffsetDateTime,
) -> Result<SessionClaims, tokio_postgres::Error> {
    let claims = SessionClaims::new(user_id, Uuid::new_v4(), kind, now);
    let user_agent = user_agent.map(|ua| ua.chars().take(512).collect::<String>());
    db.query_typed(
        "INSERT INTO sessions (jti, user_id, kind, created_at, expires_at, ip, user_agent, acr, auth_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            (&claims.jti, Type::UUID),
            (&user_id, Type::UUID),
            (&kind.as_str(), Type::TEXT),
            (&now, Type::TIMESTAMPTZ),
            (&claims.expires_at(), Type::TIMESTAMPTZ),
            (&origin.ip, Type::INET),
            (&user_agent, Type::TEXT),
            (&assurance.acr, Type::TEXT),
            (&assurance.auth_time, Type::TIMESTAMPTZ),
        ],
    )
    .await?;
    Ok(claims)
}

/// Ends a session at once; returns whether it was still open.
pub async fn revoke_session(
    db: &impl GenericClient,
    jti: Uuid,
    reason: &str,
) -> Result<bool, tokio_postgres::Error> {
    let rows = db
        .query_typed(
            "UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE jti = $1 AND revoked_at IS NULL RETURNING jti",
            &[(&jti, Type::UUID), (&reason, Type::TEXT)],
        )
        .await?;
    Ok(!rows.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn age_counts_whole_years_and_turns_on_the_birthday() {
        assert_eq!(age_on(date!(2008 - 11 - 22), date!(2026 - 11 - 21)), 17);
        assert_eq!(age_on(date!(2008 - 11 - 22), date!(2026 - 11 - 22)), 18);
        assert_eq!(age_on(date!(2008 - 02 - 29), date!(2026 - 02 - 28)), 17);
        assert_eq!(age_on(date!(2008 - 02 - 29), date!(2026 - 03 - 01)), 18);
    }

    #[test]
    fn today_is_norways_date() {
        assert_eq!(
            today_in_norway(datetime!(2026-11-21 23:30 UTC)),
            date!(2026 - 11 - 22)
        );
        assert_eq!(
            today_in_norway(datetime!(2026-11-21 22:30 UTC)),
            date!(2026 - 11 - 21)
        );
    }
}
