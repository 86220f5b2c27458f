//! What a function instance builds once in `main` and hands to every request.
//!
//! Building it opens no connection, reads no secret and builds no AWS client: each is made when
//! a request first needs it, so cold start stays the runtime's own.

use crate::aws::Aws;
use crate::config::Config;
use crate::db::Db;
use crate::quote::PricingPolicy;
use crate::rate_limit::RateLimiter;
use crate::rates::RateBoard;
use crate::secrets::SecretStore;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub db: Db,
    pub secrets: SecretStore,
    pub aws: Aws,
    pub rate_limiter: RateLimiter,
    pub pricing: PricingPolicy,
    pub rate_board: RateBoard,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// How long an instance serves the public rate list before reading it again.
pub const RATE_BOARD_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Postgres connections per instance: a Lambda instance serves one request at a time.
pub const LAMBDA_POOL_SIZE: usize = 2;

impl AppState {
    /// Builds the state from the environment. Reads no secret, opens no connection and builds
    /// no AWS client: each is made when a request first needs it.
    pub fn from_env(pool_size: usize) -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(Config::from_env()?, Aws::from_env(), pool_size))
    }

    pub fn new(config: Config, aws: Aws, pool_size: usize) -> Self {
        let secrets = SecretStore::new(aws.clone(), config.secrets_prefix.clone());
        let db = Db::new(config.database.clone(), pool_size, secrets.clone());
        let rate_limiter = RateLimiter::new(
            aws.clone(),
            config.rate_limit_table.clone(),
            config.rate_limits_enabled,
        );
        let pricing = PricingPolicy {
            quote_ttl: config.quote_ttl,
            ..PricingPolicy::default()
        };
        let rate_board = RateBoard::new(RATE_BOARD_TTL);
        Self(Arc::new(Inner {
            db,
            secrets,
            aws,
            rate_limiter,
            pricing,
            rate_board,
            config,
        }))
    }
}
