//! Pure rules, no I/O: money, identifiers, countries and corridors, pricing and quotes,
//! spending limits, KYC status rules and session claims.

pub mod accounts;
pub mod corridor;
pub mod country;
pub mod ids;
pub mod kyc;
pub mod limits;
pub mod money;
pub mod page;
pub mod quote;
pub mod session;
