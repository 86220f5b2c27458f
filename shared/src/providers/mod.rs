//! Outbound HTTP and the providers Drop talks to: BankID (OpenID Connect) and Sumsub.

pub mod bankid;
pub mod outbound;
pub mod sumsub;
