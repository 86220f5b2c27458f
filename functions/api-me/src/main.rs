use drop_shared::{edge::state::LAMBDA_POOL_SIZE, telemetry, AppState};
use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let state = AppState::from_env(LAMBDA_POOL_SIZE)?;
    let router = api_me::router();
    lambda_http::run(service_fn(|req: Request| async {
        Ok::<_, Error>(router.handle(&state, req).await)
    }))
    .await
}
