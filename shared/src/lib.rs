//! Drop's domain crate: every rule, type, store and provider client the functions share.

pub mod aws;
pub mod config;
pub mod corridor;
pub mod crypto;
pub mod country;
pub mod db;
pub mod error;
pub mod http;
pub mod ids;
pub mod migrate;
pub mod money;
pub mod provision;
pub mod quote;
pub mod rate_limit;
pub mod rates;
pub mod secrets;
pub mod session;
pub mod state;
pub mod telemetry;

pub use error::{ApiError, ErrorCode};
pub use state::AppState;
