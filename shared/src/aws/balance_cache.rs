//! The last balances read from a bank, per linked account, in DynamoDB with a short TTL.
//!
//! Balances are never written to PostgreSQL (DPIA); this cache is what a balance read answers
//! with (flagged stale, with its age) when the bank cannot be reached, and what it answers at
//! once when the last live read is only seconds old. An item is keyed by the account's id and
//! names its owner, and is read back only for that owner.

use crate::aws::Aws;
use aws_sdk_dynamodb::types::AttributeValue;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::str::FromStr;
use time::OffsetDateTime;
use uuid::Uuid;

/// How long an item lives (DynamoDB's TTL removes it some time after).
pub const BALANCE_CACHE_TTL_SECS: i64 = 15 * 60;

/// One balance as the bank reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedBalance {
    /// The Berlin Group `balanceType` (`closingBooked`, `interimAvailable`, ...).
    pub kind: String,
    pub amount: Decimal,
    pub currency: String,
}

/// The balances of one account and when they were read from the bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedBalances {
    pub balances: Vec<CachedBalance>,
    pub fetched_at: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
#[error("balance cache")]
pub struct BalanceCacheError(#[source] Box<dyn std::error::Error + Send + Sync>);

fn cache_err(e: impl std::error::Error + Send + Sync + 'static) -> BalanceCacheError {
    BalanceCacheError(Box::new(e))
}

#[derive(Clone)]
pub struct BalanceCache {
    aws: Aws,
    table: String,
}

impl BalanceCache {
    pub fn new(aws: Aws, table: String) -> Self {
        Self { aws, table }
    }

    /// Keeps `balances` of `account` (owned by `user`) as read at `fetched_at`.
    pub async fn put(
        &self,
        user: Uuid,
        account: Uuid,
        balances: &CachedBalances,
    ) -> Result<(), BalanceCacheError> {
        let fetched = balances.fetched_at.unix_timestamp();
        let list = balances
            .balances
            .iter()
            .map(|b| {
                AttributeValue::M(HashMap::from([
                    ("kind".to_owned(), AttributeValue::S(b.kind.clone())),
                    ("amount".to_owned(), AttributeValue::S(b.amount.to_string())),
                    ("currency".to_owned(), AttributeValue::S(b.currency.clone())),
                ]))
            })
            .collect();
        self.aws
            .clients()
            .await
            .dynamo
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(format!("balance#{account}")))
            .item("user_id", AttributeValue::S(user.to_string()))
            .item("fetched_at", AttributeValue::N(fetched.to_string()))
            .item(
                "expires_at",
                AttributeValue::N((fetched + BALANCE_CACHE_TTL_SECS).to_string()),
            )
            .item("balances", AttributeValue::L(list))
            .send()
            .await
            .map_err(|e| cache_err(e.into_service_error()))?;
        Ok(())
    }

    /// The balances kept for `account` if `user` owns it and they have not expired by `now`.
    pub async fn get(
        &self,
        user: Uuid,
        account: Uuid,
        now: OffsetDateTime,
    ) -> Result<Option<CachedBalances>, BalanceCacheError> {
        let out = self
            .aws
            .clients()
            .await
            .dynamo
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("balance#{account}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| cache_err(e.into_service_error()))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let text = |key: &str| item.get(key).and_then(|v| v.as_s().ok());
        let number = |key: &str| {
            item.get(key)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<i64>().ok())
        };
        let owned = text("user_id").is_some_and(|u| *u == user.to_string());
        let live = number("expires_at").is_some_and(|e| e > now.unix_timestamp());
        let (Some(fetched), true, true) = (number("fetched_at"), owned, live) else {
            return Ok(None);
        };
        let Ok(fetched_at) = OffsetDateTime::from_unix_timestamp(fetched) else {
            return Ok(None);
        };
        let Some(list) = item.get("balances").and_then(|v| v.as_l().ok()) else {
            return Ok(None);
        };
        let balances = list
            .iter()
            .filter_map(|v| {
                let m = v.as_m().ok()?;
                let s = |k: &str| m.get(k).and_then(|v| v.as_s().ok()).cloned();
                Some(CachedBalance {
                    kind: s("kind")?,
                    amount: Decimal::from_str(&s("amount")?).ok()?,
                    currency: s("currency")?,
                })
            })
            .collect();
        Ok(Some(CachedBalances {
            balances,
            fetched_at,
        }))
    }
}
