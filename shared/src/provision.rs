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

/// Queues with their dead-letter queues, as in the template: (name, max receives before the DLQ).
pub const QUEUES: [(&str, u32); 3] = [("payments", 5), ("aml", 5), ("retention", 5)];

/// The secrets Drop owns (generated) — provider-issued ones are seeded by the caller.
pub const GENERATED_SECRETS: [&str; 3] = ["jwt-signing-key", "fnr-encryption-key", "fnr-hmac-key"];

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

/// A queue and its dead-letter queue; returns the queue's URL.
pub async fn ensure_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    max_receives: u32,
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
    let redrive =
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receives}"}}"#);
    let attributes = HashMap::from([
        (QueueAttributeName::RedrivePolicy, redrive),
        (QueueAttributeName::VisibilityTimeout, "60".to_owned()),
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

/// 32 random bytes, hex-encoded, for a generated key.
pub fn random_key_hex() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    hex::encode([a.as_bytes().as_slice(), b.as_bytes().as_slice()].concat())
}
