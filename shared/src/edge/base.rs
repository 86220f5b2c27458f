//! What every function instance starts from: its configuration and the lazily built clients
//! any function may use. Building it opens no connection, reads no secret and builds no AWS
//! client; each function takes from it only what it uses into a state of its own.

use crate::aws::bank_breaker::BankBreaker;
use crate::aws::rate_limit::RateLimiter;
use crate::aws::secrets::SecretStore;
use crate::aws::Aws;
use crate::config::{Config, ConfigError};
use crate::domain::bank::BankDirectory;
use crate::edge::auth::Authenticator;
use crate::providers::bank::{berlin_group_banks, Banks};
use crate::store::Db;

/// Postgres connections per instance: a Lambda instance serves one request at a time.
pub const LAMBDA_POOL_SIZE: usize = 2;

#[derive(Clone)]
pub struct Base {
    pub config: Config,
    pub aws: Aws,
    pub secrets: SecretStore,
    pub db: Db,
}

impl Base {
    /// A Lambda instance's base, from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self::new(
            Config::from_env()?,
            Aws::from_env(),
            LAMBDA_POOL_SIZE,
        ))
    }

    pub fn new(config: Config, aws: Aws, pool_size: usize) -> Self {
        let aws = aws.with_deadlines(config.aws_deadlines);
        let secrets = SecretStore::new(aws.clone(), config.secrets_prefix.clone());
        let db = Db::new(config.database.clone(), pool_size, secrets.clone())
            .with_deadlines(config.db_deadlines);
        Self {
            config,
            aws,
            secrets,
            db,
        }
    }

    pub fn rate_limiter(&self) -> RateLimiter {
        RateLimiter::new(
            self.aws.clone(),
            self.config.rate_limit_table.clone(),
            self.config.rate_limits_enabled,
        )
    }

    /// The banks a user can link and their clients: the built-in directory at
    /// `OPEN_BANKING_BASE_URL`, or none when it is unset.
    pub fn banks(&self) -> (BankDirectory, Banks) {
        let Some(base_url) = &self.config.open_banking_base_url else {
            return (BankDirectory::new(Vec::new()), Banks::new());
        };
        let directory = BankDirectory::builtin();
        let breaker = BankBreaker::new(self.aws.clone(), self.config.bank_breaker_table.clone());
        let banks = berlin_group_banks(&directory, base_url, &breaker, self.config.bank_retry_base);
        (directory, banks)
    }

    pub fn authenticator(&self) -> Authenticator {
        Authenticator::new(
            self.db.clone(),
            self.secrets.clone(),
            self.config.web_origin(),
        )
    }
}
