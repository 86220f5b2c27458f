//! A circuit breaker per bank, its state shared by every function instance in DynamoDB
//! (`drop-{stage}-bank-breaker`, key `pk` = the bank id).
//!
//! - **Closed**: calls go through. A failed call (a timeout, a connection error, a 5xx after the
//!   retries, a malformed answer; never a 4xx, which is an answer) is recorded; the third one
//!   within 60 s opens the breaker.
//! - **Open** for 60 s: [`BankBreaker::admit`] refuses at once, so no request reaches the bank.
//! - **Half-open** after that: one call may try (it takes a 30-second probe lease, so a probe
//!   whose instance died frees the way again); every other call is refused while it runs. Its
//!   success closes the breaker, its failure opens it for another 60 s.
//!
//! Every change is a conditional write on the item's `version` (read with a consistent read,
//! written only if nobody wrote in between, else read again), so two instances recording at the
//! same moment cannot lose a failure or both take the probe. Time comes from a [`Clock`], so
//! tests move it instead of waiting.
//!
//! DynamoDB failing must not take the bank down with it: the breaker then lets calls through
//! (fails open) and says so in the log.

use crate::aws::Aws;
use crate::clock::{Clock, SystemClock};
use crate::domain::bank::BankId;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// When the breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Failures within `window` that open it (3).
    pub failures: u32,
    /// 60 s.
    pub window: Duration,
    /// How long it stays open before one call may try (60 s).
    pub open_for: Duration,
    /// How long a half-open probe holds the way before another call may try (30 s).
    pub probe_lease: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failures: 3,
            window: Duration::seconds(60),
            open_for: Duration::seconds(60),
            probe_lease: Duration::seconds(30),
        }
    }
}

/// Leave to call the bank, handed back with the call's outcome to [`BankBreaker::record`].
#[must_use = "hand the permit back to BankBreaker::record with the call's outcome"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// The breaker is closed.
    Closed,
    /// The breaker is half-open and this call is its one try.
    Probe,
}

/// The breaker refused the call: the bank is not to be called now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the bank's circuit breaker is open")]
pub struct Open {
    /// When a call may try again (at least one second).
    pub retry_after: std::time::Duration,
}

/// How a call went, as far as the breaker cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The bank answered (any 2xx or 4xx that reads as the spec says).
    Answered,
    /// A timeout, a connection error, a 5xx after the retries, or a malformed answer.
    Failed,
}

/// The breaker's state for one bank, as stored now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakerState {
    Closed {
        /// Failures recorded within the window.
        recent_failures: u32,
    },
    Open {
        until: OffsetDateTime,
    },
    HalfOpen {
        /// Whether a call holds the probe.
        probing: bool,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("bank circuit breaker table")]
pub struct BreakerError(#[source] Box<dyn std::error::Error + Send + Sync>);

/// The breakers of every bank, in one table. Cheap to clone.
#[derive(Clone)]
pub struct BankBreaker {
    aws: Aws,
    table: String,
    policy: BreakerPolicy,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for BankBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankBreaker")
            .field("table", &self.table)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// How often a conditional write is tried again after another instance wrote first.
const WRITE_ATTEMPTS: u32 = 8;
/// Items of banks nobody called for a day are removed by DynamoDB's TTL.
const ITEM_TTL: Duration = Duration::days(1);

/// One bank's item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Record {
    /// Whether the item exists, and its version if it has one.
    exists: bool,
    version: Option<u64>,
    /// Failures in the window, unix milliseconds (closed only).
    failures: Vec<i64>,
    /// Open (or half-open, once passed) until, unix milliseconds.
    open_until: Option<i64>,
    /// The half-open probe's lease, unix milliseconds.
    probe_until: Option<i64>,
}

fn millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn span(d: Duration) -> i64 {
    i64::try_from(d.whole_milliseconds()).unwrap_or(i64::MAX)
}

fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// At least one second, rounded up to whole seconds (a `Retry-After` is in seconds).
fn retry_after(ms: i64) -> std::time::Duration {
    let secs = u64::try_from(ms.max(1)).unwrap_or(1).div_ceil(1000);
    std::time::Duration::from_secs(secs.max(1))
}

type Item = HashMap<String, AttributeValue>;

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

impl Record {
    fn from_item(item: Option<Item>) -> Self {
        let Some(item) = item else {
            return Self::default();
        };
        let failures = item
            .get("failures")
            .and_then(|v| v.as_l().ok())
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.as_n().ok()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        Self {
            exists: true,
            version: number(&item, "version").and_then(|v| u64::try_from(v).ok()),
            failures,
            open_until: number(&item, "open_until"),
            probe_until: number(&item, "probe_until"),
        }
    }

    fn state(&self, now: i64, policy: &BreakerPolicy) -> BreakerState {
        match self.open_until {
            Some(until) if now < until => BreakerState::Open {
                until: from_millis(until),
            },
            Some(_) => BreakerState::HalfOpen {
                probing: self.probe_until.is_some_and(|p| now < p),
            },
            None => BreakerState::Closed {
                recent_failures: u32::try_from(self.recent_failures(now, policy).len())
                    .unwrap_or(u32::MAX),
            },
        }
    }

    fn recent_failures(&self, now: i64, policy: &BreakerPolicy) -> Vec<i64> {
        let since = now - span(policy.window);
        self.failures
            .iter()
            .copied()
            .filter(|t| *t > since && *t <= now)
            .collect()
    }

    fn opened(now: i64, policy: &BreakerPolicy) -> Self {
        Self {
            open_until: Some(now + span(policy.open_for)),
            ..Self::default()
        }
    }
}

enum Write {
    Done,
    /// Another instance wrote first: read again.
    Conflict,
}

impl BankBreaker {
    /// The breakers in `table`, with the default policy and the system clock.
    pub fn new(aws: Aws, table: String) -> Self {
        Self {
            aws,
            table,
            policy: BreakerPolicy::default(),
            clock: Arc::new(SystemClock),
        }
    }

    pub fn with_policy(mut self, policy: BreakerPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Reads the time from `clock` (tests move it instead of waiting).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn policy(&self) -> &BreakerPolicy {
        &self.policy
    }

    /// Whether `bank` may be called now. `Err(Open)` while the breaker is open, and while
    /// half-open when another call holds the probe.
    pub async fn admit(&self, bank: &BankId) -> Result<Permit, Open> {
        for _ in 0..WRITE_ATTEMPTS {
            let now = millis(self.clock.now());
            let record = match self.read(bank).await {
                Ok(record) => record,
                Err(err) => {
                    self.fail_open(bank, &err);
                    return Ok(Permit::Closed);
                }
            };
            let Some(open_until) = record.open_until else {
                return Ok(Permit::Closed);
            };
            if now < open_until {
                return Err(Open {
                    retry_after: retry_after(open_until - now),
                });
            }
            if let Some(probe_until) = record.probe_until.filter(|p| now < *p) {
                return Err(Open {
                    retry_after: retry_after(probe_until - now),
                });
            }
            let lease = span(self.policy.probe_lease);
            let probing = Record {
                probe_until: Some(now + lease),
                ..record.clone()
            };
            match self.write(bank, &record, &probing).await {
                Ok(Write::Done) => {
                    tracing::info!(bank = %bank, "bank circuit breaker half-open: one call tries");
                    return Ok(Permit::Probe);
                }
                Ok(Write::Conflict) => continue,
                Err(err) => {
                    self.fail_open(bank, &err);
                    return Ok(Permit::Probe);
                }
            }
        }
        // Contention this high means others are deciding; let this call wait for them.
        Err(Open {
            retry_after: std::time::Duration::from_secs(1),
        })
    }

    /// Records how a call admitted with `permit` went.
    pub async fn record(&self, bank: &BankId, permit: Permit, outcome: CallOutcome) {
        // A success while closed changes nothing: no write on the common path.
        if outcome == CallOutcome::Answered && permit == Permit::Closed {
            return;
        }
        for _ in 0..WRITE_ATTEMPTS {
            let now = millis(self.clock.now());
            let record = match self.read(bank).await {
                Ok(record) => record,
                Err(err) => return self.not_recorded(bank, &err),
            };
            let Some(next) = self.next(&record, now, permit, outcome, bank) else {
                return;
            };
            match self.write(bank, &record, &next).await {
                Ok(Write::Done) => return,
                Ok(Write::Conflict) => continue,
                Err(err) => return self.not_recorded(bank, &err),
            }
        }
        tracing::warn!(bank = %bank, "bank circuit breaker: too much contention; outcome not recorded");
    }

    /// The record after `outcome`, or `None` when nothing changes.
    fn next(
        &self,
        record: &Record,
        now: i64,
        permit: Permit,
        outcome: CallOutcome,
        bank: &BankId,
    ) -> Option<Record> {
        let half_open = record.open_until.is_some_and(|until| now >= until);
        match (outcome, permit) {
            (CallOutcome::Answered, Permit::Probe) if half_open => {
                tracing::info!(bank = %bank, "bank circuit breaker closed: the bank answers again");
                Some(Record {
                    failures: Vec::new(),
                    open_until: None,
                    probe_until: None,
                    ..record.clone()
                })
            }
            (CallOutcome::Answered, _) => None,
            (CallOutcome::Failed, Permit::Probe) if half_open => {
                tracing::warn!(bank = %bank, "bank circuit breaker opened again: the try failed");
                Some(Record::opened(now, &self.policy))
            }
            // A call that started before the breaker opened: it is open already.
            (CallOutcome::Failed, _) if record.open_until.is_some() => None,
            (CallOutcome::Failed, _) => {
                let mut failures = record.recent_failures(now, &self.policy);
                failures.push(now);
                if failures.len() >= self.policy.failures as usize {
                    tracing::warn!(
                        bank = %bank,
                        failures = failures.len(),
                        "bank circuit breaker opened"
                    );
                    Some(Record::opened(now, &self.policy))
                } else {
                    Some(Record {
                        failures,
                        ..record.clone()
                    })
                }
            }
        }
    }

    /// The state stored for `bank` now.
    pub async fn state(&self, bank: &BankId) -> Result<BreakerState, BreakerError> {
        let record = self.read(bank).await?;
        Ok(record.state(millis(self.clock.now()), &self.policy))
    }

    fn fail_open(&self, bank: &BankId, err: &BreakerError) {
        tracing::warn!(
            bank = %bank,
            error = %crate::error::log_chain(err),
            "bank circuit breaker unreadable; letting the call through"
        );
    }

    fn not_recorded(&self, bank: &BankId, err: &BreakerError) {
        tracing::warn!(
            bank = %bank,
            error = %crate::error::log_chain(err),
            "bank circuit breaker: outcome not recorded"
        );
    }

    async fn read(&self, bank: &BankId) -> Result<Record, BreakerError> {
        let out = self
            .aws
            .clients()
            .await
            .dynamo
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(bank.as_str().to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| BreakerError(Box::new(e.into_service_error())))?;
        Ok(Record::from_item(out.item))
    }

    /// Writes `next` if the item is still `current`.
    async fn write(
        &self,
        bank: &BankId,
        current: &Record,
        next: &Record,
    ) -> Result<Write, BreakerError> {
        let now = self.clock.now();
        let n = |v: i64| AttributeValue::N(v.to_string());
        let version = current.version.unwrap_or(0).saturating_add(1);
        let mut item = Item::from([
            ("pk".into(), AttributeValue::S(bank.as_str().to_owned())),
            ("version".into(), AttributeValue::N(version.to_string())),
            (
                "failures".into(),
                AttributeValue::L(next.failures.iter().map(|t| n(*t)).collect()),
            ),
            ("expires_at".into(), n((now + ITEM_TTL).unix_timestamp())),
        ]);
        if let Some(until) = next.open_until {
            item.insert("open_until".into(), n(until));
        }
        if let Some(until) = next.probe_until {
            item.insert("probe_until".into(), n(until));
        }
        let put = self
            .aws
            .clients()
            .await
            .dynamo
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let put = match (current.exists, current.version) {
            (false, _) => put.condition_expression("attribute_not_exists(pk)"),
            (true, None) => put.condition_expression("attribute_not_exists(version)"),
            (true, Some(v)) => put
                .condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        };
        match put.send().await {
            Ok(_) => Ok(Write::Done),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(Write::Conflict)
            }
            Err(e) => Err(BreakerError(Box::new(e.into_service_error()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_900_000_000_000;

    fn policy() -> BreakerPolicy {
        BreakerPolicy::default()
    }

    #[test]
    fn failures_count_within_the_window_only() {
        let record = Record {
            exists: true,
            version: Some(3),
            failures: vec![T0 - 61_000, T0 - 60_000, T0 - 59_999, T0],
            ..Record::default()
        };
        assert_eq!(record.recent_failures(T0, &policy()), vec![T0 - 59_999, T0]);
        assert_eq!(
            record.state(T0, &policy()),
            BreakerState::Closed { recent_failures: 2 }
        );
    }

    #[test]
    fn open_then_half_open_after_the_open_period() {
        let record = Record::opened(T0, &policy());
        assert_eq!(record.open_until, Some(T0 + 60_000));
        assert_eq!(
            record.state(T0 + 59_999, &policy()),
            BreakerState::Open {
                until: from_millis(T0 + 60_000)
            }
        );
        assert_eq!(
            record.state(T0 + 60_000, &policy()),
            BreakerState::HalfOpen { probing: false }
        );
        let probing = Record {
            probe_until: Some(T0 + 90_000),
            ..record
        };
        assert_eq!(
            probing.state(T0 + 89_999, &policy()),
            BreakerState::HalfOpen { probing: true }
        );
        assert_eq!(
            probing.state(T0 + 90_000, &policy()),
            BreakerState::HalfOpen { probing: false }
        );
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        assert_eq!(retry_after(1), std::time::Duration::from_secs(1));
        assert_eq!(retry_after(0), std::time::Duration::from_secs(1));
        assert_eq!(retry_after(1_001), std::time::Duration::from_secs(2));
        assert_eq!(retry_after(60_000), std::time::Duration::from_secs(60));
    }

    #[test]
    fn an_item_reads_back_as_written() {
        let item = Item::from([
            ("pk".into(), AttributeValue::S("dnb".into())),
            ("version".into(), AttributeValue::N("7".into())),
            (
                "failures".into(),
                AttributeValue::L(vec![AttributeValue::N(T0.to_string())]),
            ),
            ("open_until".into(), AttributeValue::N((T0 + 1).to_string())),
        ]);
        assert_eq!(
            Record::from_item(Some(item)),
            Record {
                exists: true,
                version: Some(7),
                failures: vec![T0],
                open_until: Some(T0 + 1),
                probe_until: None,
            }
        );
        assert_eq!(Record::from_item(None), Record::default());
    }
}
