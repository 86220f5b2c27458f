//! The exchange-rate and quote store.

use crate::domain::money::Currency;
use crate::domain::quote::{ExchangeRate, QuoteTerms, SEND_CURRENCY};
use crate::store::pool::{Db, DbError};
use rust_decimal::Decimal;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::RwLock;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Row};
use uuid::Uuid;

const RATE_COLUMNS: &str = "quote_currency::text, reference_rate, markup_bps, source, as_of";

fn rate_from_row(row: &Row) -> Option<ExchangeRate> {
    let currency: String = row.try_get(0).ok()?;
    Some(ExchangeRate {
        currency: currency.parse().ok()?,
        reference_rate: row.try_get::<_, rust_decimal::Decimal>(1).ok()?.normalize(),
        markup_bps: u32::try_from(row.try_get::<_, i32>(2).ok()?).ok()?,
        source: row.try_get(3).ok()?,
        as_of: row.try_get(4).ok()?,
    })
}

/// Every current NOK rate, by currency (a read retried once if the connection is lost). A
/// row this code cannot read is skipped and logged.
pub async fn current_rates(db: &Db) -> Result<Vec<ExchangeRate>, DbError> {
    let sql = format!("SELECT {RATE_COLUMNS} FROM exchange_rates WHERE base_currency = $1 ORDER BY quote_currency");
    let rows = db
        .read(&sql, &[(&SEND_CURRENCY.code(), Type::TEXT)])
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let rate = rate_from_row(row);
            if rate.is_none() {
                tracing::warn!(
                    "skipping an exchange_rates row with an unsupported currency or value"
                );
            }
            rate
        })
        .collect())
}

/// The current NOK → `currency` rate, if there is one.
pub async fn current_rate(
    conn: &Client,
    currency: Currency,
) -> Result<Option<ExchangeRate>, tokio_postgres::Error> {
    let sql = format!("SELECT {RATE_COLUMNS} FROM exchange_rates WHERE base_currency = $1 AND quote_currency = $2");
    let row = conn
        .query_typed(
            &sql,
            &[
                (&SEND_CURRENCY.code(), Type::TEXT),
                (&currency.code(), Type::TEXT),
            ],
        )
        .await?;
    Ok(row.first().and_then(rate_from_row))
}

/// Sets the current rate for NOK → `rate.currency`.
pub async fn upsert_rate(conn: &Client, rate: &ExchangeRate) -> Result<(), tokio_postgres::Error> {
    write_rate(
        conn,
        rate,
        "DO UPDATE SET reference_rate = EXCLUDED.reference_rate, markup_bps = EXCLUDED.markup_bps,
                                         source = EXCLUDED.source, as_of = EXCLUDED.as_of",
    )
    .await
}

/// Sets the rate only where there is none yet (demo data never overwrites a real rate).
pub async fn insert_rate_if_missing(
    conn: &Client,
    rate: &ExchangeRate,
) -> Result<(), tokio_postgres::Error> {
    write_rate(conn, rate, "DO NOTHING").await
}

async fn write_rate(
    conn: &Client,
    rate: &ExchangeRate,
    on_conflict: &str,
) -> Result<(), tokio_postgres::Error> {
    let markup = i32::try_from(rate.markup_bps).unwrap_or(i32::MAX);
    let sql = format!(
        "INSERT INTO exchange_rates (base_currency, quote_currency, reference_rate, markup_bps, source, as_of)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (base_currency, quote_currency) {on_conflict}"
    );
    conn.query_typed(
        &sql,
        &[
            (&SEND_CURRENCY.code(), Type::TEXT),
            (&rate.currency.code(), Type::TEXT),
            (&rate.reference_rate, Type::NUMERIC),
            (&markup, Type::INT4),
            (&rate.source, Type::TEXT),
            (&rate.as_of, Type::TIMESTAMPTZ),
        ],
    )
    .await?;
    Ok(())
}

/// Stores priced terms so a payment can honour them until they expire; returns the quote id.
pub async fn insert_quote(
    conn: &Client,
    terms: &QuoteTerms,
    user_id: Option<Uuid>,
) -> Result<Uuid, tokio_postgres::Error> {
    let id = Uuid::now_v7();
    conn.query_typed(
        "INSERT INTO quotes (id, user_id, destination_country, send_amount, send_currency, fee, total_charged,
                             reference_rate, customer_rate, markup_percent, receive_amount, receive_currency,
                             rate_source, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        &[
            (&id, Type::UUID),
            (&user_id, Type::UUID),
            (&terms.corridor.country.as_str(), Type::TEXT),
            (&terms.send.amount(), Type::NUMERIC),
            (&terms.send.currency().code(), Type::TEXT),
            (&terms.fee.amount(), Type::NUMERIC),
            (&terms.total_charged.amount(), Type::NUMERIC),
            (&terms.reference_rate, Type::NUMERIC),
            (&terms.customer_rate, Type::NUMERIC),
            (&terms.markup_percent, Type::NUMERIC),
            (&terms.receive.amount(), Type::NUMERIC),
            (&terms.receive.currency().code(), Type::TEXT),
            (&terms.rate_source, Type::TEXT),
            (&terms.created_at, Type::TIMESTAMPTZ),
            (&terms.expires_at, Type::TIMESTAMPTZ),
        ],
    )
    .await?;
    Ok(id)
}

/// The public rate list, kept per instance for a few seconds: it changes when treasury sets a
/// new rate, not per request. Quotes never use it; they read the current rate when priced.
pub struct RateBoard {
    ttl: Duration,
    cached: RwLock<Option<(Instant, Arc<Vec<ExchangeRate>>)>>,
}

impl RateBoard {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            cached: RwLock::new(None),
        }
    }

    /// The current rates, from the cache while it is fresh, else from the database (one
    /// caller loads; concurrent callers wait for it).
    pub async fn current(&self, db: &Db) -> Result<Arc<Vec<ExchangeRate>>, crate::ApiError> {
        if let Some((at, rates)) = self.cached.read().await.as_ref() {
            if at.elapsed() < self.ttl {
                return Ok(rates.clone());
            }
        }
        let mut cached = self.cached.write().await;
        if let Some((at, rates)) = cached.as_ref() {
            if at.elapsed() < self.ttl {
                return Ok(rates.clone());
            }
        }
        let rates = Arc::new(current_rates(db).await?);
        *cached = Some((Instant::now(), rates.clone()));
        Ok(rates)
    }
}

/// Demo reference rates (units per NOK) and mark-ups for every payout currency, for local
/// runs and tests. Not market data.
pub fn demo_rates(as_of: OffsetDateTime) -> Vec<ExchangeRate> {
    use Currency as C;
    let table: &[(Currency, i64, u32, u32)] = &[
        // (currency, mantissa, scale, mark-up bps)
        (C::EUR, 85, 3, 100),
        (C::SEK, 94, 2, 100),
        (C::DKK, 64, 2, 100),
        (C::ISK, 122, 1, 150),
        (C::PLN, 36, 2, 120),
        (C::RON, 43, 2, 150),
        (C::GBP, 74, 3, 100),
        (C::CHF, 79, 3, 100),
        (C::USD, 98, 3, 100),
        (C::RSD, 995, 2, 200),
        (C::BAM, 166, 3, 200),
        (C::TRY, 41, 1, 250),
        (C::UAH, 405, 2, 250),
        (C::PKR, 275, 1, 250),
        (C::INR, 83, 1, 200),
        (C::BDT, 119, 1, 250),
        (C::NPR, 133, 1, 250),
        (C::LKR, 292, 1, 250),
        (C::PHP, 57, 1, 200),
        (C::THB, 32, 1, 150),
        (C::VND, 2500, 0, 250),
        (C::IQD, 128, 0, 300),
        (C::NGN, 145, 0, 300),
        (C::KES, 126, 1, 300),
        (C::ETB, 135, 1, 300),
        (C::GHS, 12, 1, 300),
        (C::MAD, 91, 2, 200),
        (C::BRL, 53, 2, 200),
        (C::COP, 390, 0, 250),
    ];
    table
        .iter()
        .map(|&(currency, mantissa, scale, markup_bps)| ExchangeRate {
            currency,
            reference_rate: Decimal::new(mantissa, scale),
            markup_bps,
            source: "demo".into(),
            as_of,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_is_a_demo_rate_for_every_payout_currency_and_no_other() {
        let rates = demo_rates(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(
            rates.len(),
            crate::domain::corridor::payout_currencies().len()
        );
        for currency in crate::domain::corridor::payout_currencies() {
            assert!(rates.iter().any(|r| r.currency == currency), "{currency}");
        }
        assert!(rates
            .iter()
            .all(|r| r.reference_rate > Decimal::ZERO && r.markup_bps <= 1000));
    }
}
