//! AWS SDK clients, built on first use.
//!
//! Building the SDK's HTTPS client (root certificates, TLS provider) costs more than the rest
//! of a function's init together, and many requests never touch AWS; so the configuration
//! and the clients are made by the first caller that needs them and shared afterwards.

pub mod login;
pub mod provision;
pub mod rate_limit;
pub mod secrets;
pub mod webhook_ledger;

use std::sync::Arc;
use tokio::sync::OnceCell;

pub struct Clients {
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl Clients {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            dynamo: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
        }
    }
}

/// A handle to the instance's AWS clients. Cloning shares them.
#[derive(Clone, Default)]
pub struct Aws(Arc<OnceCell<Clients>>);

impl Aws {
    /// Clients configured from the environment (`AWS_REGION`, `AWS_ENDPOINT_URL`, the
    /// credentials Lambda provides) when first used.
    pub fn from_env() -> Self {
        Self::default()
    }

    /// Clients for an already loaded configuration (local server, tests).
    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Self {
        Self(Arc::new(OnceCell::new_with(Some(Clients::new(sdk)))))
    }

    pub async fn clients(&self) -> &Clients {
        self.0
            .get_or_init(|| async {
                Clients::new(
                    &aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
                )
            })
            .await
    }
}
