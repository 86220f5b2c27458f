use drop_shared::edge::Base;
use drop_shared::telemetry;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    lambda_http::run(api_accounts::app(&Base::from_env()?)).await
}
