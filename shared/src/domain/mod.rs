//! Pure rules, no I/O: money, identifiers, countries and corridors, pricing and quotes,
//! spending limits, KYC status rules, session claims and open banking (banks, consent and
//! payment statuses, payment products, the Berlin Group amount string).

pub mod accounts;
pub mod bank;
pub mod corridor;
pub mod country;
pub mod ids;
pub mod kyc;
pub mod limits;
pub mod money;
pub mod page;
pub mod quote;
pub mod session;

// A calendar date as JSON: `YYYY-MM-DD` (serde `with = "iso_date"`, or `iso_date::option`).
time::serde::format_description!(pub iso_date, Date, "[year]-[month]-[day]");
