//! Spending limits: what a user may send per day and per month, at most the product's caps.

use crate::domain::money::{Currency, Money};
use rust_decimal::Decimal;

/// The product's caps, and the limits a user has until they choose their own.
pub const MAX_DAILY_NOK: i64 = 100_000;
pub const MAX_MONTHLY_NOK: i64 = 300_000;
pub const DEFAULT_DAILY_NOK: i64 = 50_000;
pub const DEFAULT_MONTHLY_NOK: i64 = 150_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpendingLimits {
    pub daily: Money,
    pub monthly: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("a limit must be greater than zero")]
    NotPositive,
    #[error("the daily limit can be at most {MAX_DAILY_NOK} NOK")]
    DailyAboveCap,
    #[error("the monthly limit can be at most {MAX_MONTHLY_NOK} NOK")]
    MonthlyAboveCap,
    #[error("the daily limit cannot exceed the monthly limit")]
    DailyAboveMonthly,
}

fn nok(units: i64) -> Money {
    Money::new(Decimal::from(units), Currency::NOK).unwrap_or_else(|_| Money::zero(Currency::NOK))
}

impl SpendingLimits {
    pub fn product_default() -> Self {
        Self {
            daily: nok(DEFAULT_DAILY_NOK),
            monthly: nok(DEFAULT_MONTHLY_NOK),
        }
    }

    pub fn caps() -> Self {
        Self {
            daily: nok(MAX_DAILY_NOK),
            monthly: nok(MAX_MONTHLY_NOK),
        }
    }

    /// Limits a user may choose: positive, within the caps, daily within monthly.
    pub fn new(daily: Money, monthly: Money) -> Result<Self, LimitError> {
        if daily.amount() <= Decimal::ZERO || monthly.amount() <= Decimal::ZERO {
            return Err(LimitError::NotPositive);
        }
        let caps = Self::caps();
        if daily.amount() > caps.daily.amount() {
            return Err(LimitError::DailyAboveCap);
        }
        if monthly.amount() > caps.monthly.amount() {
            return Err(LimitError::MonthlyAboveCap);
        }
        if daily.amount() > monthly.amount() {
            return Err(LimitError::DailyAboveMonthly);
        }
        Ok(Self { daily, monthly })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s, Currency::NOK).unwrap()
    }

    #[test]
    fn limits_are_positive_within_caps_and_ordered() {
        assert!(SpendingLimits::new(m("1000"), m("5000")).is_ok());
        assert!(SpendingLimits::new(m("100000"), m("300000")).is_ok());
        assert_eq!(
            SpendingLimits::new(m("0"), m("5000")),
            Err(LimitError::NotPositive)
        );
        assert_eq!(
            SpendingLimits::new(m("100000.01"), m("300000")),
            Err(LimitError::DailyAboveCap)
        );
        assert_eq!(
            SpendingLimits::new(m("1000"), m("300000.01")),
            Err(LimitError::MonthlyAboveCap)
        );
        assert_eq!(
            SpendingLimits::new(m("6000"), m("5000")),
            Err(LimitError::DailyAboveMonthly)
        );
        let d = SpendingLimits::product_default();
        assert_eq!(SpendingLimits::new(d.daily, d.monthly), Ok(d));
    }
}
