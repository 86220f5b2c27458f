//! Lambda entry point: builds the clients once, then hands every event to [`job_migrate::handle`].

use drop_shared::aws::Aws;
use drop_shared::config::Config;
use drop_shared::edge::Base;
use drop_shared::telemetry;
use job_migrate::{handle, Migrator, ResponseSender};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // One connection: migrations run one at a time (the runner also takes an advisory lock).
    let base = Base::new(Config::from_env()?, Aws::from_env(), 1);
    // The migration role's secret is DATABASE_SECRET_ID; the application role's, whose
    // password this function sets, is DATABASE_APP_SECRET_ID.
    let app_secret =
        std::env::var("DATABASE_APP_SECRET_ID").map_err(|_| "DATABASE_APP_SECRET_ID is not set")?;
    let migrator = Migrator::new(base.db.clone(), ResponseSender::new())
        .with_app_role(base.secrets.clone(), app_secret);
    // Boxed: the handler's future is deep (runner, pool, HTTPS client) and unboxed inside the
    // runtime's it overflows the compiler's query depth.
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        Box::pin(handle(&migrator, event))
    }))
    .await
}
