//! The audit trail: one append-only row per state change, with who, what, which request and
//! from where. Details carry ids and codes only, never personal data.

use std::net::IpAddr;
use tokio_postgres::types::Type;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User(Uuid),
    Admin(Uuid),
    System,
    Provider,
}

impl Actor {
    fn parts(self) -> (&'static str, Option<Uuid>) {
        match self {
            Self::User(id) => ("user", Some(id)),
            Self::Admin(id) => ("admin", Some(id)),
            Self::System => ("system", None),
            Self::Provider => ("provider", None),
        }
    }
}

/// The request a change came from.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The gateway's id for the request.
    pub request_id: String,
    /// The id the client sent, kept beside the gateway's.
    pub client_request_id: Option<String>,
    pub ip: Option<IpAddr>,
}

#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub actor: Actor,
    /// `noun.verb`, e.g. `user.registered`, `settings.updated`.
    pub action: &'a str,
    /// The table-like kind and id of what changed.
    pub target: Option<(&'a str, Uuid)>,
    pub details: serde_json::Value,
}

/// Appends one row to `audit_log` (on the caller's transaction, when given one).
pub async fn record(
    db: &impl tokio_postgres::GenericClient,
    origin: &Origin,
    entry: AuditEntry<'_>,
) -> Result<(), tokio_postgres::Error> {
    let (actor_kind, actor_id) = entry.actor.parts();
    let (target_type, target_id) = match entry.target {
        Some((kind, id)) => (Some(kind), Some(id)),
        None => (None, None),
    };
    db.query_typed(
        "INSERT INTO audit_log (actor_user_id, actor_kind, action, target_type, target_id, request_id, client_request_id, ip, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            (&actor_id, Type::UUID),
            (&actor_kind, Type::TEXT),
            (&entry.action, Type::TEXT),
            (&target_type, Type::TEXT),
            (&target_id, Type::UUID),
            (&origin.request_id, Type::TEXT),
            (&origin.client_request_id, Type::TEXT),
            (&origin.ip, Type::INET),
            (&entry.details, Type::JSONB),
        ],
    )
    .await?;
    Ok(())
}

/// Makes a change and its audit row in one transaction: the one way a function records a
/// change. `change` runs on the transaction; if it fails, nothing is written.
pub async fn audited<T>(
    db: &crate::store::Db,
    origin: &Origin,
    entry: AuditEntry<'_>,
    change: impl AsyncFnOnce(&tokio_postgres::Transaction<'_>) -> Result<T, crate::ApiError>,
) -> Result<T, crate::ApiError> {
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let out = change(&tx).await?;
    record(&*tx, origin, entry).await?;
    tx.commit().await?;
    Ok(out)
}
