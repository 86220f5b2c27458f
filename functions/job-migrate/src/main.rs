//! Lambda entry point: builds the clients once, then hands every event to [`job_migrate::handle`].

use drop_shared::{telemetry, AppState};
use job_migrate::{handle, Migrator, ResponseSender};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // One connection: migrations run one at a time (the runner also takes an advisory lock).
    let state = AppState::from_env(1)?;
    let migrator = Migrator::new(state.db.clone(), ResponseSender::new());
    // Boxed: the handler's future is deep (runner, pool, HTTPS client) and unboxed inside the
    // runtime's it overflows the compiler's query depth.
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        Box::pin(handle(&migrator, event))
    }))
    .await
}
