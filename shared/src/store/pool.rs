//! The PostgreSQL pool: one to two connections per Lambda instance, opened on first use.
//!
//! Queries go through `query_typed`-style unnamed statements so no named prepared statement
//! stays on the server (RDS Proxy would pin the session). TLS (rustls, WebPKI roots, which
//! RDS Proxy's certificates chain to) is used when the URL says `sslmode=require`.
//!
//! Every wait has a deadline ([`DbDeadlines`]): opening a connection, waiting for a free one,
//! and (client side, so it holds when the server stops answering altogether) each
//! [`Db::read`]. The server's `statement_timeout` for the application role is set with its
//! grants ([`crate::store::roles`]). A database that restarts or drops the connection is
//! *unavailable* ([`is_unavailable`]), answered 503 with `Retry-After`: the broken connection
//! is discarded, and a read is retried once on a fresh one.

use crate::aws::secrets::SecretStore;
use crate::config::{DatabaseConfig, DbDeadlines};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde::Deserialize;
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::RwLock;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

pub use deadpool_postgres::{Object as Connection, PoolError};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database configuration")]
    Config(#[source] tokio_postgres::Error),
    #[error("database secret")]
    Secret(#[source] crate::aws::secrets::SecretError),
    #[error("database secret is not the RDS JSON shape")]
    SecretShape(#[source] serde_json::Error),
    #[error("the database secret names no host and DATABASE_HOST is not set")]
    NoHost,
    #[error("building the connection pool")]
    Build(#[source] deadpool_postgres::BuildError),
    #[error("getting a database connection")]
    Pool(#[source] PoolError),
    #[error("database query")]
    Query(#[source] tokio_postgres::Error),
    #[error("the database did not answer within {} ms", .0.as_millis())]
    TimedOut(Duration),
}

/// The database is restarting, shutting down or gone from under the connection (SQLSTATE
/// 57P01 `admin_shutdown`, 57P02 `crash_shutdown`, 57P03 `cannot_connect_now`, class 08, a
/// closed connection or a socket error): a passing fault, not a bug of ours.
pub fn is_unavailable(err: &tokio_postgres::Error) -> bool {
    if err.is_closed() {
        return true;
    }
    match err.code() {
        Some(code) => {
            [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
            ]
            .contains(code)
                || code.code().starts_with("08")
        }
        None => std::error::Error::source(err).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// A lazily built pool. Cloning shares it.
#[derive(Clone)]
pub struct Db {
    source: DatabaseConfig,
    max_size: usize,
    secrets: SecretStore,
    deadlines: DbDeadlines,
    pool: std::sync::Arc<RwLock<Option<Pool>>>,
}

/// An RDS secret. RDS-managed master secrets carry only `username` and `password`; the host
/// then comes from configuration (`DATABASE_HOST`, the RDS Proxy endpoint).
#[derive(Deserialize)]
struct RdsSecret {
    host: Option<String>,
    port: Option<u16>,
    username: String,
    password: String,
    dbname: Option<String>,
}

impl Db {
    pub fn new(source: DatabaseConfig, max_size: usize, secrets: SecretStore) -> Self {
        Self {
            source,
            max_size: max_size.max(1),
            secrets,
            deadlines: DbDeadlines::default(),
            pool: Default::default(),
        }
    }

    pub fn with_deadlines(mut self, deadlines: DbDeadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    async fn pg_config(&self) -> Result<tokio_postgres::Config, DbError> {
        match &self.source {
            DatabaseConfig::Url(url) => {
                tokio_postgres::Config::from_str(url).map_err(DbError::Config)
            }
            DatabaseConfig::Secret {
                secret_id,
                host_override,
            } => {
                let raw = self
                    .secrets
                    .read_by_id(secret_id.clone())
                    .await
                    .map_err(DbError::Secret)?;
                let s: RdsSecret =
                    serde_json::from_str(raw.expose()).map_err(DbError::SecretShape)?;
                let mut c = tokio_postgres::Config::new();
                let host = host_override
                    .as_deref()
                    .or(s.host.as_deref())
                    .ok_or(DbError::NoHost)?;
                c.host(host)
                    .port(s.port.unwrap_or(5432))
                    .user(&s.username)
                    .password(&s.password)
                    .dbname(s.dbname.as_deref().unwrap_or("drop"))
                    .ssl_mode(SslMode::Require);
                Ok(c)
            }
        }
    }

    async fn build(&self) -> Result<Pool, DbError> {
        let mut pg = self.pg_config().await?;
        let connect = self.deadlines.connect;
        pg.connect_timeout(connect).application_name("drop");
        let mgr_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager =
            if pg.get_ssl_mode() == SslMode::Disable || pg.get_ssl_mode() == SslMode::Prefer {
                Manager::from_config(pg, tokio_postgres::NoTls, mgr_config)
            } else {
                Manager::from_config(pg, tls_connector(), mgr_config)
            };
        Pool::builder(manager)
            .max_size(self.max_size)
            .wait_timeout(Some(connect))
            .create_timeout(Some(connect))
            .recycle_timeout(Some(connect))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(DbError::Build)
    }

    /// A connection from the pool, building the pool (and reading its secret) on first use.
    /// When the server refuses the password — the secret was rotated since this instance read
    /// it — the pool is rebuilt from a fresh read of the secret, once.
    pub async fn conn(&self) -> Result<Connection, DbError> {
        let pool = self.pool().await?;
        match pool.get().await {
            Err(PoolError::Backend(err)) if password_refused(&err) => {
                tracing::warn!("database refused the password; re-reading the secret");
                let fresh = self.build().await?;
                *self.pool.write().await = Some(fresh.clone());
                fresh.get().await.map_err(DbError::Pool)
            }
            other => other.map_err(DbError::Pool),
        }
    }

    /// Whether the database answers a trivial statement, within the read deadline.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.read("SELECT 1", &[]).await.map(drop)
    }

    /// Runs one read-only statement and returns its rows, within the operation deadline. When
    /// the database drops the connection under it (a restart, a failover), that connection and
    /// every idle one are discarded and the read is tried once more on a fresh connection.
    pub async fn read(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, DbError> {
        let deadline = tokio::time::Instant::now() + self.deadlines.operation;
        match self.read_once(sql, params, deadline).await {
            Err(DbError::Query(e)) if is_unavailable(&e) => {
                tracing::warn!(error = %crate::error::log_chain(&e), "database connection lost; retrying the read once");
                if let Some(pool) = self.pool.read().await.as_ref() {
                    pool.retain(|_, _| false);
                }
                self.read_once(sql, params, deadline).await
            }
            other => other,
        }
    }

    async fn read_once(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
        deadline: tokio::time::Instant,
    ) -> Result<Vec<Row>, DbError> {
        let timed_out = || DbError::TimedOut(self.deadlines.operation);
        let conn = tokio::time::timeout_at(deadline, self.conn())
            .await
            .map_err(|_| timed_out())??;
        match tokio::time::timeout_at(deadline, conn.query_typed(sql, params)).await {
            Ok(Ok(rows)) => Ok(rows),
            // A connection given up half-way may still have an answer in flight, or be broken:
            // close it rather than give it back to the pool.
            Ok(Err(e)) => {
                drop(Connection::take(conn));
                Err(DbError::Query(e))
            }
            Err(_) => {
                drop(Connection::take(conn));
                Err(timed_out())
            }
        }
    }

    async fn pool(&self) -> Result<Pool, DbError> {
        if let Some(pool) = self.pool.read().await.as_ref() {
            return Ok(pool.clone());
        }
        let mut slot = self.pool.write().await;
        if let Some(pool) = slot.as_ref() {
            return Ok(pool.clone());
        }
        let pool = self.build().await?;
        *slot = Some(pool.clone());
        Ok(pool)
    }
}

fn password_refused(err: &tokio_postgres::Error) -> bool {
    err.code() == Some(&tokio_postgres::error::SqlState::INVALID_PASSWORD)
}

fn tls_connector() -> tokio_postgres_rustls::MakeRustlsConnect {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_rds_managed_secret_needs_only_username_and_password() {
        let s: RdsSecret = serde_json::from_str(r#"{"username":"u","password":"p"}"#).unwrap();
        assert!(s.host.is_none() && s.port.is_none() && s.dbname.is_none());
        assert_eq!((s.username.as_str(), s.password.as_str()), ("u", "p"));
    }
}
