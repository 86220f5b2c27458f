//! Drop's domain crate: every rule, type, store and provider client the functions share.

pub mod audit;
pub mod auth;
pub mod aws;
pub mod config;
pub mod corridor;
pub mod country;
pub mod crypto;
pub mod db;
pub mod error;
pub mod http;
pub mod ids;
pub mod kyc;
pub mod limits;
pub mod login;
pub mod migrate;
pub mod money;
pub mod oidc;
pub mod outbound;
pub mod provision;
pub mod quote;
pub mod rate_limit;
pub mod rates;
pub mod secrets;
pub mod serve;
pub mod session;
pub mod state;
pub mod sumsub;
pub mod telemetry;
pub mod users;
pub mod webhooks;

pub use error::{ApiError, ErrorCode};
pub use state::AppState;
