//! What a function instance builds once in `main` and hands to every request.
//!
//! Building it opens no connection, reads no secret and builds no AWS client: each is made when
//! a request first needs it, so cold start stays the runtime's own.

use crate::aws::Aws;
use crate::config::Config;
use crate::crypto::FnrVault;
use crate::store::pool::Db;
use crate::error::{ApiError, ErrorCode};
use crate::aws::login::LoginStore;
use crate::providers::bankid::OidcClient;
use crate::providers::outbound::RetryPolicy;
use crate::domain::quote::PricingPolicy;
use crate::aws::rate_limit::RateLimiter;
use crate::store::rates::RateBoard;
use crate::aws::secrets::SecretStore;
use crate::domain::session::SessionKeys;
use crate::providers::sumsub::SumsubClient;
use crate::aws::webhook_ledger::WebhookLedger;
use std::sync::Arc;
use tokio::sync::OnceCell;

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
    pub logins: LoginStore,
    pub webhooks: WebhookLedger,
    bankid: OnceCell<OidcClient>,
    sumsub: OnceCell<SumsubClient>,
    fnr_vault: OnceCell<FnrVault>,
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
        let aws = aws.with_deadlines(config.aws_deadlines);
        let secrets = SecretStore::new(aws.clone(), config.secrets_prefix.clone());
        let db = Db::new(config.database.clone(), pool_size, secrets.clone())
            .with_deadlines(config.db_deadlines);
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
        let logins = LoginStore::new(aws.clone(), config.login_table.clone());
        let webhooks = WebhookLedger::new(aws.clone(), config.webhook_table.clone());
        Self(Arc::new(Inner {
            db,
            secrets,
            aws,
            rate_limiter,
            pricing,
            rate_board,
            logins,
            webhooks,
            bankid: OnceCell::new(),
            sumsub: OnceCell::new(),
            fnr_vault: OnceCell::new(),
            config,
        }))
    }
}

fn secret_unavailable(err: crate::aws::secrets::SecretError) -> ApiError {
    ApiError::new(ErrorCode::ServiceUnavailable)
        .with_retry_after(1)
        .with_source(err)
}

impl AppState {
    /// The BankID client, built on first use with the client secret from Secrets Manager.
    pub async fn bankid(&self) -> Result<&OidcClient, ApiError> {
        let config = self.config.bankid.as_ref().ok_or_else(|| {
            ApiError::msg(
                ErrorCode::ServiceUnavailable,
                "BankID sign-in is not configured.",
            )
        })?;
        self.bankid
            .get_or_try_init(|| async {
                let secret = self
                    .secrets
                    .get("bankid-client-secret")
                    .await
                    .map_err(secret_unavailable)?;
                // A person is waiting, and API Gateway gives up after 29 s: a sign-in makes up
                // to four provider calls, so each gets 3 s and one retry.
                let interactive = RetryPolicy {
                    max_retries: 1,
                    timeout: std::time::Duration::from_secs(3),
                    ..RetryPolicy::default()
                };
                Ok::<_, ApiError>(
                    OidcClient::new(
                        config.issuer.clone(),
                        config.client_id.clone(),
                        secret,
                        self.config.bankid_redirect_uri(),
                    )
                    .with_retry_policy(interactive),
                )
            })
            .await
    }

    /// The Sumsub client, built on first use with the app token and secret key. Outbound calls
    /// retry timeouts and 5xx after 1, 2 and 4 s; each attempt may take 3 s.
    pub async fn sumsub(&self) -> Result<&SumsubClient, ApiError> {
        self.sumsub
            .get_or_try_init(|| async {
                let keys = self
                    .secrets
                    .get_many(&["sumsub-app-token", "sumsub-secret-key"])
                    .await
                    .map_err(secret_unavailable)?;
                let [app_token, secret_key] = <[_; 2]>::try_from(keys)
                    .map_err(|_| ApiError::msg(ErrorCode::Internal, "sumsub keys"))?;
                let policy = RetryPolicy {
                    timeout: std::time::Duration::from_secs(3),
                    ..RetryPolicy::default()
                };
                let sumsub = &self.config.sumsub;
                Ok::<_, ApiError>(
                    SumsubClient::new(
                        sumsub.base_url.clone(),
                        app_token,
                        secret_key,
                        sumsub.level_name.clone(),
                    )
                    .with_retry_policy(policy),
                )
            })
            .await
    }

    /// The fødselsnummer vault, built on first use from its two keys.
    pub async fn fnr_vault(&self) -> Result<&FnrVault, ApiError> {
        self.fnr_vault
            .get_or_try_init(|| async {
                let keys = self
                    .secrets
                    .get_many(&["fnr-encryption-key", "fnr-hmac-key"])
                    .await
                    .map_err(secret_unavailable)?;
                match keys.as_slice() {
                    [encryption, hmac] => {
                        FnrVault::new(encryption, hmac).map_err(ApiError::internal)
                    }
                    _ => Err(ApiError::msg(ErrorCode::Internal, "fødselsnummer keys")),
                }
            })
            .await
    }

    /// The keys that sign and check session tokens.
    pub async fn session_keys(&self) -> Result<SessionKeys, ApiError> {
        let secret = self
            .secrets
            .get("jwt-signing-key")
            .await
            .map_err(secret_unavailable)?;
        SessionKeys::new(&secret).map_err(ApiError::internal)
    }
}
