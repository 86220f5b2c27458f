//! Outbound HTTP and the providers Drop talks to: BankID (OpenID Connect), Sumsub and the
//! open-banking ASPSPs (Berlin Group NextGenPSD2).

pub mod bank;
pub mod bankid;
pub mod outbound;
pub mod sumsub;
