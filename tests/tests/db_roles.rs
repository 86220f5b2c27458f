//! The functions connect as an application role that owns nothing and holds only its
//! per-table grants: `audit_log` can be appended to and read, never changed, and no table can be
//! altered (so no trigger can be disabled).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed step must stop the test loudly

use drop_shared::store::roles::{self, AppRole, TABLE_PRIVILEGES};
use drop_testkit::TestApp;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

/// Runs `sql` and expects PostgreSQL to refuse it for lack of privilege (42501), not for any
/// other reason (a trigger, a constraint).
async fn refused(db: &Client, sql: &str) {
    match db.batch_execute(sql).await {
        Ok(()) => panic!("the application role was allowed: {sql}"),
        Err(e) => assert_eq!(
            e.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {:?}",
            e.as_db_error()
        ),
    }
}

async fn tables(db: &Client) -> Vec<String> {
    db.query(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test]
async fn the_functions_connect_as_a_role_that_is_not_the_owner() {
    let app = TestApp::new().await;
    let conn = app.base.db.conn().await.unwrap();
    let row = conn
        .query_one(
            "SELECT current_user::text, r.rolsuper, r.rolcreaterole, r.rolcreatedb
             FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
        .unwrap();
    let (user, superuser, createrole, createdb): (String, bool, bool, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let owner: String = app
        .db
        .query_one(
            "SELECT tableowner::text FROM pg_tables WHERE tablename = 'audit_log'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    println!("functions connect as {user}; the schema's owner is {owner}");
    assert_ne!(user, owner);
    assert!(!superuser && !createrole && !createdb);
}

#[tokio::test]
async fn the_application_role_appends_to_and_reads_audit_log_but_never_changes_it() {
    let app = TestApp::new().await;
    let db = connect(&app.database_url).await;
    db.batch_execute(
        "INSERT INTO audit_log (actor_kind, action, details) VALUES ('system', 'test.appended', '{}')",
    )
    .await
    .unwrap();
    let n: i64 = db
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'test.appended'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);

    refused(&db, "UPDATE audit_log SET action = 'test.rewritten'").await;
    refused(&db, "DELETE FROM audit_log").await;
    refused(&db, "TRUNCATE audit_log").await;
    refused(&db, "ALTER TABLE audit_log DISABLE TRIGGER ALL").await;
    refused(
        &db,
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only_rows",
    )
    .await;
    refused(&db, "DROP TRIGGER audit_log_append_only_rows ON audit_log").await;
    assert_eq!(app.count("audit_log").await, 1, "the row is still there");
}

#[tokio::test]
async fn the_application_role_cannot_alter_any_table_nor_create_one() {
    let app = TestApp::new().await;
    let db = connect(&app.database_url).await;
    let all = tables(&app.db).await;
    assert!(all.len() > 20, "{all:?}");
    for table in &all {
        refused(
            &db,
            &format!("ALTER TABLE {table} ADD COLUMN sneaky integer"),
        )
        .await;
        refused(&db, &format!("ALTER TABLE {table} DISABLE TRIGGER ALL")).await;
        refused(&db, &format!("DROP TABLE {table}")).await;
    }
    refused(&db, "CREATE TABLE sneaky (id integer)").await;
    refused(
        &db,
        "CREATE FUNCTION sneaky() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
    )
    .await;
    println!(
        "{} tables: none alterable by the application role",
        all.len()
    );
}

#[tokio::test]
async fn the_application_role_owns_nothing() {
    let app = TestApp::new().await;
    let db = connect(&app.database_url).await;
    let owned: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
                  + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)
                  + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)
                  + (SELECT count(*) FROM pg_type WHERE typowner = r.oid)
                  + (SELECT count(*) FROM pg_database WHERE datdba = r.oid)
             FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(owned, 0);
}

/// Every table the migrations create has a decided set of privileges, and the role has
/// exactly those: a migration that adds a table fails this until `TABLE_PRIVILEGES` names it.
#[tokio::test]
async fn every_table_has_exactly_its_listed_privileges() {
    let app = TestApp::new().await;
    let role: String = connect(&app.database_url)
        .await
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    let all = tables(&app.db).await;
    let listed: Vec<&str> = TABLE_PRIVILEGES.iter().map(|(t, _)| *t).collect();
    let unlisted: Vec<&String> = all
        .iter()
        .filter(|t| !listed.contains(&t.as_str()))
        .collect();
    assert!(unlisted.is_empty(), "not in TABLE_PRIVILEGES: {unlisted:?}");
    let gone: Vec<&&str> = listed
        .iter()
        .filter(|t| !all.iter().any(|a| a == *t))
        .collect();
    assert!(
        gone.is_empty(),
        "in TABLE_PRIVILEGES but not in the schema: {gone:?}"
    );

    let mut granted = 0;
    for (table, privileges) in TABLE_PRIVILEGES {
        for privilege in [
            "SELECT",
            "INSERT",
            "UPDATE",
            "DELETE",
            "TRUNCATE",
            "REFERENCES",
            "TRIGGER",
        ] {
            let has: bool = app
                .db
                .query_one(
                    "SELECT has_table_privilege($1::name, $2::text, $3::text)",
                    &[&role, table, &privilege],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(
                has,
                privileges.contains(&privilege),
                "{privilege} on {table}"
            );
            granted += usize::from(has);
        }
    }
    println!("{} tables, {granted} privileges granted", all.len());
}

/// Re-running the grants after a later migration keeps every listed table right and gives a
/// new, unlisted table nothing; a privilege granted by hand in between is taken back.
#[tokio::test]
async fn grants_are_reapplied_after_a_later_migration() {
    let mut app = TestApp::new().await;
    let role: String = connect(&app.database_url)
        .await
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    app.db
        .batch_execute(&format!(
            "CREATE TABLE later_table (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
             GRANT DELETE ON audit_log TO {role}"
        ))
        .await
        .unwrap();
    roles::grant_app_role(
        &mut app.db,
        &AppRole {
            name: role.clone(),
            password: None,
        },
    )
    .await
    .unwrap();
    let db = connect(&app.database_url).await;
    refused(&db, "DELETE FROM audit_log").await;
    refused(&db, "SELECT * FROM later_table").await;
    refused(&db, "INSERT INTO later_table DEFAULT VALUES").await;
    db.batch_execute("SELECT count(*) FROM users")
        .await
        .unwrap();
}
