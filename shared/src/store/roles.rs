//! The application role the functions connect as, and what it may do.
//!
//! The migration role (the RDS master user; locally `postgres`) owns the schema and runs the
//! migrations. The functions connect as an application role that owns nothing and holds only
//! the per-table privileges in [`TABLE_PRIVILEGES`]: it cannot change the schema, disable a
//! trigger, or update, delete or truncate `audit_log`. [`grant_app_role`] creates or updates
//! the role and re-applies its privileges; the migration runner's callers (job-migrate, the
//! local server, the testkit) run it after every migration, so a table added later gets
//! exactly the privileges listed here (none if it is not listed).

use postgres_protocol::escape::escape_identifier;
use tokio_postgres::Client;

use crate::secret::Secret;

/// What the application role may do on each table of the schema. Every table the migrations
/// create is listed, most with what the functions' SQL needs (`SELECT … FOR UPDATE` and
/// `ON CONFLICT DO UPDATE` need `UPDATE`); a table no function reads or writes yet has none.
pub const TABLE_PRIVILEGES: &[(&str, &[&str])] = &[
    ("users", &["SELECT", "INSERT", "UPDATE"]),
    ("sessions", &["SELECT", "INSERT", "UPDATE"]),
    ("settings", &["SELECT", "INSERT", "UPDATE"]),
    ("spending_limits", &["SELECT", "INSERT", "UPDATE"]),
    ("notifications", &["SELECT", "INSERT", "UPDATE"]),
    ("kyc_events", &["SELECT", "INSERT", "UPDATE"]),
    ("exchange_rates", &["SELECT"]),
    ("bank_consents", &["SELECT", "INSERT", "UPDATE"]),
    ("bank_accounts", &["SELECT", "INSERT", "UPDATE"]),
    ("quotes", &["INSERT"]),
    ("screening_results", &["INSERT"]),
    ("aml_alerts", &["INSERT"]),
    // Append-only: rows are added and read, never changed (the trigger refuses that too).
    ("audit_log", &["SELECT", "INSERT"]),
    ("consents", &[]),
    ("cards", &[]),
    ("recipients", &[]),
    ("merchants", &[]),
    ("transactions", &[]),
    ("outbox", &[]),
    ("idempotency_keys", &[]),
    ("str_reports", &[]),
    ("data_access_requests", &[]),
    ("complaints", &[]),
    ("schema_migrations", &[]),
];

/// The server's limit on one statement of the application role: a runaway query is cancelled
/// (SQLSTATE 57014, answered 503) before the function's own deadline.
pub const STATEMENT_TIMEOUT: &str = "3s";

/// A transaction left open (a function instance frozen mid-request) is ended and its locks
/// released after this long.
pub const IDLE_IN_TRANSACTION_TIMEOUT: &str = "10s";

/// The application role: its name and, where the server checks passwords, its password.
#[derive(Debug, Clone)]
pub struct AppRole {
    pub name: String,
    pub password: Option<Secret<String>>,
}

impl AppRole {
    /// The role a connection URL connects as (local runs and tests): its user and password.
    pub fn from_url(url: &str) -> Result<Self, RoleError> {
        let config: tokio_postgres::Config = url.parse().map_err(RoleError::Url)?;
        let name = config.get_user().ok_or(RoleError::NoUser)?.to_owned();
        let password = config
            .get_password()
            .map(|p| Secret::new(String::from_utf8_lossy(p).into_owned()));
        Ok(Self { name, password })
    }

    /// The role an RDS-shaped secret names (`username`, `password`; other fields ignored).
    pub fn from_secret(json: &Secret<String>) -> Result<Self, RoleError> {
        #[derive(serde::Deserialize)]
        struct Shape {
            username: String,
            password: String,
        }
        let s: Shape = serde_json::from_str(json.expose()).map_err(RoleError::SecretShape)?;
        Ok(Self {
            name: s.username,
            password: Some(Secret::new(s.password)),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    #[error("the application database URL")]
    Url(#[source] tokio_postgres::Error),
    #[error("the application database URL names no user")]
    NoUser,
    #[error("the application role secret is not JSON with username and password")]
    SecretShape(#[source] serde_json::Error),
    #[error("the application role name {0:?} is not a plain lower-case identifier")]
    BadName(String),
    #[error("the application role must not be the migration role")]
    SameAsOwner,
    #[error("creating or updating the application role")]
    Role(#[source] tokio_postgres::Error),
    #[error("granting the application role its privileges")]
    Grant(#[source] tokio_postgres::Error),
}

/// Creates `role` if it is missing, makes it a plain login role with `role.password`, and
/// gives it exactly the privileges of [`TABLE_PRIVILEGES`] on the tables of the `public`
/// schema (revoking anything else), in one transaction. `client` is connected as the owner.
pub async fn grant_app_role(client: &mut Client, role: &AppRole) -> Result<(), RoleError> {
    let name = &role.name;
    let plain = name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !plain {
        return Err(RoleError::BadName(name.clone()));
    }
    let owner: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .map_err(RoleError::Role)?
        .get(0);
    if owner == *name {
        return Err(RoleError::SameAsOwner);
    }
    let ident = escape_identifier(name);
    // Two runners may race to create it; the loser carries on with the winner's role.
    client
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {ident}; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ))
        .await
        .map_err(RoleError::Role)?;
    // The password is sent as a SCRAM verifier, so it is never in a statement the server
    // could log.
    let password = match &role.password {
        Some(p) => postgres_protocol::escape::escape_literal(
            &postgres_protocol::password::scram_sha_256(p.expose().as_bytes()),
        ),
        None => "NULL".to_owned(),
    };
    client
        .batch_execute(&format!(
            "ALTER ROLE {ident} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION \
             INHERIT PASSWORD {password};\n\
             ALTER ROLE {ident} SET statement_timeout = '{STATEMENT_TIMEOUT}';\n\
             ALTER ROLE {ident} SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_TIMEOUT}'"
        ))
        .await
        .map_err(RoleError::Role)?;

    let tx = client.transaction().await.map_err(RoleError::Grant)?;
    let tables = tx
        .query_typed(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .map_err(RoleError::Grant)?;
    let mut sql = format!(
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;\n\
         REVOKE ALL ON SCHEMA public FROM {ident};\n\
         GRANT USAGE ON SCHEMA public TO {ident};\n"
    );
    let mut inserts = Vec::new();
    for row in &tables {
        let table: String = row.get(0);
        let table_ident = escape_identifier(&table);
        sql.push_str(&format!(
            "REVOKE ALL ON TABLE {table_ident} FROM {ident};\n"
        ));
        let privileges = privileges_of(&table);
        if !privileges.is_empty() {
            sql.push_str(&format!(
                "GRANT {} ON TABLE {table_ident} TO {ident};\n",
                privileges.join(", ")
            ));
        }
        if privileges.contains(&"INSERT") {
            inserts.push(table);
        }
    }
    // Identity and serial columns draw from sequences their table owns: the role may use
    // those of the tables it inserts into, and no other.
    let sequences = tx
        .query_typed(
            "SELECT s.relname::text, t.relname::text
             FROM pg_class s
             JOIN pg_namespace n ON n.oid = s.relnamespace AND n.nspname = 'public'
             LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
                  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
             LEFT JOIN pg_class t ON t.oid = d.refobjid
             WHERE s.relkind = 'S'",
            &[],
        )
        .await
        .map_err(RoleError::Grant)?;
    for row in &sequences {
        let sequence = escape_identifier(&row.get::<_, String>(0));
        let table: Option<String> = row.get(1);
        sql.push_str(&format!(
            "REVOKE ALL ON SEQUENCE {sequence} FROM {ident};\n"
        ));
        if table.is_some_and(|t| inserts.contains(&t)) {
            sql.push_str(&format!("GRANT USAGE ON SEQUENCE {sequence} TO {ident};\n"));
        }
    }
    tx.batch_execute(&sql).await.map_err(RoleError::Grant)?;
    tx.commit().await.map_err(RoleError::Grant)
}

fn privileges_of(table: &str) -> &'static [&'static str] {
    match TABLE_PRIVILEGES.iter().find(|(t, _)| *t == table) {
        Some((_, privileges)) => privileges,
        None => {
            tracing::warn!(
                table,
                "table not in TABLE_PRIVILEGES: the application role gets nothing on it"
            );
            &[]
        }
    }
}
