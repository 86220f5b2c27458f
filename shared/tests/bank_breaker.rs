//! The bank circuit breaker against DynamoDB in moto (`AWS_ENDPOINT_URL`, as `cargo xtask test`
//! sets it), with a clock the test moves: two breakers on one table stand for two function
//! instances.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use drop_shared::aws::bank_breaker::{
    BankBreaker, BreakerPolicy, BreakerState, CallOutcome, Open, Permit,
};
use drop_shared::aws::provision::ensure_table;
use drop_shared::aws::Aws;
use drop_shared::clock::ManualClock;
use drop_shared::domain::bank::BankId;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

struct Setup {
    /// Two instances of the same stage: their own clients, one table.
    a: BankBreaker,
    b: BankBreaker,
    clock: ManualClock,
    bank: BankId,
}

async fn setup() -> Setup {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        panic!("AWS_ENDPOINT_URL is not set: run the tests with `cargo xtask test` (moto)");
    }
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let table = format!("breaker-{}", uuid::Uuid::new_v4().simple());
    ensure_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
        .await
        .unwrap();
    // Whole seconds: the table keeps milliseconds.
    let start =
        OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp()).unwrap();
    let clock = ManualClock::new(start);
    let instance =
        || BankBreaker::new(Aws::from_sdk(&sdk), table.clone()).with_clock(Arc::new(clock.clone()));
    Setup {
        a: instance(),
        b: instance(),
        clock,
        bank: "dnb".parse().unwrap(),
    }
}

async fn fail(breaker: &BankBreaker, bank: &BankId) {
    let permit = breaker.admit(bank).await.expect("admitted");
    breaker.record(bank, permit, CallOutcome::Failed).await;
}

#[tokio::test]
async fn three_failures_within_a_minute_open_it_for_everyone() {
    let Setup { a, b, clock, bank } = setup().await;
    assert_eq!(
        a.state(&bank).await.unwrap(),
        BreakerState::Closed { recent_failures: 0 }
    );
    fail(&a, &bank).await;
    clock.advance(Duration::seconds(20));
    fail(&b, &bank).await;
    assert_eq!(
        a.state(&bank).await.unwrap(),
        BreakerState::Closed { recent_failures: 2 }
    );
    // Still closed: both instances are let through.
    assert_eq!(a.admit(&bank).await, Ok(Permit::Closed));
    assert_eq!(b.admit(&bank).await, Ok(Permit::Closed));
    clock.advance(Duration::seconds(39));
    fail(&a, &bank).await;
    let opened_at = clock.now_for_test();
    assert_eq!(
        b.state(&bank).await.unwrap(),
        BreakerState::Open {
            until: opened_at + Duration::seconds(60)
        }
    );
    // Refused on both, with how long to wait.
    assert_eq!(
        a.admit(&bank).await,
        Err(Open {
            retry_after: std::time::Duration::from_secs(60)
        })
    );
    clock.advance(Duration::seconds(59));
    assert_eq!(
        b.admit(&bank).await,
        Err(Open {
            retry_after: std::time::Duration::from_secs(1)
        })
    );
    // Another bank is not affected.
    let other: BankId = "nordea".parse().unwrap();
    assert_eq!(a.admit(&other).await, Ok(Permit::Closed));
}

#[tokio::test]
async fn failures_further_apart_than_the_window_do_not_open_it() {
    let Setup { a, b, clock, bank } = setup().await;
    fail(&a, &bank).await;
    clock.advance(Duration::seconds(30));
    fail(&b, &bank).await;
    clock.advance(Duration::seconds(31)); // the first one is now 61 s old
    fail(&a, &bank).await;
    assert_eq!(
        b.state(&bank).await.unwrap(),
        BreakerState::Closed { recent_failures: 2 }
    );
    assert_eq!(b.admit(&bank).await, Ok(Permit::Closed));
    // Answers in between do not reset the count, but do not count either.
    let permit = a.admit(&bank).await.unwrap();
    a.record(&bank, permit, CallOutcome::Answered).await;
    fail(&b, &bank).await;
    assert!(matches!(
        a.state(&bank).await.unwrap(),
        BreakerState::Open { .. }
    ));
}

#[tokio::test]
async fn after_the_open_minute_one_call_tries_and_its_success_closes_it() {
    let Setup { a, b, clock, bank } = setup().await;
    for _ in 0..3 {
        fail(&a, &bank).await;
    }
    assert!(a.admit(&bank).await.is_err());
    clock.advance(Duration::seconds(60));
    assert_eq!(
        b.state(&bank).await.unwrap(),
        BreakerState::HalfOpen { probing: false }
    );
    // One instance gets the try; the other is refused while it runs.
    let probe = a.admit(&bank).await.unwrap();
    assert_eq!(probe, Permit::Probe);
    assert!(b.admit(&bank).await.is_err());
    assert!(a.admit(&bank).await.is_err());
    assert_eq!(
        b.state(&bank).await.unwrap(),
        BreakerState::HalfOpen { probing: true }
    );
    a.record(&bank, probe, CallOutcome::Answered).await;
    assert_eq!(
        b.state(&bank).await.unwrap(),
        BreakerState::Closed { recent_failures: 0 }
    );
    assert_eq!(b.admit(&bank).await, Ok(Permit::Closed));
    // Closed afresh: it takes three new failures to open again.
    fail(&b, &bank).await;
    fail(&b, &bank).await;
    assert_eq!(a.admit(&bank).await, Ok(Permit::Closed));
}

#[tokio::test]
async fn a_failed_try_opens_it_for_another_minute() {
    let Setup { a, b, clock, bank } = setup().await;
    for _ in 0..3 {
        fail(&b, &bank).await;
    }
    clock.advance(Duration::seconds(61));
    let probe = b.admit(&bank).await.unwrap();
    assert_eq!(probe, Permit::Probe);
    b.record(&bank, probe, CallOutcome::Failed).await;
    let reopened_at = clock.now_for_test();
    assert_eq!(
        a.state(&bank).await.unwrap(),
        BreakerState::Open {
            until: reopened_at + Duration::seconds(60)
        }
    );
    clock.advance(Duration::seconds(59));
    assert!(a.admit(&bank).await.is_err());
}

#[tokio::test]
async fn a_probe_whose_instance_vanished_frees_the_way_after_its_lease() {
    let Setup { a, b, clock, bank } = setup().await;
    for _ in 0..3 {
        fail(&a, &bank).await;
    }
    clock.advance(Duration::seconds(60));
    let _lost = a.admit(&bank).await.unwrap(); // never recorded
    clock.advance(BreakerPolicy::default().probe_lease - Duration::seconds(1));
    assert!(b.admit(&bank).await.is_err());
    clock.advance(Duration::seconds(1));
    assert_eq!(b.admit(&bank).await, Ok(Permit::Probe));
}

#[tokio::test]
async fn concurrent_failures_from_two_instances_are_all_counted() {
    let Setup { a, b, bank, .. } = setup().await;
    // Two instances record at once, many times over: every failure lands (conditional
    // writes retry), so the breaker opens exactly when the third lands.
    let (ra, rb) = tokio::join!(fail(&a, &bank), fail(&b, &bank));
    let ((), ()) = (ra, rb);
    assert_eq!(
        a.state(&bank).await.unwrap(),
        BreakerState::Closed { recent_failures: 2 }
    );
    let (pa, pb) = tokio::join!(a.admit(&bank), b.admit(&bank));
    assert_eq!((pa, pb), (Ok(Permit::Closed), Ok(Permit::Closed)));
    fail(&b, &bank).await;
    assert!(matches!(
        a.state(&bank).await.unwrap(),
        BreakerState::Open { .. }
    ));
}

#[tokio::test]
async fn only_one_of_two_instances_racing_for_the_try_gets_it() {
    let Setup { a, b, clock, bank } = setup().await;
    for _ in 0..3 {
        fail(&a, &bank).await;
    }
    clock.advance(Duration::seconds(60));
    for _ in 0..5 {
        let (pa, pb) = tokio::join!(a.admit(&bank), b.admit(&bank));
        let probes = [pa, pb].iter().filter(|p| **p == Ok(Permit::Probe)).count();
        assert_eq!(probes, 1, "{pa:?} {pb:?}");
        // The try fails: open again, then half-open again a minute later.
        let holder = if pa == Ok(Permit::Probe) { &a } else { &b };
        holder
            .record(&bank, Permit::Probe, CallOutcome::Failed)
            .await;
        clock.advance(Duration::seconds(60));
    }
}

/// `ManualClock::now` through the trait, for readability above.
trait NowForTest {
    fn now_for_test(&self) -> OffsetDateTime;
}

impl NowForTest for ManualClock {
    fn now_for_test(&self) -> OffsetDateTime {
        drop_shared::clock::Clock::now(self)
    }
}
