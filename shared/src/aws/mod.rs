//! AWS SDK clients, built on first use.
//!
//! Building the SDK's HTTPS client (root certificates, TLS provider) costs more than the rest
//! of a function's init together, and many requests never touch AWS; so the configuration
//! and the clients are made by the first caller that needs them and shared afterwards.

pub mod balance_cache;
pub mod bank_breaker;
pub mod login;
pub mod provision;
pub mod rate_limit;
pub mod secrets;
pub mod webhook_ledger;

use crate::config::AwsDeadlines;
use aws_config::timeout::TimeoutConfig;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

pub struct Clients {
    /// Login state and the webhook ledger.
    pub dynamo: aws_sdk_dynamodb::Client,
    /// The rate limiter's counters: a short deadline, since the limiter fails open.
    pub rate_limit: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

/// An operation deadline `total` (every attempt and back-off together), each attempt (and
/// its connect) at most half of it, so a hung first attempt leaves room for a second.
fn timeouts(total: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .operation_timeout(total)
        .operation_attempt_timeout(total / 2)
        .connect_timeout(total / 2)
        .build()
}

impl Clients {
    pub fn new(sdk: &aws_config::SdkConfig, deadlines: AwsDeadlines) -> Self {
        let dynamo = |total| {
            aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(sdk)
                    .timeout_config(timeouts(total))
                    .build(),
            )
        };
        Self {
            dynamo: dynamo(deadlines.other),
            rate_limit: dynamo(deadlines.rate_limit),
            sqs: aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(sdk)
                    .timeout_config(timeouts(deadlines.other))
                    .build(),
            ),
            secrets: aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::config::Builder::from(sdk)
                    .timeout_config(timeouts(deadlines.other))
                    .build(),
            ),
        }
    }
}

/// A handle to the instance's AWS clients. Cloning shares them.
#[derive(Clone, Default)]
pub struct Aws(Arc<Inner>);

#[derive(Default)]
struct Inner {
    /// An already loaded configuration; `None` loads it from the environment on first use.
    sdk: Option<aws_config::SdkConfig>,
    deadlines: AwsDeadlines,
    clients: OnceCell<Clients>,
}

impl Aws {
    /// Clients configured from the environment (`AWS_REGION`, `AWS_ENDPOINT_URL`, the
    /// credentials Lambda provides) when first used.
    pub fn from_env() -> Self {
        Self::default()
    }

    /// Clients for an already loaded configuration (local server, tests).
    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Self {
        Self(Arc::new(Inner {
            sdk: Some(sdk.clone()),
            ..Inner::default()
        }))
    }

    /// The same configuration with these deadlines (clients are built on first use).
    pub fn with_deadlines(&self, deadlines: AwsDeadlines) -> Self {
        Self(Arc::new(Inner {
            sdk: self.0.sdk.clone(),
            deadlines,
            clients: OnceCell::new(),
        }))
    }

    pub async fn clients(&self) -> &Clients {
        self.0
            .clients
            .get_or_init(|| async {
                let sdk = match &self.0.sdk {
                    Some(sdk) => sdk.clone(),
                    None => aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
                };
                Clients::new(&sdk, self.0.deadlines)
            })
            .await
    }
}
