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
    let (ta, tb) = (
        a.transaction().await.unwrap(),
        b.transaction().await.unwrap(),
    );
    let (pa, pb) = (person(), person());
    // The first inserts and holds its transaction open; the second's insert waits on it.
    let first = sign_in_with_bankid(&ta, &vault, &pa, &origin)
        .await
        .unwrap();
    let commit_first = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        ta.commit().await.unwrap();
    };
    let (second, ()) = tokio::join!(sign_in_with_bankid(&tb, &vault, &pb, &origin), commit_first);
    let second = second.unwrap();
    tb.commit().await.unwrap();
    assert_eq!(first.0, second.0, "one person, one user");
    assert_eq!((first.1, second.1), (true, false));
    assert_eq!(app.count("users").await, 1);
}
