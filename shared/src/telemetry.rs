//! JSON logs, one line per event, with the request id on every request's lines.

use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber once per process. `RUST_LOG` overrides the level (default
/// `info`). Safe to call twice: the second call does nothing.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}
