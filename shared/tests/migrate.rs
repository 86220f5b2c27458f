//! The migration runner and the schema, against a real PostgreSQL (15).
//!
//! Connects with the admin URL in `DROP_TEST_DATABASE_URL`, or
//! `postgres://postgres@127.0.0.1:5432/postgres` when it is unset. Every test creates its own
//! database `drop_test_<uuid>` and drops it at the end, whether the test passed or not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed step must stop the test loudly

use drop_shared::store::migrate::{self, MigrationError};
use std::future::Future;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};
use uuid::Uuid;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The 18 tables kept from the source documents (rate_limits moved to DynamoDB) plus quotes,
/// outbox and idempotency_keys, plus the runner's own bookkeeping.
const TABLES: &[&str] = &[
    "aml_alerts",
    "audit_log",
    "bank_accounts",
    "bank_consents",
    "cards",
    "complaints",
    "consents",
    "data_access_requests",
    "exchange_rates",
    "idempotency_keys",
    "kyc_events",
    "merchants",
    "notifications",
    "outbox",
    "quotes",
    "recipients",
    "schema_migrations",
    "screening_results",
    "sessions",
    "settings",
    "spending_limits",
    "str_reports",
    "transactions",
    "users",
];

fn admin_config() -> Config {
    let url = std::env::var("DROP_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned());
    url.parse()
        .expect("DROP_TEST_DATABASE_URL is not a PostgreSQL URL")
}

async fn connect(config: &Config) -> Client {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .expect("connecting to PostgreSQL");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A database of the test's own.
struct TestDb {
    config: Config,
}

impl TestDb {
    async fn client(&self) -> Client {
        connect(&self.config).await
    }

    async fn migrated_client(&self) -> Client {
        let mut client = self.client().await;
        migrate::migrate(&mut client)
            .await
            .expect("migrating a fresh database");
        client
    }
}

/// Runs `body` against a fresh database and drops the database afterwards, also when `body`
/// panics (the panic is then re-raised).
async fn with_test_db<F, Fut>(body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin_config = admin_config();
    let admin = connect(&admin_config).await;
    let name = format!("drop_test_{}", Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("CREATE DATABASE");
    let mut config = admin_config.clone();
    config.dbname(&name);

    let outcome = tokio::spawn(body(TestDb { config })).await;

    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .expect("DROP DATABASE");
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
}

/// The error of `result` is a database error with this SQLSTATE and constraint name.
#[track_caller]
fn assert_db_error<T: std::fmt::Debug>(
    result: Result<T, tokio_postgres::Error>,
    code: &SqlState,
    constraint: &str,
) {
    let Err(err) = result else {
        panic!("expected {constraint} to refuse the statement")
    };
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("not a database error: {err:?}"));
    assert_eq!(db.code(), code, "{db:?}");
    assert_eq!(db.constraint(), Some(constraint), "{db:?}");
}

fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

async fn advisory_locks_held(client: &Client) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_fresh_database_gets_every_migration_and_table() {
    with_test_db(|db| async move {
        let mut client = db.client().await;
        let report = migrate::migrate(&mut client).await.expect("migrate");

        let embedded = migrate::embedded();
        assert!(embedded.len() >= 5);
        assert_eq!(report.already_applied, 0);
        let applied: Vec<i32> = report.applied.iter().map(|m| m.version).collect();
        let expected: Vec<i32> = embedded.iter().map(|m| m.version()).collect();
        assert_eq!(applied, expected);

        let rows = client
            .query(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
                &[],
            )
            .await
            .unwrap();
        let tables: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(tables, TABLES);
        assert!(!tables.iter().any(|t| t == "rate_limits"));

        let rows = client.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version", &[]).await.unwrap();
        assert_eq!(rows.len(), embedded.len());
        for (row, m) in rows.iter().zip(embedded) {
            assert_eq!(row.get::<_, i32>(0), m.version());
            assert_eq!(row.get::<_, String>(1), m.name());
            assert_eq!(row.get::<_, String>(2), m.checksum());
        }

        // Every table says how long its rows are kept.
        let uncommented: Vec<String> = client
            .query(
                "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'schema_migrations'
                   AND coalesce(obj_description(c.oid, 'pg_class'), '') NOT LIKE '%Retention:%'",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(uncommented.is_empty(), "tables without a retention comment: {uncommented:?}");

        assert_eq!(advisory_locks_held(&client).await, 0, "the runner released its lock");
    })
    .await;
}

#[tokio::test]
async fn a_second_run_applies_nothing() {
    with_test_db(|db| async move {
        let mut client = db.migrated_client().await;
        let again = migrate::migrate(&mut client).await.expect("second run");
        assert!(again.is_noop(), "{again:?}");
        assert_eq!(again.already_applied, migrate::embedded().len());

        // A new connection (a later deploy) sees the same.
        let mut other = db.client().await;
        assert!(migrate::migrate(&mut other)
            .await
            .expect("third run")
            .is_noop());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runners_apply_each_migration_exactly_once() {
    with_test_db(|db| async move {
        let mut runners = Vec::new();
        for _ in 0..4 {
            let mut client = db.client().await;
            runners.push(tokio::spawn(
                async move { migrate::migrate(&mut client).await },
            ));
        }
        let mut reports = Vec::new();
        for runner in runners {
            reports.push(
                runner
                    .await
                    .expect("runner task")
                    .expect("every concurrent runner succeeds"),
            );
        }

        let n = migrate::embedded().len();
        let applied: usize = reports.iter().map(|r| r.applied.len()).sum();
        assert_eq!(applied, n, "{reports:?}");
        // The lock serialised them: one did all the work, the others found it done.
        assert_eq!(
            reports.iter().filter(|r| r.applied.len() == n).count(),
            1,
            "{reports:?}"
        );
        assert_eq!(
            reports
                .iter()
                .filter(|r| r.is_noop() && r.already_applied == n)
                .count(),
            3,
            "{reports:?}"
        );

        let client = db.client().await;
        let row = client
            .query_one(
                "SELECT count(*), count(DISTINCT version) FROM schema_migrations",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), i64::try_from(n).unwrap());
        assert_eq!(row.get::<_, i64>(1), i64::try_from(n).unwrap());
    })
    .await;
}

#[tokio::test]
async fn a_changed_migration_is_refused_naming_the_file() {
    with_test_db(|db| async move {
        let mut client = db.migrated_client().await;
        let second = migrate::embedded()[1];
        client
            .execute(
                "UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = $1",
                &[&second.version()],
            )
            .await
            .unwrap();

        let err = migrate::migrate(&mut client)
            .await
            .expect_err("a tampered checksum must stop the runner");
        assert!(
            matches!(&err, MigrationError::ChecksumMismatch { version, file, .. }
                if *version == second.version() && *file == second.file()),
            "{err:?}"
        );
        assert!(err.to_string().contains(second.file()), "{err}");
        assert_eq!(
            advisory_locks_held(&client).await,
            0,
            "the lock is released after a refusal"
        );
    })
    .await;
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_build_is_refused() {
    with_test_db(|db| async move {
        let mut client = db.migrated_client().await;
        client
            .batch_execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'from_the_future', 'x')")
            .await
            .unwrap();
        let err = migrate::migrate(&mut client).await.expect_err("an unknown version must stop the runner");
        assert!(matches!(&err, MigrationError::UnknownVersion { version: 9999, name } if name == "from_the_future"), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn a_failing_migration_leaves_nothing_half_applied() {
    with_test_db(|db| async move {
        let mut client = db.client().await;
        // Something in the way of the last table 0002 creates, after users and sessions.
        client
            .batch_execute("CREATE TABLE consents (in_the_way integer)")
            .await
            .unwrap();

        let err = migrate::migrate(&mut client)
            .await
            .expect_err("0002 cannot create consents");
        let second = migrate::embedded()[1];
        assert!(
            matches!(&err, MigrationError::Apply { version, .. } if *version == second.version()),
            "{err:?}"
        );
        let text = chain(&err);
        assert!(
            text.contains(second.file()) && text.contains("already exists"),
            "{text}"
        );

        // 0001 stays applied and recorded; nothing of 0002 exists, not even its first statements.
        let versions: Vec<i32> = client
            .query(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(versions, vec![migrate::embedded()[0].version()]);
        for table in ["users", "sessions", "settings"] {
            let found: Option<String> = client
                .query_one("SELECT to_regclass($1)::text", &[&table])
                .await
                .unwrap()
                .get(0);
            assert_eq!(found, None, "{table} was rolled back with the rest of 0002");
        }
        assert_eq!(advisory_locks_held(&client).await, 0);

        // Once the obstacle is gone the run completes.
        client.batch_execute("DROP TABLE consents").await.unwrap();
        let report = migrate::migrate(&mut client)
            .await
            .expect("migrate after the fix");
        assert_eq!(report.already_applied, 1);
        assert_eq!(report.applied.len(), migrate::embedded().len() - 1);
    })
    .await;
}

#[tokio::test]
async fn audit_log_is_append_only() {
    with_test_db(|db| async move {
        let mut client = db.migrated_client().await;
        let id: Uuid = client
            .query_one(
                "INSERT INTO audit_log (actor_kind, action, target_type, target_id, request_id, ip, details)
                 VALUES ('system', 'exchange_rate.refreshed', 'exchange_rate', gen_random_uuid(), 'req-1',
                         '203.0.113.77', '{\"pairs\": 30}')
                 RETURNING id",
                &[],
            )
            .await
            .unwrap()
            .get(0);

        let code = SqlState::INTEGRITY_CONSTRAINT_VIOLATION;
        assert_db_error(
            client.execute("UPDATE audit_log SET action = 'user.blocked' WHERE id = $1", &[&id]).await,
            &code,
            "audit_log_append_only",
        );
        assert_db_error(
            client.execute("UPDATE audit_log SET details = '{}' WHERE id = $1", &[&id]).await,
            &code,
            "audit_log_append_only",
        );
        assert_db_error(client.execute("DELETE FROM audit_log WHERE id = $1", &[&id]).await, &code, "audit_log_append_only");
        assert_db_error(client.execute("TRUNCATE audit_log", &[]).await, &code, "audit_log_append_only");

        // The one change the DPIA requires: pseudonymising the IP, once.
        let pseudonymise = "UPDATE audit_log SET ip = pseudonymise_ip(ip), ip_pseudonymised_at = now() WHERE id = $1";
        assert_eq!(client.execute(pseudonymise, &[&id]).await.unwrap(), 1);
        let ip: String = client.query_one("SELECT ip::text FROM audit_log WHERE id = $1", &[&id]).await.unwrap().get(0);
        assert_eq!(ip, "203.0.113.0/24");
        assert_db_error(client.execute(pseudonymise, &[&id]).await, &code, "audit_log_append_only");
        // Smuggling another change in with it is refused too.
        let other: Uuid = client
            .query_one("INSERT INTO audit_log (actor_kind, action, ip) VALUES ('system', 'job.ran', '2001:db8:1:2::7') RETURNING id", &[])
            .await
            .unwrap()
            .get(0);
        assert_db_error(
            client
                .execute(
                    "UPDATE audit_log SET ip = pseudonymise_ip(ip), ip_pseudonymised_at = now(), action = 'job.hidden' WHERE id = $1",
                    &[&other],
                )
                .await,
            &code,
            "audit_log_append_only",
        );

        // Only rows past the 5-year floor, and only by a session declaring itself the retention job.
        let old: Uuid = client
            .query_one(
                "INSERT INTO audit_log (actor_kind, action, created_at) VALUES ('system', 'job.ran', now() - interval '6 years') RETURNING id",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_db_error(client.execute("DELETE FROM audit_log WHERE id = $1", &[&old]).await, &code, "audit_log_append_only");
        let tx = client.transaction().await.unwrap();
        tx.batch_execute("SET LOCAL drop.retention_purge = 'on'").await.unwrap();
        assert_db_error(tx.execute("DELETE FROM audit_log WHERE id = $1", &[&id]).await, &code, "audit_log_append_only");
        tx.rollback().await.unwrap();
        let tx = client.transaction().await.unwrap();
        tx.batch_execute("SET LOCAL drop.retention_purge = 'on'").await.unwrap();
        assert_eq!(tx.execute("DELETE FROM audit_log WHERE id = $1", &[&old]).await.unwrap(), 1);
        tx.commit().await.unwrap();

        let left: i64 = client.query_one("SELECT count(*) FROM audit_log", &[]).await.unwrap().get(0);
        assert_eq!(left, 2);
    })
    .await;
}

struct Fixture {
    user: Uuid,
    recipient: Uuid,
}

async fn insert_user(client: &Client, altsub: &str) -> Uuid {
    client
        .query_one(
            "INSERT INTO users (bankid_altsub, fnr_ciphertext, fnr_hmac, given_name, family_name, birth_date,
                                phone_e164, email, kyc_status)
             VALUES ($1, decode(repeat('ab', 40), 'hex'), sha256($1::text::bytea), 'Kari', 'Nordmann', '1990-05-17',
                     '+4791234567', 'kari@example.no', 'approved')
             RETURNING id",
            &[&altsub],
        )
        .await
        .unwrap()
        .get(0)
}

async fn fixture(client: &Client) -> Fixture {
    let user = insert_user(client, "altsub-kari").await;
    let recipient = client
        .query_one(
            "INSERT INTO recipients (user_id, name, country, currency, iban)
             VALUES ($1, 'Jan Kowalski', 'PL', 'PLN', 'PL61109010140000071219812874') RETURNING id",
            &[&user],
        )
        .await
        .unwrap()
        .get(0);
    Fixture { user, recipient }
}

/// A quote for 1000 NOK to Poland, owned by `user`, valid for 10 minutes.
async fn insert_quote(client: &Client, user: Uuid) -> Uuid {
    client
        .query_one(
            "INSERT INTO quotes (user_id, destination_country, send_amount, fee, total_charged, reference_rate,
                                 customer_rate, markup_percent, receive_amount, receive_currency, rate_source, expires_at)
             VALUES ($1, 'PL', 1000, 5, 1005, 0.37, 0.3681, 0.52, 368.10, 'PLN', 'test', now() + interval '10 minutes')
             RETURNING id",
            &[&user],
        )
        .await
        .unwrap()
        .get(0)
}

/// The literal parts of a remittance row that tests vary.
#[derive(Clone, Copy)]
struct Remittance<'a> {
    amount: &'a str,
    fee: &'a str,
    total: &'a str,
    currency: &'a str,
    status: &'a str,
}

const GOOD: Remittance<'static> = Remittance {
    amount: "1000",
    fee: "5",
    total: "1005",
    currency: "NOK",
    status: "created",
};

async fn insert_remittance(
    client: &Client,
    user: Uuid,
    recipient: Uuid,
    quote: Uuid,
    r: Remittance<'_>,
) -> Result<Uuid, tokio_postgres::Error> {
    let Remittance {
        amount,
        fee,
        total,
        currency,
        status,
    } = r;
    let row = client
        .query_one(
            &format!(
                "INSERT INTO transactions (user_id, kind, status, amount, currency, fee, total_amount, exchange_rate,
                                           receive_amount, receive_currency, quote_id, recipient_id, rail)
                 VALUES ($1, 'remittance', '{status}', {amount}, '{currency}', {fee}, {total}, 0.3681,
                         368.10, 'PLN', $3, $2, 'SEPA')
                 RETURNING id"
            ),
            &[&user, &recipient, &quote],
        )
        .await?;
    Ok(row.get(0))
}

#[tokio::test]
async fn check_constraints_refuse_bad_rows() {
    with_test_db(|db| async move {
        let client = db.migrated_client().await;
        let f = fixture(&client).await;
        let check = SqlState::CHECK_VIOLATION;

        // Every refusal below uses an otherwise valid row: the same row with GOOD values is accepted.
        let spare_quote = insert_quote(&client, f.user).await;
        let with = |r: Remittance<'static>| insert_remittance(&client, f.user, f.recipient, spare_quote, r);

        // A negative amount (fee and total kept consistent, so only the amount is wrong).
        assert_db_error(
            with(Remittance { amount: "-5", fee: "10", total: "5", ..GOOD }).await,
            &check,
            "transactions_amount_positive",
        );
        assert_db_error(
            with(Remittance { amount: "0", fee: "10", total: "10", ..GOOD }).await,
            &check,
            "transactions_amount_positive",
        );
        // A currency that is not an upper-case ISO 4217 code.
        assert_db_error(with(Remittance { currency: "nok", ..GOOD }).await, &check, "transactions_currency_iso4217");
        // A status outside the state machine.
        assert_db_error(with(Remittance { status: "completed", ..GOOD }).await, &check, "transactions_status_known");
        // A total that is not amount + fee.
        assert_db_error(
            with(Remittance { total: "1000", ..GOOD }).await,
            &check,
            "transactions_total_is_amount_plus_fee",
        );
        // The positive control.
        with(GOOD).await.expect("the unaltered row is accepted");

        // A quote pays for one payment only.
        assert_db_error(
            with(GOOD).await,
            &SqlState::UNIQUE_VIOLATION,
            "transactions_quote_id_key",
        );

        // A phone that is not a Norwegian mobile number.
        for phone in ["+4712345678", "+4721234567", "+46701234567", "004791234567", "+479123456", "+47912345678"] {
            assert_db_error(
                client.execute("UPDATE users SET phone_e164 = $2 WHERE id = $1", &[&f.user, &phone]).await,
                &check,
                "users_phone_norwegian_mobile",
            );
        }
        for phone in ["+4791234567", "+4741234567"] {
            client.execute("UPDATE users SET phone_e164 = $2 WHERE id = $1", &[&f.user, &phone]).await.unwrap();
        }

        // A quote that expires when (or before) it is created.
        for expires in ["2025-01-01T12:00:00Z", "2025-01-01T11:59:59Z"] {
            assert_db_error(
                client
                    .execute(
                        &format!(
                            "INSERT INTO quotes (user_id, destination_country, send_amount, fee, total_charged,
                                                 reference_rate, customer_rate, markup_percent, receive_amount,
                                                 receive_currency, rate_source, created_at, expires_at)
                             VALUES ($1, 'PL', 1000, 5, 1005, 0.37, 0.3681, 0.52, 368.10, 'PLN', 'test',
                                     '2025-01-01T12:00:00Z', '{expires}')"
                        ),
                        &[&f.user],
                    )
                    .await,
                &check,
                "quotes_expires_after_creation",
            );
        }

        // Sessions live 24 hours on the web and 7 days on mobile.
        let session = "INSERT INTO sessions (user_id, kind, created_at, expires_at)
                       VALUES ($1, $2, '2025-01-01T12:00:00Z', '2025-01-01T12:00:00Z'::timestamptz + $3::text::interval)";
        for (kind, lifetime) in [("web", "24 hours"), ("mobile", "7 days")] {
            client.execute(session, &[&f.user, &kind, &lifetime]).await.unwrap();
        }
        for (kind, lifetime) in [("web", "25 hours"), ("mobile", "8 days")] {
            assert_db_error(
                client.execute(session, &[&f.user, &kind, &lifetime]).await,
                &check,
                "sessions_lifetime_within_policy",
            );
        }
        assert_db_error(
            client.execute(session, &[&f.user, &"tv", &"1 hour"]).await,
            &check,
            "sessions_kind_known",
        );

        // Other rules of the same kind.
        assert_db_error(
            client.execute("UPDATE users SET kyc_status = 'done' WHERE id = $1", &[&f.user]).await,
            &check,
            "users_kyc_status_known",
        );
        assert_db_error(
            client.execute("UPDATE users SET roles = ARRAY['user', 'root'] WHERE id = $1", &[&f.user]).await,
            &check,
            "users_roles_known",
        );
        assert_db_error(
            client
                .execute(
                    "INSERT INTO exchange_rates (quote_currency, reference_rate, markup_bps, source, as_of)
                     VALUES ('EUR', 0.085, 1001, 'test', now())",
                    &[],
                )
                .await,
            &check,
            "exchange_rates_markup_bps_range",
        );
        assert_db_error(
            client
                .execute(
                    "INSERT INTO merchants (owner_user_id, organisation_number, legal_name, display_name, settlement_iban)
                     VALUES ($1, '123456789', 'Kafé AS', 'Kafé', 'NO9386011117947')",
                    &[&f.user],
                )
                .await,
            &check,
            "merchants_organisation_number_shape",
        );
        assert_db_error(
            client
                .execute(
                    "INSERT INTO spending_limits (user_id, daily_limit, monthly_limit) VALUES ($1, 0, 1000)",
                    &[&f.user],
                )
                .await,
            &check,
            "spending_limits_daily_positive",
        );

    })
    .await;
}

#[tokio::test]
async fn transactions_only_move_forward_and_keep_their_terms() {
    with_test_db(|db| async move {
        let client = db.migrated_client().await;
        let f = fixture(&client).await;
        let quote = insert_quote(&client, f.user).await;
        let tx = insert_remittance(&client, f.user, f.recipient, quote, GOOD).await.unwrap();
        let c = &client;
        let set_status = |status: &'static str| async move {
            c.execute("UPDATE transactions SET status = $2 WHERE id = $1", &[&tx, &status]).await
        };
        let check = SqlState::CHECK_VIOLATION;

        set_status("pending_sca").await.unwrap();
        assert_db_error(set_status("created").await, &check, "transactions_status_forward_only");
        set_status("pending_sca").await.expect("repeating the same status is a no-op");
        set_status("authorised").await.unwrap();
        set_status("executed").await.unwrap();
        // A late webhook cannot move a final payment.
        for late in ["failed", "pending_sca", "authorised", "cancelled"] {
            assert_db_error(set_status(late).await, &check, "transactions_status_forward_only");
        }

        assert_db_error(
            client.execute("UPDATE transactions SET amount = 2000, total_amount = 2005 WHERE id = $1", &[&tx]).await,
            &check,
            "transactions_terms_immutable",
        );
        // What the bank tells us may still be recorded.
        client
            .execute("UPDATE transactions SET aspsp_id = 'DNBANOKK', bank_payment_id = 'p-1' WHERE id = $1", &[&tx])
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_payment_can_only_use_the_payers_own_recipient_and_quote() {
    with_test_db(|db| async move {
        let client = db.migrated_client().await;
        let kari = fixture(&client).await;
        let ola = insert_user(&client, "altsub-ola").await;
        let olas_quote = insert_quote(&client, ola).await;
        let karis_quote = insert_quote(&client, kari.user).await;
        let fk = SqlState::FOREIGN_KEY_VIOLATION;

        // Ola pays with Kari's recipient.
        assert_db_error(
            insert_remittance(&client, ola, kari.recipient, olas_quote, GOOD).await,
            &fk,
            "transactions_recipient_fkey",
        );
        // Kari pays with Ola's quote.
        assert_db_error(
            insert_remittance(&client, kari.user, kari.recipient, olas_quote, GOOD).await,
            &fk,
            "transactions_quote_fkey",
        );
        insert_remittance(&client, kari.user, kari.recipient, karis_quote, GOOD).await.unwrap();

        // A QR payment to Kari's shop by Per, who has nothing else in Drop.
        let per = insert_user(&client, "altsub-per").await;
        let shop: Uuid = client
            .query_one(
                "INSERT INTO merchants (owner_user_id, organisation_number, legal_name, display_name, settlement_iban)
                 VALUES ($1, '923609016', 'Karis Kafé AS', 'Karis Kafé', 'NO9386011117947') RETURNING id",
                &[&kari.user],
            )
            .await
            .unwrap()
            .get(0);
        client
            .execute(
                "INSERT INTO transactions (user_id, kind, amount, fee, total_amount, merchant_id)
                 VALUES ($1, 'qr_payment', 250, 0, 250, $2)",
                &[&per, &shop],
            )
            .await
            .unwrap();
        // Users are anonymised, never deleted: a payment record refuses the delete.
        assert_db_error(
            client.execute("DELETE FROM users WHERE id = $1", &[&per]).await,
            &fk,
            "transactions_user_id_fkey",
        );
    })
    .await;
}
