//! The AWS-facing parts of the domain crate against moto through the real SDK.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use drop_shared::aws::provision::{ensure_queue, ensure_secret, ensure_table, QUEUES};
use drop_shared::aws::rate_limit::{Decision, RateLimiter, RatePolicy};
use drop_shared::aws::secrets::SecretStore;
use drop_shared::aws::{Aws, Clients};
use drop_testkit::sdk_config;

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn a_secret_is_read_once_per_instance_and_a_missing_one_is_an_error_naming_it() {
    let sdk = sdk_config().await;
    let clients = Clients::new(&sdk, Default::default());
    let prefix = format!("{}/", unique("test"));
    ensure_secret(
        &clients.secrets,
        &format!("{prefix}jwt-signing-key"),
        "first",
    )
    .await
    .unwrap();
    let store = SecretStore::new(Aws::from_sdk(&sdk), prefix.clone());
    assert_eq!(
        store.get("jwt-signing-key").await.unwrap().expose(),
        "first"
    );

    // Rotated in Secrets Manager: this instance keeps the value it read.
    clients
        .secrets
        .put_secret_value()
        .secret_id(format!("{prefix}jwt-signing-key"))
        .secret_string("second")
        .send()
        .await
        .unwrap();
    assert_eq!(
        store.get("jwt-signing-key").await.unwrap().expose(),
        "first"
    );
    // A new instance reads the new value.
    let fresh = SecretStore::new(Aws::from_sdk(&sdk), prefix.clone());
    assert_eq!(
        fresh.get("jwt-signing-key").await.unwrap().expose(),
        "second"
    );

    let err = store.get("missing").await.unwrap_err().to_string();
    assert!(err.contains(&format!("{prefix}missing")), "{err}");
    // ensure_secret keeps a value that is already set.
    ensure_secret(
        &clients.secrets,
        &format!("{prefix}jwt-signing-key"),
        "third",
    )
    .await
    .unwrap();
    let again = SecretStore::new(Aws::from_sdk(&sdk), prefix);
    assert_eq!(
        again.get("jwt-signing-key").await.unwrap().expose(),
        "second"
    );
}

#[tokio::test]
async fn a_queue_gets_a_dead_letter_queue_and_provisioning_twice_is_harmless() {
    let sdk = sdk_config().await;
    let sqs = Clients::new(&sdk, Default::default()).sqs;
    let name = unique("q");
    let url = ensure_queue(&sqs, &name, QUEUES[0]).await.unwrap();
    assert_eq!(ensure_queue(&sqs, &name, QUEUES[0]).await.unwrap(), url);
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let policy: serde_json::Value =
        serde_json::from_str(&attrs[&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy])
            .unwrap();
    assert!(policy["deadLetterTargetArn"]
        .as_str()
        .unwrap()
        .ends_with(&format!("{name}-dlq")));
    assert_eq!(policy["maxReceiveCount"].to_string().trim_matches('"'), "5");
}

#[tokio::test]
async fn windows_are_per_subject_and_per_policy() {
    let sdk = sdk_config().await;
    let table = unique("rl");
    ensure_table(&Clients::new(&sdk, Default::default()).dynamo, &table)
        .await
        .unwrap();
    ensure_table(&Clients::new(&sdk, Default::default()).dynamo, &table)
        .await
        .unwrap();
    let limiter = RateLimiter::new(Aws::from_sdk(&sdk), table, true);
    let policy = RatePolicy {
        name: "t",
        limit: 3,
        window_secs: 3600,
    };
    for remaining in [2, 1, 0] {
        assert_eq!(
            limiter.check(policy, "a").await,
            Decision::Allowed { remaining }
        );
    }
    assert!(
        matches!(limiter.check(policy, "a").await, Decision::Limited { retry_after_secs } if (1..=3600).contains(&retry_after_secs))
    );
    assert_eq!(
        limiter.check(policy, "b").await,
        Decision::Allowed { remaining: 2 }
    );
    let other = RatePolicy {
        name: "u",
        ..policy
    };
    assert_eq!(
        limiter.check(other, "a").await,
        Decision::Allowed { remaining: 2 }
    );
}

#[tokio::test]
async fn the_limiter_lets_requests_through_when_dynamodb_fails() {
    let sdk = sdk_config().await;
    let limiter = RateLimiter::new(Aws::from_sdk(&sdk), unique("no-such-table"), true);
    let policy = RatePolicy {
        name: "t",
        limit: 1,
        window_secs: 60,
    };
    for _ in 0..3 {
        assert!(matches!(
            limiter.check(policy, "a").await,
            Decision::Allowed { .. }
        ));
    }
}

#[tokio::test]
async fn an_instance_answers_a_known_exceeded_window_itself() {
    let sdk = sdk_config().await;
    let dynamo = Clients::new(&sdk, Default::default()).dynamo;
    let table = unique("rl");
    ensure_table(&dynamo, &table).await.unwrap();
    let limiter = RateLimiter::new(Aws::from_sdk(&sdk), table.clone(), true);
    let policy = RatePolicy {
        name: "t",
        limit: 1,
        window_secs: 3600,
    };
    assert!(matches!(
        limiter.check(policy, "a").await,
        Decision::Allowed { .. }
    ));
    assert!(matches!(
        limiter.check(policy, "a").await,
        Decision::Limited { .. }
    ));

    // With the table gone, this instance still refuses "a" without asking DynamoDB...
    dynamo
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert!(matches!(
        limiter.check(policy, "a").await,
        Decision::Limited { .. }
    ));
    // ...while a subject it has not seen exceeded, and another instance, fail open.
    assert!(matches!(
        limiter.check(policy, "b").await,
        Decision::Allowed { .. }
    ));
    let other_instance = RateLimiter::new(Aws::from_sdk(&sdk), table, true);
    assert!(matches!(
        other_instance.check(policy, "a").await,
        Decision::Allowed { .. }
    ));
}
