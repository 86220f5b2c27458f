//! Registering people from BankID under concurrency.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use drop_shared::store::audit::Origin;
use drop_shared::store::users::{sign_in_with_bankid, BankIdPerson};
use drop_testkit::{random_adult_fnr, TestApp};

#[tokio::test]
async fn two_first_sign_ins_of_one_person_at_once_register_them_once() {
    let app = TestApp::new().await;
    let fnr = random_adult_fnr();
    let person = || BankIdPerson {
        altsub: "altsub-twice".into(),
        fnr: fnr.expose().parse().unwrap(),
        birth_date: time::macros::date!(1986 - 10 - 15),
        given_name: "Kari".into(),
        family_name: "Nordmann".into(),
    };
    let vault = app.base.secrets.fnr_vault().await.unwrap();
    let origin = Origin {
        request_id: "t".into(),
        client_request_id: None,
        ip: None,
    };
    let connect = || async {
        let (client, conn) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
    };
    let (mut a, mut b) = (connect().await, connect().await);
    let (pid_a, pid_b) = (backend_pid(&a).await, backend_pid(&b).await);
    let (ta, tb) = (
        a.transaction().await.unwrap(),
        b.transaction().await.unwrap(),
    );
    let (pa, pb) = (person(), person());
    // The first inserts and holds its transaction open; the second's insert waits on it. The
    // first commits only once the second is seen waiting for a lock the first holds.
    let first = sign_in_with_bankid(&ta, &vault, &pa, &origin)
        .await
        .unwrap();
    let commit_first = async {
        wait_until_blocked_by(&app, pid_b, pid_a).await;
        ta.commit().await.unwrap();
    };
    let (second, ()) = tokio::join!(sign_in_with_bankid(&tb, &vault, &pb, &origin), commit_first);
    let second = second.unwrap();
    tb.commit().await.unwrap();
    assert_eq!(first.0, second.0, "one person, one user");
    assert_eq!((first.1, second.1), (true, false));
    assert_eq!(app.count("users").await, 1);
}

async fn backend_pid(client: &tokio_postgres::Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

/// Waits until backend `waiting` of this test's database is blocked on a lock that backend
/// `holder` holds (as `pg_stat_activity` and `pg_blocking_pids` report it).
async fn wait_until_blocked_by(app: &TestApp, waiting: i32, holder: i32) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let blocked: bool = app
            .db
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                  WHERE datname = current_database() AND pid = $1
                    AND wait_event_type = 'Lock' AND $2 = ANY (pg_blocking_pids(pid)))",
                &[&waiting, &holder],
            )
            .await
            .unwrap()
            .get(0);
        if blocked {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "backend {waiting} never waited on a lock held by {holder}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
