//! What a function instance builds once in `main` and hands to every request.
//!
//! Building it opens no connection and reads no secret: the SDK clients are cheap values, the
//! pool and the secrets are filled on first use, so cold start stays in the runtime's init.

use crate::config::Config;
use crate::db::Db;
use crate::quote::PricingPolicy;
use crate::rate_limit::RateLimiter;
use crate::secrets::SecretStore;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub db: Db,
    pub secrets: SecretStore,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub rate_limiter: RateLimiter,
    pub pricing: PricingPolicy,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Postgres connections per instance: a Lambda instance serves one request at a time.
pub const LAMBDA_POOL_SIZE: usize = 2;

impl AppState {
    /// Builds the state from the environment (`AWS_ENDPOINT_URL` points the SDK at a local
    /// emulator; nothing else differs).
    pub async fn from_env(pool_size: usize) -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Ok(Self::new(config, &sdk, pool_size))
    }

    pub fn new(config: Config, sdk: &aws_config::SdkConfig, pool_size: usize) -> Self {
        let secrets = SecretStore::new(aws_sdk_secretsmanager::Client::new(sdk), config.secrets_prefix.clone());
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        let db = Db::new(config.database.clone(), pool_size, secrets.clone());
        let rate_limiter = RateLimiter::new(dynamo.clone(), config.rate_limit_table.clone(), config.rate_limits_enabled);
        let pricing = PricingPolicy { quote_ttl: config.quote_ttl, ..PricingPolicy::default() };
        Self(Arc::new(Inner {
            db,
            secrets,
            dynamo,
            sqs: aws_sdk_sqs::Client::new(sdk),
            rate_limiter,
            pricing,
            config,
        }))
    }
}
