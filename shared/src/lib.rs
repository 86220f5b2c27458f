//! Drop's domain crate: every rule, type, store and provider client the functions share.
//!
//! Laid out by layer, each importing only from those above it in this list:
//! - [`error`], [`config`], [`clock`], [`crypto`], [`secret`], [`telemetry`]: what every layer uses;
//! - [`domain`]: pure rules, no I/O;
//! - [`aws`]: secrets, rate limiter, webhook ledger, login state, the bank circuit breaker,
//!   provisioning;
//! - [`store`]: PostgreSQL, all SQL (the pool reads its password through [`aws::secrets`]);
//! - [`providers`]: outbound HTTP, BankID, Sumsub;
//! - [`edge`]: the HTTP edge the functions sit on.

pub mod aws;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod edge;
pub mod error;
pub mod providers;
pub mod secret;
pub mod store;
pub mod telemetry;

pub use error::{ApiError, ErrorCode};
