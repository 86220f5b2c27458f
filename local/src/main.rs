use drop_local::{provision, LocalApi};
use drop_shared::edge::Base;
use drop_shared::{aws::Aws, config::Config, telemetry};
use std::process::ExitCode;
use tokio::net::TcpListener;

/// The local server handles many requests at once, unlike one Lambda instance.
const LOCAL_POOL_SIZE: usize = 16;

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("drop-local: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let port: u16 = std::env::var("DROP_PORT")
        .ok()
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(3001);
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut config = Config::from_env()?;
    provision::prepare(&sdk, &mut config).await?;
    let sandbox_port: u16 = std::env::var("DROP_BANKID_SANDBOX_PORT")
        .ok()
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(port + 1);
    let sumsub = match std::env::var("SUMSUB_BASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(_) => None,
        None => {
            let sumsub_port: u16 = std::env::var("DROP_SUMSUB_SANDBOX_PORT")
                .ok()
                .map(|p| p.parse())
                .transpose()?
                .unwrap_or(port + 2);
            Some(
                provision::sumsub_sandbox(
                    &sdk,
                    &mut config,
                    TcpListener::bind(("127.0.0.1", sumsub_port)).await?,
                )
                .await?,
            )
        }
    };
    let bank = match config.open_banking_base_url {
        Some(_) => None,
        None => {
            let bank_port: u16 = std::env::var("DROP_BANK_SANDBOX_PORT")
                .ok()
                .map(|p| p.parse())
                .transpose()?
                .unwrap_or(port + 5);
            Some(
                provision::bank_sandbox(
                    &mut config,
                    TcpListener::bind(("127.0.0.1", bank_port)).await?,
                )
                .await?,
            )
        }
    };
    let sandbox = match config.bankid {
        Some(_) => None,
        None => {
            provision::bankid_sandbox(
                &sdk,
                &mut config,
                TcpListener::bind(("127.0.0.1", sandbox_port)).await?,
            )
            .await?
        }
    };
    let base = Base::new(config, Aws::from_sdk(&sdk), LOCAL_POOL_SIZE);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let routes = drop_local::openapi()
        .paths
        .paths
        .values()
        .map(item_operations)
        .sum::<usize>();
    println!("Drop API ready on http://127.0.0.1:{port} ({routes} routes; try /v1/health, /v1/corridors, /v1/openapi.json)");
    match sandbox {
        Some(issuer) => println!(
            "BankID sandbox on {issuer}: sign in at http://127.0.0.1:{port}/v1/auth/bankid/start"
        ),
        None => println!("BankID: the provider in BANKID_ISSUER"),
    }
    match sumsub {
        Some(url) => println!(
            "Sumsub sandbox on {url}: POST /v1/kyc/start, and a review webhook follows in 3 s"
        ),
        None => println!(
            "Sumsub: {}",
            std::env::var("SUMSUB_BASE_URL").unwrap_or_default()
        ),
    }
    match bank {
        Some(url) => println!(
            "Sandbox bank on {url} (DNB, SpareBank 1, Nordea look-alikes): POST /v1/accounts/consents, then approve at its SCA page as PSU-Successful"
        ),
        None => println!(
            "Open banking: {}",
            std::env::var("OPEN_BANKING_BASE_URL").unwrap_or_default()
        ),
    }
    LocalApi::new(base).run(listener, shutdown_signal()).await;
    Ok(())
}

/// Ctrl-C or SIGTERM (what `cargo xtask dev` sends when it stops).
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

fn item_operations(item: &utoipa::openapi::PathItem) -> usize {
    [
        &item.get,
        &item.put,
        &item.post,
        &item.delete,
        &item.patch,
        &item.head,
        &item.options,
        &item.trace,
    ]
    .iter()
    .filter(|op| op.is_some())
    .count()
}
