//! Which webhook deliveries were already applied, by a digest of their body, in DynamoDB with
//! a TTL: a fast answer for a provider's repeated deliveries. The database's unique digest in
//! the event table stays the guarantee; this only spares it the work.

use crate::aws::Aws;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

/// How long a delivery is remembered here (providers retry for hours, not weeks).
pub const REMEMBER_SECS: i64 = 7 * 24 * 3600;

#[derive(Clone)]
pub struct WebhookLedger {
    aws: Aws,
    table: String,
}

impl WebhookLedger {
    pub fn new(aws: Aws, table: String) -> Self {
        Self { aws, table }
    }

    fn key(provider: &str, digest: &[u8; 32]) -> AttributeValue {
        AttributeValue::S(format!("{provider}#{}", hex::encode(digest)))
    }

    /// Whether this delivery was applied before. A DynamoDB failure answers "no": the
    /// database then decides.
    pub async fn seen(&self, provider: &str, digest: &[u8; 32]) -> bool {
        let out = self
            .aws
            .clients()
            .await
            .dynamo
            .get_item()
            .table_name(&self.table)
            .key("pk", Self::key(provider, digest))
            .send()
            .await;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        out.ok()
            .and_then(|o| o.item)
            .and_then(|item| {
                item.get("expires_at")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<i64>().ok())
            })
            .is_some_and(|expires| expires > now)
    }

    /// Remembers an applied delivery (best effort; logged when it fails).
    pub async fn remember(&self, provider: &str, digest: &[u8; 32]) {
        let expires = OffsetDateTime::now_utc().unix_timestamp() + REMEMBER_SECS;
        let put = self
            .aws
            .clients()
            .await
            .dynamo
            .put_item()
            .table_name(&self.table)
            .item("pk", Self::key(provider, digest))
            .item("expires_at", AttributeValue::N(expires.to_string()))
            .send()
            .await;
        if let Err(err) = put {
            tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&err), "webhook ledger not updated");
        }
    }
}

/// SHA-256 of a body, the identity of a delivery.
pub fn body_digest(body: &[u8]) -> [u8; 32] {
    crate::crypto::sha256(body)
}
