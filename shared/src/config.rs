//! Configuration from the environment, read once per instance.
//!
//! Only names and addresses live here; secret values are read from Secrets Manager by
//! [`crate::aws::secrets::SecretStore`] when first needed.

use crate::providers::sumsub::DigestAlg;
use std::env;
use std::fmt;
use time::{Date, Duration};

/// The mobile app's sign-in redirect on stage `local`.
pub const LOCAL_MOBILE_REDIRECT_URI: &str = "drop://auth/callback";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `local`, `dev` or `prod`; shown in logs and the health check.
    pub stage: String,
    pub database: DatabaseConfig,
    /// DynamoDB table holding fixed rate-limit windows.
    pub rate_limit_table: String,
    /// Prefix of every Secrets Manager secret name, e.g. `drop/prod/`.
    pub secrets_prefix: String,
    pub queues: Queues,
    pub quote_ttl: Duration,
    /// Public base URL of this API (the BankID redirect URI is built from it).
    pub public_url: String,
    /// Where a signed-in web user is sent after BankID, and whose origin may send
    /// cookie-authenticated state changes (CSRF).
    pub web_app_url: String,
    /// Where the mobile app receives its one-time sign-in code: an https App Link / Universal
    /// Link bound to the app (`DROP_MOBILE_REDIRECT_URI`). A custom scheme such as
    /// `drop://auth/callback` can be claimed by any app, so it is accepted on stage `local` only,
    /// where it is the default.
    pub mobile_redirect_uri: String,
    /// The BankID OpenID provider, where sign-in is enabled.
    pub bankid: Option<BankIdConfig>,
    /// DynamoDB table remembering applied webhook deliveries.
    pub webhook_table: String,
    /// Sumsub's API and the verification level applicants are created at.
    pub sumsub: SumsubConfig,
    /// DynamoDB table of pending logins (state, nonce, PKCE verifier) and mobile one-time codes.
    pub login_table: String,
    /// DynamoDB table of the last balances read per linked account (never PostgreSQL).
    pub balance_cache_table: String,
    /// DynamoDB table of the per-bank circuit breakers, shared by every instance.
    pub bank_breaker_table: String,
    /// The open-banking API: each bank of the directory at `{base}/{bank id}`
    /// (`OPEN_BANKING_BASE_URL`; locally the sandbox bank). Unset: no bank can be linked.
    pub open_banking_base_url: Option<String>,
    /// The first retry of a bank read waits this long, the next ones twice as long each
    /// (`DROP_BANK_RETRY_BASE_MS`, 1000 by default).
    pub bank_retry_base: std::time::Duration,
    /// Whether rate limits are enforced (always in the cloud; `DROP_RATE_LIMITS=off` for
    /// local load measurements only).
    pub rate_limits_enabled: bool,
    /// The date the 18-year age rule is applied on instead of today in Norway, so a test
    /// controls how old its test persons are (`DROP_TODAY=YYYY-MM-DD`, stage `local` only).
    pub today_override: Option<Date>,
    pub db_deadlines: DbDeadlines,
    pub aws_deadlines: AwsDeadlines,
}

/// How long PostgreSQL may take. A request that needs it answers 503 within
/// `connect + operation` at worst, well inside the Lambda timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbDeadlines {
    /// Opening a connection (TCP, TLS, start-up, password), and waiting for a free one
    /// (`DROP_DB_CONNECT_TIMEOUT_MS`, default 2 s).
    pub connect: std::time::Duration,
    /// One read from asking the pool to the last row, a retry included, measured here, so it
    /// holds when the server stops answering altogether (`DROP_DB_TIMEOUT_MS`, default 4 s).
    pub operation: std::time::Duration,
}

impl Default for DbDeadlines {
    fn default() -> Self {
        Self {
            connect: std::time::Duration::from_secs(2),
            operation: std::time::Duration::from_secs(4),
        }
    }
}

/// Operation deadlines (every attempt and retry together) of the AWS SDK clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsDeadlines {
    /// The rate limiter's DynamoDB counter: short, because it fails open
    /// (`DROP_RATE_LIMIT_TIMEOUT_MS`, default 1 s).
    pub rate_limit: std::time::Duration,
    /// Login state, the webhook ledger, secrets and queues (`DROP_AWS_TIMEOUT_MS`, default 3 s).
    pub other: std::time::Duration,
}

impl Default for AwsDeadlines {
    fn default() -> Self {
        Self {
            rate_limit: std::time::Duration::from_secs(1),
            other: std::time::Duration::from_secs(3),
        }
    }
}

/// A deadline in milliseconds from `name` (50 ms to 60 s), or `default`.
fn millis(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: std::time::Duration,
) -> Result<std::time::Duration, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|ms| (50..=60_000).contains(ms))
            .map(std::time::Duration::from_millis)
            .ok_or_else(|| ConfigError(format!("{name} must be 50..=60000 (milliseconds)"))),
    }
}

#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// A full URL (local runs, tests). `sslmode=require` turns TLS on.
    Url(String),
    /// An RDS-shaped Secrets Manager secret (`host`, `port`, `username`, `password`, `dbname`);
    /// `host_override` points at RDS Proxy.
    Secret {
        secret_id: String,
        host_override: Option<String>,
    },
}

impl fmt::Debug for DatabaseConfig {
    /// A URL's password is never printed (a configuration is logged whole, e.g. on a failed
    /// start).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(url) => f.debug_tuple("Url").field(&without_password(url)).finish(),
            Self::Secret {
                secret_id,
                host_override,
            } => f
                .debug_struct("Secret")
                .field("secret_id", secret_id)
                .field("host_override", host_override)
                .finish(),
        }
    }
}

/// `postgres://user:pw@host/db` → `postgres://user:***@host/db`, and `password=pw` in the
/// key-value form → `password=***`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url
            .split(' ')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => "password=***",
                _ => pair,
            })
            .collect::<Vec<_>>()
            .join(" ");
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let masked = if user.len() < userinfo.len() {
                ":***"
            } else {
                ""
            };
            format!("{scheme}://{user}{masked}@{host}{}", &rest[authority_end..])
        }
        None => url.to_owned(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumsubConfig {
    pub base_url: String,
    pub level_name: String,
    /// The one `X-Payload-Digest-Alg` a webhook may be signed with (`SUMSUB_WEBHOOK_ALGORITHM`,
    /// as set on the webhook in Sumsub's dashboard); a webhook signed otherwise is refused.
    pub webhook_algorithm: DigestAlg,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankIdConfig {
    /// Issuer URL; discovery is at `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Queues {
    pub payments: Option<String>,
    pub aml: Option<String>,
    pub retention: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Builds the configuration from any name → value lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let database = match (get("DATABASE_URL"), get("DATABASE_SECRET_ID")) {
            (Some(url), _) => DatabaseConfig::Url(url),
            (None, Some(secret_id)) => DatabaseConfig::Secret {
                secret_id,
                host_override: get("DATABASE_HOST"),
            },
            (None, None) => {
                return Err(ConfigError("set DATABASE_URL or DATABASE_SECRET_ID".into()))
            }
        };
        let stage = get("DROP_STAGE").unwrap_or_else(|| "local".into());
        let quote_ttl = match get("DROP_QUOTE_TTL_SECONDS") {
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|n| (10..=3600).contains(n))
                .map(|n| Duration::seconds(i64::from(n)))
                .ok_or_else(|| ConfigError("DROP_QUOTE_TTL_SECONDS must be 10..=3600".into()))?,
            None => Duration::minutes(10),
        };
        let rate_limits_enabled = match get("DROP_RATE_LIMITS").as_deref() {
            None | Some("on") => true,
            Some("off") if stage == "local" => false,
            Some(other) => {
                return Err(ConfigError(format!(
                    "DROP_RATE_LIMITS={other}: only `on`, or `off` on stage local"
                )))
            }
        };
        let today_override = match get("DROP_TODAY") {
            None => None,
            Some(day) if stage == "local" => Some(
                Date::parse(
                    &day,
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .map_err(|_| ConfigError(format!("DROP_TODAY={day} is not YYYY-MM-DD")))?,
            ),
            Some(_) => return Err(ConfigError("DROP_TODAY is for stage local only".into())),
        };
        let public_url = get("DROP_PUBLIC_URL").unwrap_or_else(|| {
            format!(
                "http://127.0.0.1:{}",
                get("DROP_PORT").unwrap_or_else(|| "3001".into())
            )
        });
        let public_url = public_url.trim_end_matches('/').to_owned();
        let web_app_url =
            get("DROP_WEB_APP_URL").unwrap_or_else(|| format!("{public_url}/v1/auth/me"));
        if origin_of(&web_app_url).is_none() {
            return Err(ConfigError(format!(
                "DROP_WEB_APP_URL={web_app_url} is not an http(s) URL"
            )));
        }
        let mobile_redirect_uri = match get("DROP_MOBILE_REDIRECT_URI") {
            Some(uri) => uri,
            None if stage == "local" => LOCAL_MOBILE_REDIRECT_URI.to_owned(),
            None => {
                return Err(ConfigError(
                    "DROP_MOBILE_REDIRECT_URI is required outside stage local".into(),
                ))
            }
        };
        if stage != "local"
            && (!mobile_redirect_uri.starts_with("https://")
                || origin_of(&mobile_redirect_uri).is_none())
        {
            return Err(ConfigError(format!(
                "DROP_MOBILE_REDIRECT_URI={mobile_redirect_uri} must be an https App Link outside stage local"
            )));
        }
        let bankid = match (get("BANKID_ISSUER"), get("BANKID_CLIENT_ID")) {
            (Some(issuer), Some(client_id)) => Some(BankIdConfig {
                issuer: issuer.trim_end_matches('/').to_owned(),
                client_id,
            }),
            (None, None) => None,
            _ => {
                return Err(ConfigError(
                    "set both BANKID_ISSUER and BANKID_CLIENT_ID, or neither".into(),
                ))
            }
        };
        let db_defaults = DbDeadlines::default();
        let db_deadlines = DbDeadlines {
            connect: millis(&get, "DROP_DB_CONNECT_TIMEOUT_MS", db_defaults.connect)?,
            operation: millis(&get, "DROP_DB_TIMEOUT_MS", db_defaults.operation)?,
        };
        let aws_defaults = AwsDeadlines::default();
        let aws_deadlines = AwsDeadlines {
            rate_limit: millis(&get, "DROP_RATE_LIMIT_TIMEOUT_MS", aws_defaults.rate_limit)?,
            other: millis(&get, "DROP_AWS_TIMEOUT_MS", aws_defaults.other)?,
        };
        let webhook_algorithm = match get("SUMSUB_WEBHOOK_ALGORITHM") {
            None => DigestAlg::HmacSha256Hex,
            Some(name) => DigestAlg::from_header(&name).ok_or_else(|| {
                ConfigError(format!(
                    "SUMSUB_WEBHOOK_ALGORITHM={name}: one of HMAC_SHA1_HEX, HMAC_SHA256_HEX, HMAC_SHA512_HEX"
                ))
            })?,
        };
        Ok(Self {
            db_deadlines,
            aws_deadlines,
            webhook_table: get("DROP_WEBHOOK_TABLE")
                .unwrap_or_else(|| format!("drop-{stage}-webhook-dedup")),
            sumsub: SumsubConfig {
                base_url: get("SUMSUB_BASE_URL")
                    .unwrap_or_else(|| "https://api.sumsub.com".into())
                    .trim_end_matches('/')
                    .to_owned(),
                level_name: get("SUMSUB_LEVEL_NAME").unwrap_or_else(|| "basic-kyc-level".into()),
                webhook_algorithm,
            },
            login_table: get("DROP_LOGIN_TABLE")
                .unwrap_or_else(|| format!("drop-{stage}-oidc-state")),
            balance_cache_table: get("DROP_BALANCE_CACHE_TABLE")
                .unwrap_or_else(|| format!("drop-{stage}-balance-cache")),
            bank_breaker_table: get("DROP_BANK_BREAKER_TABLE")
                .unwrap_or_else(|| format!("drop-{stage}-bank-breaker")),
            open_banking_base_url: get("OPEN_BANKING_BASE_URL")
                .filter(|u| !u.is_empty())
                .map(|u| u.trim_end_matches('/').to_owned()),
            bank_retry_base: millis(
                &get,
                "DROP_BANK_RETRY_BASE_MS",
                std::time::Duration::from_secs(1),
            )?,
            public_url,
            web_app_url,
            mobile_redirect_uri,
            bankid,
            secrets_prefix: get("DROP_SECRETS_PREFIX").unwrap_or_else(|| format!("drop/{stage}/")),
            rate_limit_table: get("DROP_RATE_LIMIT_TABLE")
                .unwrap_or_else(|| format!("drop-{stage}-rate-limits")),
            queues: Queues {
                payments: get("DROP_PAYMENTS_QUEUE_URL"),
                aml: get("DROP_AML_QUEUE_URL"),
                retention: get("DROP_RETENTION_QUEUE_URL"),
            },
            stage,
            database,
            quote_ttl,
            rate_limits_enabled,
            today_override,
        })
    }
}

impl Config {
    /// The origin (`scheme://host[:port]`) allowed to send cookie-authenticated state changes.
    pub fn web_origin(&self) -> &str {
        origin_of(&self.web_app_url).unwrap_or(&self.web_app_url)
    }

    /// The redirect URI registered with BankID.
    pub fn bankid_redirect_uri(&self) -> String {
        format!("{}/v1/auth/bankid/callback", self.public_url)
    }
}

/// `https://app.example/path` → `https://app.example`.
fn origin_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let host_len = rest.find('/').unwrap_or(rest.len());
    if host_len == 0 {
        return None;
    }
    Some(&url[..url.len() - rest.len() + host_len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_stage() {
        let c = from(&[
            ("DATABASE_URL", "postgres://x"),
            ("DROP_STAGE", "prod"),
            (
                "DROP_MOBILE_REDIRECT_URI",
                "https://app.drop.no/auth/mobile-callback",
            ),
        ])
        .unwrap();
        assert_eq!(c.rate_limit_table, "drop-prod-rate-limits");
        assert_eq!(c.bank_breaker_table, "drop-prod-bank-breaker");
        assert_eq!(c.secrets_prefix, "drop/prod/");
        assert_eq!(c.quote_ttl, Duration::minutes(10));
        assert!(c.rate_limits_enabled);
    }

    #[test]
    fn database_is_required_and_a_secret_works_in_place_of_a_url() {
        assert!(from(&[]).is_err());
        let c = from(&[("DATABASE_SECRET_ID", "rds"), ("DATABASE_HOST", "proxy")]).unwrap();
        assert_eq!(
            c.database,
            DatabaseConfig::Secret {
                secret_id: "rds".into(),
                host_override: Some("proxy".into())
            }
        );
    }

    #[test]
    fn public_urls_and_the_web_origin() {
        let c = from(&[("DATABASE_URL", "x"), ("DROP_PORT", "4000")]).unwrap();
        assert_eq!(
            c.bankid_redirect_uri(),
            "http://127.0.0.1:4000/v1/auth/bankid/callback"
        );
        assert_eq!(c.web_origin(), "http://127.0.0.1:4000");
        let c = from(&[
            ("DATABASE_URL", "x"),
            ("DROP_WEB_APP_URL", "https://app.drop.no/welcome"),
        ])
        .unwrap();
        assert_eq!(c.web_origin(), "https://app.drop.no");
        assert!(from(&[("DATABASE_URL", "x"), ("DROP_WEB_APP_URL", "drop.no")]).is_err());
        assert!(from(&[("DATABASE_URL", "x"), ("BANKID_ISSUER", "https://idp")]).is_err());
        let c = from(&[
            ("DATABASE_URL", "x"),
            ("BANKID_ISSUER", "https://idp/"),
            ("BANKID_CLIENT_ID", "drop"),
        ])
        .unwrap();
        assert_eq!(
            c.bankid,
            Some(BankIdConfig {
                issuer: "https://idp".into(),
                client_id: "drop".into()
            })
        );
    }

    #[test]
    fn a_database_url_prints_without_its_password() {
        let c = from(&[(
            "DATABASE_URL",
            "postgres://drop:hunter2-secret@db:5432/drop?sslmode=require",
        )])
        .unwrap();
        let printed = format!("{c:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(
            printed.contains("postgres://drop:***@db:5432/drop?sslmode=require"),
            "{printed}"
        );
        // A password containing '@' or ':' is masked whole.
        assert_eq!(
            without_password("postgres://u:p@ss:w@h/d"),
            "postgres://u:***@h/d"
        );
        assert_eq!(without_password("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(
            without_password("host=h user=u password=pw dbname=d"),
            "host=h user=u password=*** dbname=d"
        );
    }

    #[test]
    fn the_webhook_algorithm_is_sha256_unless_configured() {
        let algorithm = |v: &str| {
            from(&[("DATABASE_URL", "x"), ("SUMSUB_WEBHOOK_ALGORITHM", v)])
                .map(|c| c.sumsub.webhook_algorithm)
        };
        assert_eq!(
            from(&[("DATABASE_URL", "x")])
                .unwrap()
                .sumsub
                .webhook_algorithm,
            DigestAlg::HmacSha256Hex
        );
        assert_eq!(
            algorithm("HMAC_SHA512_HEX").unwrap(),
            DigestAlg::HmacSha512Hex
        );
        assert_eq!(algorithm("HMAC_SHA1_HEX").unwrap(), DigestAlg::HmacSha1Hex);
        assert!(algorithm("SHA256").is_err());
        assert!(algorithm("HMAC_MD5_HEX").is_err());
    }

    #[test]
    fn rate_limits_can_only_be_switched_off_locally() {
        assert!(
            !from(&[("DATABASE_URL", "x"), ("DROP_RATE_LIMITS", "off")])
                .unwrap()
                .rate_limits_enabled
        );
        assert!(from(&[
            ("DATABASE_URL", "x"),
            ("DROP_RATE_LIMITS", "off"),
            ("DROP_STAGE", "prod")
        ])
        .is_err());
        assert!(from(&[("DATABASE_URL", "x"), ("DROP_QUOTE_TTL_SECONDS", "0")]).is_err());
    }

    #[test]
    fn the_age_rules_date_can_only_be_set_locally() {
        assert_eq!(from(&[("DATABASE_URL", "x")]).unwrap().today_override, None);
        assert_eq!(
            from(&[("DATABASE_URL", "x"), ("DROP_TODAY", "2034-05-17")])
                .unwrap()
                .today_override,
            Some(time::macros::date!(2034 - 05 - 17))
        );
        assert!(from(&[("DATABASE_URL", "x"), ("DROP_TODAY", "17.05.2034")]).is_err());
        for stage in ["dev", "prod"] {
            assert!(from(&[
                ("DATABASE_URL", "x"),
                ("DROP_TODAY", "2034-05-17"),
                ("DROP_STAGE", stage)
            ])
            .is_err());
        }
    }

    #[test]
    fn the_mobile_redirect_is_an_https_app_link_outside_local() {
        let local = from(&[("DATABASE_URL", "x")]).unwrap();
        assert_eq!(local.mobile_redirect_uri, "drop://auth/callback");
        let prod = |uri: Option<&str>| {
            let mut vars = vec![("DATABASE_URL", "x"), ("DROP_STAGE", "prod")];
            vars.extend(uri.map(|u| ("DROP_MOBILE_REDIRECT_URI", u)));
            from(&vars)
        };
        assert!(prod(None).is_err());
        assert!(prod(Some("drop://auth/callback")).is_err());
        assert!(prod(Some("http://app.drop.no/auth/callback")).is_err());
        assert_eq!(
            prod(Some("https://app.drop.no/auth/callback"))
                .unwrap()
                .mobile_redirect_uri,
            "https://app.drop.no/auth/callback"
        );
    }

    #[test]
    fn deadlines_default_and_can_be_shortened() {
        let c = from(&[("DATABASE_URL", "x")]).unwrap();
        assert_eq!(c.db_deadlines.operation, std::time::Duration::from_secs(4));
        assert_eq!(
            c.aws_deadlines.rate_limit,
            std::time::Duration::from_secs(1)
        );
        let c = from(&[("DATABASE_URL", "x"), ("DROP_DB_TIMEOUT_MS", "300")]).unwrap();
        assert_eq!(
            c.db_deadlines.operation,
            std::time::Duration::from_millis(300)
        );
        assert!(from(&[("DATABASE_URL", "x"), ("DROP_AWS_TIMEOUT_MS", "0")]).is_err());
        assert!(from(&[("DATABASE_URL", "x"), ("DROP_DB_TIMEOUT_MS", "soon")]).is_err());
    }
}
