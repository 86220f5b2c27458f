//! Creates, in the local AWS emulator, the tables, queues and secrets `infra/template.yaml`
//! declares in the cloud. Used by the local server and the tests; never in the cloud, where
//! CloudFormation owns these resources. Every step is idempotent.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use std::collections::HashMap;

pub type ProvisionError = Box<dyn std::error::Error + Send + Sync>;

/// The DynamoDB tables the template declares, as `drop-{stage}-{suffix}`.
pub const TABLES: [&str; 5] = [
    "rate-limits",
    "webhook-dedup",
    "oidc-state",
    "balance-cache",
    "bank-breaker",
];

/// A queue the template declares as `drop-{stage}-{name}`, with its `-dlq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: &'static str,
    pub visibility_timeout_secs: u32,
    pub max_receives: u32,
}

pub const QUEUES: [QueueSpec; 3] = [
    QueueSpec {
        name: "payments",
        visibility_timeout_secs: 180,
        max_receives: 5,
    },
    QueueSpec {
        name: "aml",
        visibility_timeout_secs: 180,
        max_receives: 5,
    },
    QueueSpec {
        name: "retention",
        visibility_timeout_secs: 720,
        max_receives: 5,
    },
];

/// Secrets Drop generates itself (random keys), named `drop/{stage}/{name}`.
pub const GENERATED_SECRETS: [&str; 5] = [
    "jwt-signing-key",
    "fnr-encryption-key",
    "fnr-hmac-key",
    "account-encryption-key",
    "account-hmac-key",
];

/// Secrets a provider issues, set out of band in the cloud, with the environment variable that
/// sets each one locally.
pub const PROVIDER_SECRETS: [(&str, &str); 4] = [
    ("bankid-client-secret", "BANKID_CLIENT_SECRET"),
    ("sumsub-app-token", "SUMSUB_APP_TOKEN"),
    ("sumsub-secret-key", "SUMSUB_SECRET_KEY"),
    ("sumsub-webhook-secret", "SUMSUB_WEBHOOK_SECRET"),
];

/// A key/value table with TTL on `expires_at`, keyed by `pk`.
pub async fn ensure_table(
    dynamo: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(), ProvisionError> {
    let exists = dynamo
        .describe_table()
        .table_name(name)
        .send()
        .await
        .is_ok();
    if !exists {
        dynamo
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .send()
            .await?;
        dynamo
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expires_at")
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await?;
    }
    Ok(())
}

/// Queue `name` as `spec` describes it, with its dead-letter queue `{name}-dlq`; returns its URL.
pub async fn ensure_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    spec: QueueSpec,
) -> Result<String, ProvisionError> {
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await?
        .queue_url
        .unwrap_or_default();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or("the dead-letter queue has no ARN")?;
    let redrive = format!(
        r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{}"}}"#,
        spec.max_receives
    );
    let attributes = HashMap::from([
        (QueueAttributeName::RedrivePolicy, redrive),
        (
            QueueAttributeName::VisibilityTimeout,
            spec.visibility_timeout_secs.to_string(),
        ),
    ]);
    let url = sqs
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes))
        .send()
        .await?
        .queue_url;
    url.ok_or_else(|| "the queue has no URL".into())
}

/// A secret, created with `value` only if it does not exist yet (a set value is kept).
pub async fn ensure_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    id: &str,
    value: &str,
) -> Result<(), ProvisionError> {
    if secrets.describe_secret().secret_id(id).send().await.is_ok() {
        return Ok(());
    }
    secrets
        .create_secret()
        .name(id)
        .secret_string(value)
        .send()
        .await?;
    Ok(())
}

/// Sets a secret to `value`, creating it if needed (values given by the caller win).
pub async fn set_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    id: &str,
    value: &str,
) -> Result<(), ProvisionError> {
    if secrets.describe_secret().secret_id(id).send().await.is_ok() {
        secrets
            .put_secret_value()
            .secret_id(id)
            .secret_string(value)
            .send()
            .await?;
    } else {
        secrets
            .create_secret()
            .name(id)
            .secret_string(value)
            .send()
            .await?;
    }
    Ok(())
}

/// 32 random bytes, hex-encoded, for a generated key.
pub fn random_key_hex() -> Result<String, ProvisionError> {
    let mut key = [0u8; 32];
    crate::crypto::random_bytes(&mut key)?;
    Ok(hex::encode(key))
}
