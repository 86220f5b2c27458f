//! Fixed-window rate limits kept in DynamoDB, shared by every instance of every function.
//!
//! One conditional-free `UpdateItem ADD` per request: the item for (policy, subject, window)
//! counts hits and expires by TTL shortly after its window ends. Expired items that DynamoDB
//! has not yet removed belong to past windows and are never read again.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::time::{SystemTime, UNIX_EPOCH};

/// A limit: at most `limit` requests per `window_secs` per subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    pub name: &'static str,
    pub limit: u32,
    pub window_secs: u64,
}

impl RatePolicy {
    /// Sign-in and other auth routes, per client IP.
    pub const AUTH: Self = Self {
        name: "auth",
        limit: 10,
        window_secs: 60,
    };
    /// Payment initiation, per client IP.
    pub const TRANSACTIONS_PER_IP: Self = Self {
        name: "tx-ip",
        limit: 10,
        window_secs: 60,
    };
    /// Payment initiation, per signed-in user.
    pub const TRANSACTIONS_PER_USER: Self = Self {
        name: "tx-user",
        limit: 3,
        window_secs: 60,
    };
    /// Quotes (each one is stored), per client IP.
    pub const QUOTES: Self = Self {
        name: "quotes",
        limit: 30,
        window_secs: 60,
    };
    /// The public health check, per client IP.
    pub const HEALTH: Self = Self {
        name: "health",
        limit: 60,
        window_secs: 60,
    };
    /// Public exchange-rate and corridor reads, per client IP.
    pub const EXCHANGE_RATES: Self = Self {
        name: "rates",
        limit: 120,
        window_secs: 60,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed { remaining: u32 },
    Limited { retry_after_secs: u64 },
}

/// Windows this instance has seen exceeded: (policy, subject) → end of the window (unix s).
type Exceeded = std::collections::HashMap<(&'static str, String), u64>;

/// Above this many remembered windows, expired ones are swept.
const EXCEEDED_SWEEP_AT: usize = 10_000;

#[derive(Clone)]
pub struct RateLimiter {
    aws: crate::aws::Aws,
    table: String,
    enabled: bool,
    /// Once DynamoDB has said a subject is over its limit, this instance answers 429 itself
    /// until that window ends: abuse then costs no DynamoDB write per request.
    exceeded: std::sync::Arc<std::sync::Mutex<Exceeded>>,
}

impl RateLimiter {
    pub fn new(aws: crate::aws::Aws, table: String, enabled: bool) -> Self {
        Self {
            aws,
            table,
            enabled,
            exceeded: Default::default(),
        }
    }

    fn known_exceeded(&self, policy: RatePolicy, subject: &str, now: u64) -> Option<u64> {
        let exceeded = self.exceeded.lock().unwrap_or_else(|p| p.into_inner());
        exceeded
            .get(&(policy.name, subject.to_owned()))
            .filter(|end| **end > now)
            .map(|end| end - now)
    }

    fn remember_exceeded(&self, policy: RatePolicy, subject: &str, window_end: u64, now: u64) {
        let mut exceeded = self.exceeded.lock().unwrap_or_else(|p| p.into_inner());
        if exceeded.len() >= EXCEEDED_SWEEP_AT {
            exceeded.retain(|_, end| *end > now);
        }
        exceeded.insert((policy.name, subject.to_owned()), window_end);
    }

    /// Counts one request by `subject` against `policy`. When DynamoDB cannot be reached the
    /// request is allowed (and the failure logged): a limiter outage must not take the API down.
    pub async fn check(&self, policy: RatePolicy, subject: &str) -> Decision {
        if !self.enabled {
            return Decision::Allowed {
                remaining: policy.limit,
            };
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        if let Some(retry_after_secs) = self.known_exceeded(policy, subject, now) {
            return Decision::Limited { retry_after_secs };
        }
        match self.hit(policy, subject, now).await {
            Ok(decision) => {
                if let Decision::Limited { retry_after_secs } = decision {
                    self.remember_exceeded(policy, subject, now + retry_after_secs, now);
                }
                decision
            }
            Err(err) => {
                tracing::warn!(policy = policy.name, error = %aws_sdk_dynamodb::error::DisplayErrorContext(&err), "rate limiter unavailable; allowing");
                Decision::Allowed { remaining: 0 }
            }
        }
    }

    async fn hit(
        &self,
        policy: RatePolicy,
        subject: &str,
        now: u64,
    ) -> Result<
        Decision,
        aws_sdk_dynamodb::error::SdkError<
            aws_sdk_dynamodb::operation::update_item::UpdateItemError,
        >,
    > {
        let window = policy.window_secs.max(1);
        let window_start = now - now % window;
        let window_end = window_start + window;
        let out = self
            .aws
            .clients()
            .await
            .rate_limit
            .update_item()
            .table_name(&self.table)
            .key(
                "pk",
                AttributeValue::S(format!("{}#{}#{}", policy.name, subject, window_start)),
            )
            .update_expression("ADD hits :one SET expires_at = if_not_exists(expires_at, :exp)")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":exp", AttributeValue::N((window_end + 60).to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await?;
        let hits = out
            .attributes
            .as_ref()
            .and_then(|a| a.get("hits"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        Ok(if hits > u64::from(policy.limit) {
            Decision::Limited {
                retry_after_secs: (window_end - now).max(1),
            }
        } else {
            Decision::Allowed {
                remaining: u32::try_from(u64::from(policy.limit) - hits).unwrap_or(0),
            }
        })
    }
}
