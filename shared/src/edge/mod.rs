//! The HTTP edge: routing, request ids, body limits, rate limits, authentication and the
//! error envelope.

pub mod auth;
pub mod router;
pub mod serve;
pub mod state;

pub use router::*;
