//! AIS consents at the user's banks and the accounts they cover (Drop as AISP).
//!
//! A consent is recorded once its bank has answered (no transaction is held open across a bank
//! call); its status is only ever what was read from the bank. Account numbers are stored sealed
//! (AES-256-GCM, the account row's id as associated data) with a keyed hash and their last four
//! characters; balances are never stored here (DPIA). Every change writes its audit row in the
//! same transaction ([`audited`]).

use crate::crypto::AccountVault;
use crate::domain::bank::{BankId, ConsentStatus};
use crate::domain::ids::Iban;
use crate::error::{ApiError, ErrorCode};
use crate::store::audit::{audited, Actor, AuditEntry, Origin};
use crate::store::Db;
use time::Date;
use tokio_postgres::types::Type;
use tokio_postgres::Row;
use uuid::Uuid;

/// A consent the bank has just created, before the user authorised it.
pub struct NewConsent<'a> {
    pub user_id: Uuid,
    pub bank: &'a BankId,
    pub external_id: &'a str,
    pub status: ConsentStatus,
    pub valid_until: Option<Date>,
    pub frequency_per_day: u8,
    /// SHA-256 of the token in the return URL.
    pub return_token_hash: [u8; 32],
}

/// A consent as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub bank: BankId,
    pub external_id: String,
    pub status: ConsentStatus,
    pub valid_until: Option<Date>,
}

/// An account the bank reported under a consent.
pub struct ReportedAccount<'a> {
    pub resource_id: &'a str,
    pub iban: &'a Iban,
    pub currency: &'a str,
    pub name: Option<&'a str>,
    pub product: Option<&'a str>,
}

/// What a read of a consent at its bank found.
pub struct ConsentRead<'a> {
    pub status: ConsentStatus,
    /// As granted, when the bank said.
    pub valid_until: Option<Date>,
    /// The accounts it covers (none unless it is valid).
    pub accounts: &'a [ReportedAccount<'a>],
}

/// A linked account as the user's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedAccount {
    pub id: Uuid,
    pub bank: BankId,
    pub name: Option<String>,
    pub currency: String,
    pub last4: String,
    pub consent_id: Uuid,
    pub consent_status: ConsentStatus,
    pub consent_valid_until: Option<Date>,
}

/// What a balance read needs: where the account is and under which consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountAccess {
    pub account: LinkedAccount,
    pub resource_id: String,
    pub consent_external_id: String,
}

fn consent_status(row: &Row, column: &str) -> Result<ConsentStatus, ApiError> {
    let text: String = row.try_get(column)?;
    ConsentStatus::from_db(&text).map_err(|_| {
        ApiError::msg(
            ErrorCode::Internal,
            "unknown consent status in the database",
        )
    })
}

fn bank(row: &Row) -> Result<BankId, ApiError> {
    let text: String = row.try_get("aspsp_id")?;
    text.parse()
        .map_err(|_| ApiError::msg(ErrorCode::Internal, "unknown bank id in the database"))
}

fn consent_record(row: &Row) -> Result<ConsentRecord, ApiError> {
    Ok(ConsentRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        bank: bank(row)?,
        external_id: row.try_get("external_id")?,
        status: consent_status(row, "status")?,
        valid_until: row.try_get("valid_until")?,
    })
}

fn linked_account(row: &Row) -> Result<LinkedAccount, ApiError> {
    let last4: String = row.try_get("account_last4")?;
    Ok(LinkedAccount {
        id: row.try_get("id")?,
        bank: bank(row)?,
        name: row.try_get("name")?,
        currency: row.try_get::<_, String>("currency")?.trim_end().to_owned(),
        last4: last4.trim_end().to_owned(),
        consent_id: row.try_get("consent_id")?,
        consent_status: consent_status(row, "consent_status")?,
        consent_valid_until: row.try_get("consent_valid_until")?,
    })
}

const ACCOUNT_COLUMNS: &str =
    "a.id, a.aspsp_id, a.name, a.currency, a.account_last4, a.consent_id, \
     c.status AS consent_status, c.valid_until AS consent_valid_until";

/// Records a consent the bank created, with its audit row.
pub async fn record_consent(
    db: &Db,
    origin: &Origin,
    actor: Actor,
    consent: NewConsent<'_>,
) -> Result<Uuid, ApiError> {
    let id = Uuid::new_v4();
    let entry = AuditEntry {
        actor,
        action: "bank_consent.started",
        target: Some(("bank_consent", id)),
        details: serde_json::json!({ "bank": consent.bank.as_str(), "status": consent.status.as_str() }),
    };
    let hash = consent.return_token_hash.to_vec();
    let frequency = i16::from(consent.frequency_per_day);
    audited(db, origin, entry, async |tx| {
        tx.query_typed(
            "INSERT INTO bank_consents (id, user_id, aspsp_id, external_id, status, valid_until, frequency_per_day, return_token_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                (&id, Type::UUID),
                (&consent.user_id, Type::UUID),
                (&consent.bank.as_str(), Type::TEXT),
                (&consent.external_id, Type::TEXT),
                (&consent.status.as_str(), Type::TEXT),
                (&consent.valid_until, Type::DATE),
                (&frequency, Type::INT2),
                (&hash, Type::BYTEA),
            ],
        )
        .await?;
        Ok(id)
    })
    .await
}

/// The consent a return from the bank names by its token.
pub async fn consent_by_return_token(
    db: &Db,
    token_hash: &[u8; 32],
) -> Result<Option<ConsentRecord>, ApiError> {
    let hash = token_hash.to_vec();
    let rows = db
        .read(
            "SELECT id, user_id, aspsp_id, external_id, status, valid_until
             FROM bank_consents WHERE return_token_hash = $1",
            &[(&hash, Type::BYTEA)],
        )
        .await?;
    rows.first().map(consent_record).transpose()
}

/// Records the consent's status as read from the bank and, when it is valid, links the accounts
/// it covers (an account linked before under another consent moves to this one). Returns how
/// many accounts the consent now covers.
pub async fn apply_consent_status(
    db: &Db,
    origin: &Origin,
    actor: Actor,
    consent: &ConsentRecord,
    read: ConsentRead<'_>,
    vault: &AccountVault,
) -> Result<usize, ApiError> {
    let ConsentRead {
        status,
        valid_until,
        accounts,
    } = read;
    // Sealed before the transaction: each new row's id is its ciphertext's associated data.
    let mut sealed = Vec::with_capacity(accounts.len());
    for account in accounts {
        let id = Uuid::new_v4();
        let ciphertext = vault.seal(id, account.iban).map_err(ApiError::internal)?;
        sealed.push((id, ciphertext, vault.lookup_hash(account.iban).to_vec()));
    }
    let entry = AuditEntry {
        actor,
        action: "bank_consent.status_read",
        target: Some(("bank_consent", consent.id)),
        details: serde_json::json!({
            "status": status.as_str(),
            "valid_until": valid_until.map(|d| d.to_string()),
            "accounts": accounts.len(),
        }),
    };
    audited(db, origin, entry, async |tx| {
        tx.query_typed(
            "UPDATE bank_consents SET status = $2, valid_until = COALESCE($3, valid_until) WHERE id = $1",
            &[
                (&consent.id, Type::UUID),
                (&status.as_str(), Type::TEXT),
                (&valid_until, Type::DATE),
            ],
        )
        .await?;
        for (account, (id, ciphertext, hmac)) in accounts.iter().zip(&sealed) {
            tx.query_typed(
                "INSERT INTO bank_accounts (id, user_id, aspsp_id, consent_id, resource_id, iban_ciphertext, iban_hmac,
                                            account_last4, currency, name, product)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (user_id, aspsp_id, resource_id) WHERE removed_at IS NULL
                 DO UPDATE SET consent_id = EXCLUDED.consent_id, name = EXCLUDED.name, product = EXCLUDED.product",
                &[
                    (id, Type::UUID),
                    (&consent.user_id, Type::UUID),
                    (&consent.bank.as_str(), Type::TEXT),
                    (&consent.id, Type::UUID),
                    (&account.resource_id, Type::TEXT),
                    (ciphertext, Type::BYTEA),
                    (hmac, Type::BYTEA),
                    (&account.iban.last4(), Type::BPCHAR),
                    (&account.currency, Type::BPCHAR),
                    (&account.name, Type::TEXT),
                    (&account.product, Type::TEXT),
                ],
            )
            .await?;
        }
        Ok(accounts.len())
    })
    .await
}

/// Records a status read from the bank outside a return (an account read that found the
/// consent expired or revoked).
pub async fn set_consent_status(
    db: &Db,
    origin: &Origin,
    actor: Actor,
    consent_id: Uuid,
    status: ConsentStatus,
) -> Result<(), ApiError> {
    let entry = AuditEntry {
        actor,
        action: "bank_consent.status_read",
        target: Some(("bank_consent", consent_id)),
        details: serde_json::json!({ "status": status.as_str() }),
    };
    audited(db, origin, entry, async |tx| {
        tx.query_typed(
            "UPDATE bank_consents SET status = $2 WHERE id = $1",
            &[(&consent_id, Type::UUID), (&status.as_str(), Type::TEXT)],
        )
        .await?;
        Ok(())
    })
    .await
}

/// The user's linked accounts, newest first.
pub async fn linked_accounts(db: &Db, user_id: Uuid) -> Result<Vec<LinkedAccount>, ApiError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM bank_accounts a JOIN bank_consents c ON c.id = a.consent_id
         WHERE a.user_id = $1 AND a.removed_at IS NULL ORDER BY a.created_at DESC, a.id DESC"
    );
    let rows = db.read(&sql, &[(&user_id, Type::UUID)]).await?;
    rows.iter().map(linked_account).collect()
}

/// One of the user's linked accounts and how to reach it at its bank; `None` for an account
/// that is not theirs, not linked, or does not exist (all answered alike).
pub async fn account_access(
    db: &Db,
    user_id: Uuid,
    account_id: Uuid,
) -> Result<Option<AccountAccess>, ApiError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS}, a.resource_id, c.external_id
         FROM bank_accounts a JOIN bank_consents c ON c.id = a.consent_id
         WHERE a.id = $1 AND a.user_id = $2 AND a.removed_at IS NULL"
    );
    let rows = db
        .read(&sql, &[(&account_id, Type::UUID), (&user_id, Type::UUID)])
        .await?;
    rows.first()
        .map(|row| {
            Ok(AccountAccess {
                account: linked_account(row)?,
                resource_id: row.try_get("resource_id")?,
                consent_external_id: row.try_get("external_id")?,
            })
        })
        .transpose()
}

/// Unlinks every account of a consent Drop has terminated at the bank, and records the
/// consent's end. Returns the accounts unlinked. Past transactions keep naming them.
pub async fn unlink_consent(
    db: &Db,
    origin: &Origin,
    actor: Actor,
    user_id: Uuid,
    consent_id: Uuid,
) -> Result<Vec<Uuid>, ApiError> {
    let entry = AuditEntry {
        actor,
        action: "bank_consent.terminated",
        target: Some(("bank_consent", consent_id)),
        details: serde_json::json!({}),
    };
    audited(db, origin, entry, async |tx| {
        tx.query_typed(
            "UPDATE bank_consents SET status = $3 WHERE id = $1 AND user_id = $2",
            &[
                (&consent_id, Type::UUID),
                (&user_id, Type::UUID),
                (&ConsentStatus::TerminatedByTpp.as_str(), Type::TEXT),
            ],
        )
        .await?;
        let rows = tx
            .query_typed(
                "UPDATE bank_accounts SET removed_at = now()
                 WHERE consent_id = $1 AND user_id = $2 AND removed_at IS NULL RETURNING id",
                &[(&consent_id, Type::UUID), (&user_id, Type::UUID)],
            )
            .await?;
        rows.iter()
            .map(|r| r.try_get::<_, Uuid>(0).map_err(ApiError::from))
            .collect()
    })
    .await
}
