//! Makes the local emulator and database look like a deployed stage: the tables, queues and
//! secrets the SAM template declares, the schema, and demo data.

use drop_shared::aws::provision::{
    ensure_queue, ensure_secret, ensure_table, random_key_hex, set_secret, ProvisionError,
    GENERATED_SECRETS, PROVIDER_SECRETS, QUEUES, TABLES,
};
use drop_shared::config::{BankIdConfig, Config, DatabaseConfig, Queues};
use drop_shared::store::{migrate, rates, roles};
use time::OffsetDateTime;

/// Creates what is missing and fills `config.queues` with the local queue URLs.
pub async fn prepare(
    sdk: &aws_config::SdkConfig,
    config: &mut Config,
) -> Result<(), ProvisionError> {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);

    let stage = config.stage.clone();
    for suffix in TABLES {
        ensure_table(&dynamo, &format!("drop-{stage}-{suffix}")).await?;
    }
    ensure_table(&dynamo, &config.rate_limit_table).await?;
    ensure_table(&dynamo, &config.login_table).await?;
    ensure_table(&dynamo, &config.balance_cache_table).await?;
    ensure_table(&dynamo, &config.bank_breaker_table).await?;
    let mut urls = Vec::new();
    for spec in QUEUES {
        urls.push(ensure_queue(&sqs, &format!("drop-{stage}-{}", spec.name), spec).await?);
    }
    let [payments, aml, retention] = <[String; 3]>::try_from(urls).map_err(|_| "three queues")?;
    config.queues = Queues {
        payments: Some(payments),
        aml: Some(aml),
        retention: Some(retention),
    };
    for name in GENERATED_SECRETS {
        ensure_secret(
            &secrets,
            &format!("{}{name}", config.secrets_prefix),
            &random_key_hex()?,
        )
        .await?;
    }
    for (name, variable) in PROVIDER_SECRETS {
        let id = format!("{}{name}", config.secrets_prefix);
        match std::env::var(variable).ok().filter(|v| !v.is_empty()) {
            Some(value) => set_secret(&secrets, &id, &value).await?,
            None => ensure_secret(&secrets, &id, &random_key_hex()?).await?,
        }
    }

    let DatabaseConfig::Url(url) = &config.database else {
        return Err("the local server needs DATABASE_URL".into());
    };
    // Migrations run as the schema's owner (DATABASE_MIGRATION_URL, when given); the functions
    // connect as the application role DATABASE_URL names, created and granted here.
    let owner_url = std::env::var("DATABASE_MIGRATION_URL").unwrap_or_else(|_| url.clone());
    let (mut client, connection) =
        tokio_postgres::connect(&owner_url, tokio_postgres::NoTls).await?;
    let connection = tokio::spawn(connection);
    let report = migrate::migrate(&mut client).await?;
    tracing::info!(applied = ?report, "migrations");
    if owner_url != *url {
        roles::grant_app_role(&mut client, &roles::AppRole::from_url(url)?).await?;
    }
    seed_demo_data(&client).await?;
    drop(client);
    let _ = connection.await;
    Ok(())
}

/// Starts the BankID sandbox on `listener` and points `config` at it, unless `BANKID_ISSUER`
/// already names a provider. Its client secret is set in the local Secrets Manager.
pub async fn bankid_sandbox(
    sdk: &aws_config::SdkConfig,
    config: &mut Config,
    listener: tokio::net::TcpListener,
) -> Result<Option<String>, ProvisionError> {
    if config.bankid.is_some() {
        return Ok(None);
    }
    let issuer = format!("http://{}", listener.local_addr()?);
    let client_id = "drop-local".to_owned();
    let client_secret = random_key_hex()?;
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    set_secret(
        &secrets,
        &format!("{}bankid-client-secret", config.secrets_prefix),
        &client_secret,
    )
    .await?;
    let sandbox = bankid_sandbox::SandboxConfig {
        issuer: issuer.clone(),
        client_id: client_id.clone(),
        client_secret,
        redirect_uris: vec![config.bankid_redirect_uri()],
    };
    tokio::spawn(bankid_sandbox::serve(
        listener,
        sandbox,
        std::future::pending(),
    ));
    config.bankid = Some(BankIdConfig {
        issuer: issuer.clone(),
        client_id,
    });
    Ok(Some(issuer))
}

/// Starts the Sumsub sandbox on `listener` and points `config` at it, unless
/// `SUMSUB_BASE_URL` names another endpoint. Its keys and the webhook secret are set in the
/// local Secrets Manager; its webhooks go to this server's `/v1/webhooks/sumsub`, signed with
/// `SUMSUB_WEBHOOK_SECRET` when it is set (so a developer can sign their own), else with one
/// made up here and printed. `DROP_SUMSUB_SANDBOX_STATE` names the file its applicants are kept
/// in across runs.
pub async fn sumsub_sandbox(
    sdk: &aws_config::SdkConfig,
    config: &mut Config,
    listener: tokio::net::TcpListener,
) -> Result<String, ProvisionError> {
    let base_url = format!("http://{}", listener.local_addr()?);
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let (app_token, secret_key) = (random_key_hex()?, random_key_hex()?);
    let webhook_secret = match std::env::var("SUMSUB_WEBHOOK_SECRET")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(secret) => secret,
        None => {
            let secret = random_key_hex()?;
            println!(
                "Sumsub sandbox webhook secret (set SUMSUB_WEBHOOK_SECRET to choose it): {secret}"
            );
            secret
        }
    };
    for (name, value) in [
        ("sumsub-app-token", &app_token),
        ("sumsub-secret-key", &secret_key),
        ("sumsub-webhook-secret", &webhook_secret),
    ] {
        set_secret(&secrets, &format!("{}{name}", config.secrets_prefix), value).await?;
    }
    let sandbox = sumsub_sandbox::SandboxConfig {
        app_token,
        secret_key,
        webhook_url: format!("{}/v1/webhooks/sumsub", config.public_url),
        webhook_secret,
        review_delay: std::time::Duration::from_secs(3),
        state_file: std::env::var_os("DROP_SUMSUB_SANDBOX_STATE").map(Into::into),
    };
    tokio::spawn(sumsub_sandbox::serve(
        listener,
        sandbox,
        std::future::pending(),
    ));
    config.sumsub.base_url = base_url.clone();
    Ok(base_url)
}

/// Starts the sandbox bank on `listener` and points `config` at it (`OPEN_BANKING_BASE_URL`
/// unset). Its payment notifications are signed with a key made up here;
/// `DROP_BANK_SANDBOX_STATE` names the file its consents and payments are kept in across runs.
pub async fn bank_sandbox(
    config: &mut Config,
    listener: tokio::net::TcpListener,
) -> Result<String, ProvisionError> {
    let base_url = format!("http://{}", listener.local_addr()?);
    let sandbox = bank_sandbox::SandboxConfig {
        public_url: base_url.clone(),
        notification_secret: random_key_hex()?,
        state_file: std::env::var_os("DROP_BANK_SANDBOX_STATE").map(Into::into),
        ..bank_sandbox::SandboxConfig::default()
    };
    tokio::spawn(bank_sandbox::serve(
        listener,
        sandbox,
        std::future::pending(),
    ));
    config.open_banking_base_url = Some(base_url.clone());
    Ok(base_url)
}

/// Demo exchange rates for every corridor (kept if already there).
async fn seed_demo_data(client: &tokio_postgres::Client) -> Result<(), ProvisionError> {
    let now = OffsetDateTime::now_utc();
    for rate in rates::demo_rates(now) {
        rates::insert_rate_if_missing(client, &rate).await?;
    }
    Ok(())
}
