//! job-migrate creates the application role from its secret, with its grants, and sets a new
//! password when the secret changes. Needs the services `cargo xtask test` starts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed step must stop the test loudly

use drop_shared::aws::secrets::SecretStore;
use drop_shared::aws::{provision, Aws};
use drop_shared::config::Config;
use drop_shared::edge::Base;
use drop_testkit::ScratchDatabase;
use job_migrate::{Migrator, ResponseSender, DEFAULT_BUDGET};
use std::collections::HashMap;

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests with `cargo xtask test`"))
}

#[tokio::test]
async fn migrating_creates_the_application_role_from_its_secret_and_updates_its_password() {
    env("AWS_ENDPOINT_URL");
    // Dropped with its application role (`{name}_app`) when the test ends, failed or not.
    let scratch = ScratchDatabase::create().await;
    let role = format!("{}_app", scratch.name);
    let owner_url = scratch.url.clone();
    let id = uuid::Uuid::new_v4().simple().to_string();

    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secrets_client = drop_shared::aws::Clients::new(&sdk, Default::default()).secrets;
    let secret_id = format!("test/{id}/database-app");
    let secret =
        |password: &str| serde_json::json!({"username": role, "password": password}).to_string();
    provision::set_secret(&secrets_client, &secret_id, &secret("first-password"))
        .await
        .unwrap();

    let vars = HashMap::from([
        ("DATABASE_URL".to_owned(), owner_url.clone()),
        ("DROP_STAGE".to_owned(), "local".to_owned()),
    ]);
    let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let state = Base::new(config, Aws::from_sdk(&sdk), 1);
    let migrator = Migrator::new(state.db.clone(), ResponseSender::allowing_plain_http())
        .with_app_role(SecretStore::new(Aws::from_sdk(&sdk), ""), secret_id.clone());

    let report = migrator.run(DEFAULT_BUDGET).await.unwrap();
    assert!(!report.is_noop());
    let (check, conn) = tokio_postgres::connect(&owner_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let role_state = || async {
        let row = check
            .query_one(
                "SELECT rolcanlogin, rolsuper, rolpassword,
                        has_table_privilege(rolname, 'audit_log', 'INSERT'),
                        has_table_privilege(rolname, 'audit_log', 'UPDATE')
                 FROM pg_authid WHERE rolname = $1",
                &[&role],
            )
            .await
            .unwrap();
        let (login, superuser, verifier, insert, update): (bool, bool, String, bool, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        (login, superuser, verifier, insert, update)
    };
    let (login, superuser, first, insert, update) = role_state().await;
    assert!(login && !superuser);
    assert!((insert, update) == (true, false));
    // Stored as a SCRAM verifier, never as the password itself.
    assert!(first.starts_with("SCRAM-SHA-256$"), "{first}");
    assert!(!first.contains("first-password"));

    // A new value in the secret is the role's password after the next run.
    provision::set_secret(&secrets_client, &secret_id, &secret("second-password"))
        .await
        .unwrap();
    let report = migrator.run(DEFAULT_BUDGET).await.unwrap();
    assert!(report.is_noop());
    let (_, _, second, insert, update) = role_state().await;
    assert!(second.starts_with("SCRAM-SHA-256$") && second != first);
    assert!((insert, update) == (true, false));
    println!("application role created by the first run, its password changed by the second");
    drop((check, migrator, state));
    drop(scratch);
}
