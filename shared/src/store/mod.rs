//! PostgreSQL: the pool, the migration runner, and one module per aggregate. All SQL lives here.

pub mod audit;
pub mod bank_accounts;
pub mod kyc;
pub mod migrate;
pub mod pool;
pub mod profile;
pub mod rates;
pub mod roles;
pub mod sessions;
pub mod users;

pub use pool::{Db, DbError};
