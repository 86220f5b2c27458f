//! Makes the local emulator and database look like a deployed stage: the tables, queues and
//! secrets the SAM template declares, the schema, and demo data.

use drop_shared::config::{Config, DatabaseConfig, Queues};
use drop_shared::provision::{
    ensure_queue, ensure_secret, ensure_table, random_key_hex, ProvisionError, GENERATED_SECRETS,
};
use drop_shared::{migrate, rates};
use time::OffsetDateTime;

/// Creates what is missing and fills `config.queues` with the local queue URLs.
pub async fn prepare(
    sdk: &aws_config::SdkConfig,
    config: &mut Config,
) -> Result<(), ProvisionError> {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);

    ensure_table(&dynamo, &config.rate_limit_table).await?;
    let stage = &config.stage;
    config.queues = Queues {
        payments: Some(ensure_queue(&sqs, &format!("drop-{stage}-payments"), 5).await?),
        aml: Some(ensure_queue(&sqs, &format!("drop-{stage}-aml"), 5).await?),
        retention: Some(ensure_queue(&sqs, &format!("drop-{stage}-retention"), 5).await?),
    };
    for name in GENERATED_SECRETS {
        ensure_secret(
            &secrets,
            &format!("{}{name}", config.secrets_prefix),
            &random_key_hex(),
        )
        .await?;
    }

    let DatabaseConfig::Url(url) = &config.database else {
        return Err("the local server needs DATABASE_URL".into());
    };
    let (mut client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let connection = tokio::spawn(connection);
    let report = migrate::migrate(&mut client).await?;
    tracing::info!(applied = ?report, "migrations");
    seed_demo_data(&client).await?;
    drop(client);
    let _ = connection.await;
    Ok(())
}

/// Demo exchange rates for every corridor (kept if already there).
async fn seed_demo_data(client: &tokio_postgres::Client) -> Result<(), ProvisionError> {
    let now = OffsetDateTime::now_utc();
    for rate in rates::demo_rates(now) {
        rates::insert_rate_if_missing(client, &rate).await?;
    }
    Ok(())
}
