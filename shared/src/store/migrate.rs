//! The project's own schema migration runner.
//!
//! The SQL files in `migrations/` (`NNNN_name.sql`) are embedded at compile time by `build.rs`,
//! so a binary applies exactly the schema it was built and tested with. [`migrate`]:
//!
//! 1. takes a session-level advisory lock, so runners started at the same time (two deploys,
//!    two Lambda instances) apply one after the other;
//! 2. creates `schema_migrations` if it is missing;
//! 3. refuses to go on if an applied migration's file has changed since (checksum), if the
//!    database carries a version this build does not know (a newer build migrated it), or if
//!    a pending migration is numbered below one already applied;
//! 4. applies each pending migration in its own transaction, together with its
//!    `schema_migrations` row, so a migration is either wholly applied and recorded or not at all;
//! 5. releases the lock.
//!
//! Running it again applies nothing. A migration file must not contain transaction control
//! (`BEGIN`/`COMMIT`) nor statements that cannot run inside a transaction
//! (`CREATE INDEX CONCURRENTLY`).
//!
//! The lock belongs to the connection: if the future is dropped half-way, close that client
//! (dropping it does) rather than reusing it, or the lock stays held until it closes.

use sha2::{Digest, Sha256};
use tokio_postgres::types::Type;
use tokio_postgres::Client;

/// One embedded migration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    version: i32,
    name: &'static str,
    file: &'static str,
    sql: &'static str,
}

impl Migration {
    /// The number the file name starts with.
    pub fn version(&self) -> i32 {
        self.version
    }

    /// The file name after the number, without `.sql`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The file name, e.g. `0003_payments.sql`.
    pub fn file(&self) -> &'static str {
        self.file
    }

    pub fn sql(&self) -> &'static str {
        self.sql
    }

    /// Lower-case hex SHA-256 of the SQL, with CRLF line ends read as LF (a Windows checkout
    /// of the same file has the same checksum).
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.replace("\r\n", "\n").as_bytes()))
    }
}

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Every migration this build carries, in version order.
pub fn embedded() -> &'static [Migration] {
    EMBEDDED
}

/// Key of the session advisory lock that serialises runners: "DROPMIGR" in ASCII.
pub const ADVISORY_LOCK_KEY: i64 = 0x4452_4F50_4D49_4752;

/// A migration applied by this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i32,
    pub name: &'static str,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Applied by this run, in order.
    pub applied: Vec<AppliedMigration>,
    /// How many were already applied before this run.
    pub already_applied: usize,
}

impl MigrationReport {
    /// The database was already up to date.
    pub fn is_noop(&self) -> bool {
        self.applied.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("taking the migration advisory lock")]
    Lock(#[source] tokio_postgres::Error),
    #[error("releasing the migration advisory lock")]
    Unlock(#[source] tokio_postgres::Error),
    #[error("creating or reading schema_migrations")]
    Bookkeeping(#[source] tokio_postgres::Error),
    #[error("applying migration {file}")]
    Apply {
        version: i32,
        file: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(
        "migration {file} has changed since it was applied (checksum recorded {recorded}, this build \
         {embedded}); never edit an applied migration, add a new one"
    )]
    ChecksumMismatch {
        version: i32,
        file: &'static str,
        recorded: String,
        embedded: String,
    },
    #[error(
        "the database has migration {version} ({name}) that this build does not know: a newer build \
         migrated it; deploy that build or a later one"
    )]
    UnknownVersion { version: i32, name: String },
    #[error(
        "migration {file} is numbered below {latest_applied}, the newest migration already applied; \
         renumber it after the newest one"
    )]
    OutOfOrder {
        version: i32,
        file: &'static str,
        latest_applied: i32,
    },
}

const CREATE_SCHEMA_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY CONSTRAINT schema_migrations_version_positive CHECK (version > 0),
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// Brings the database `client` is connected to up to this build's schema. See the module
/// documentation for the guarantees.
pub async fn migrate(client: &mut Client) -> Result<MigrationReport, MigrationError> {
    client
        .batch_execute(&format!("SELECT pg_advisory_lock({ADVISORY_LOCK_KEY})"))
        .await
        .map_err(MigrationError::Lock)?;
    let outcome = apply_pending(client, EMBEDDED).await;
    // After a failed migration its transaction has been rolled back (dropping a
    // `Transaction` queues the ROLLBACK before this statement).
    let unlocked = client
        .batch_execute(&format!("SELECT pg_advisory_unlock({ADVISORY_LOCK_KEY})"))
        .await;
    match (outcome, unlocked) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(MigrationError::Unlock(e)),
        (Ok(report), Ok(())) => Ok(report),
    }
}

struct Recorded {
    version: i32,
    name: String,
    checksum: String,
}

async fn recorded(client: &Client) -> Result<Vec<Recorded>, tokio_postgres::Error> {
    let rows = client
        .query_typed(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Recorded {
                version: row.try_get(0)?,
                name: row.try_get(1)?,
                checksum: row.try_get(2)?,
            })
        })
        .collect()
}

/// Checks what the database has against `migrations` and returns those still to apply.
fn plan(
    migrations: &'static [Migration],
    recorded: &[Recorded],
) -> Result<Vec<&'static Migration>, MigrationError> {
    for r in recorded {
        let Some(m) = migrations.iter().find(|m| m.version == r.version) else {
            return Err(MigrationError::UnknownVersion {
                version: r.version,
                name: r.name.clone(),
            });
        };
        let embedded = m.checksum();
        if embedded != r.checksum {
            return Err(MigrationError::ChecksumMismatch {
                version: m.version,
                file: m.file,
                recorded: r.checksum.clone(),
                embedded,
            });
        }
    }
    let pending: Vec<&'static Migration> = migrations
        .iter()
        .filter(|m| !recorded.iter().any(|r| r.version == m.version))
        .collect();
    let latest_applied = recorded.iter().map(|r| r.version).max();
    if let (Some(latest_applied), Some(first)) = (latest_applied, pending.first()) {
        if first.version < latest_applied {
            return Err(MigrationError::OutOfOrder {
                version: first.version,
                file: first.file,
                latest_applied,
            });
        }
    }
    Ok(pending)
}

async fn apply_pending(
    client: &mut Client,
    migrations: &'static [Migration],
) -> Result<MigrationReport, MigrationError> {
    client
        .batch_execute(CREATE_SCHEMA_MIGRATIONS)
        .await
        .map_err(MigrationError::Bookkeeping)?;
    let recorded = recorded(client)
        .await
        .map_err(MigrationError::Bookkeeping)?;
    let pending = plan(migrations, &recorded)?;

    let mut report = MigrationReport {
        applied: Vec::with_capacity(pending.len()),
        already_applied: recorded.len(),
    };
    for m in pending {
        let failed = |source| MigrationError::Apply {
            version: m.version,
            file: m.file,
            source,
        };
        let started = std::time::Instant::now();
        let tx = client.transaction().await.map_err(failed)?;
        tx.batch_execute(m.sql).await.map_err(failed)?;
        tx.query_typed(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[
                (&m.version, Type::INT4),
                (&m.name, Type::TEXT),
                (&m.checksum(), Type::TEXT),
            ],
        )
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        tracing::info!(
            version = m.version,
            file = m.file,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "applied migration"
        );
        report.applied.push(AppliedMigration {
            version: m.version,
            name: m.name,
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_migrations_are_in_strictly_increasing_order() {
        let versions: Vec<i32> = embedded().iter().map(Migration::version).collect();
        assert!(!versions.is_empty());
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
        assert_eq!(versions.first(), Some(&1));
    }

    #[test]
    fn checksum_ignores_crlf_but_not_content() {
        let lf = Migration {
            version: 1,
            name: "x",
            file: "0001_x.sql",
            sql: "SELECT 1;\nSELECT 2;\n",
        };
        let crlf = Migration {
            sql: "SELECT 1;\r\nSELECT 2;\r\n",
            ..lf
        };
        let other = Migration {
            sql: "SELECT 1;\nSELECT 3;\n",
            ..lf
        };
        assert_eq!(lf.checksum(), crlf.checksum());
        assert_ne!(lf.checksum(), other.checksum());
        assert_eq!(lf.checksum().len(), 64);
    }

    fn rec(version: i32, checksum: &str) -> Recorded {
        Recorded {
            version,
            name: format!("m{version}"),
            checksum: checksum.to_owned(),
        }
    }

    #[test]
    fn plan_refuses_unknown_changed_and_out_of_order() {
        let all = embedded();
        let first = all[0];
        // Unknown version.
        let err = plan(
            all,
            &[rec(first.version, &first.checksum()), rec(9999, "x")],
        )
        .unwrap_err();
        assert!(
            matches!(err, MigrationError::UnknownVersion { version: 9999, .. }),
            "{err}"
        );
        // Changed file.
        let err = plan(all, &[rec(first.version, "0000")]).unwrap_err();
        assert!(
            matches!(err, MigrationError::ChecksumMismatch { version: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains(first.file), "{err}");
        // A gap below the newest applied one.
        if let Some(last) = all.last().filter(|l| l.version != first.version) {
            let err = plan(all, &[rec(last.version, &last.checksum())]).unwrap_err();
            assert!(
                matches!(err, MigrationError::OutOfOrder { version: 1, .. }),
                "{err}"
            );
        }
        // Nothing applied yet: everything is pending; everything applied: nothing is.
        assert_eq!(plan(all, &[]).unwrap().len(), all.len());
        let done: Vec<Recorded> = all.iter().map(|m| rec(m.version, &m.checksum())).collect();
        assert!(plan(all, &done).unwrap().is_empty());
    }
}
