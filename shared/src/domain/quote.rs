//! Pricing a remittance: the fee, the exchange rate the customer gets, and what arrives.
//!
//! Every figure the customer must see before paying (EU Regulation 2021/1230): the amount
//! sent, the fee, the total charged, the reference rate, the customer's rate, the mark-up of
//! the one over the other in percent, the amount the recipient gets, and until when it holds.

use crate::domain::corridor::Corridor;
use crate::domain::money::{Currency, Money};
use rust_decimal::{Decimal, RoundingStrategy};
use time::{Duration, OffsetDateTime};

/// Currency every payment is sent in: Drop's users pay from Norwegian accounts.
pub const SEND_CURRENCY: Currency = Currency::NOK;

/// The product's limits and prices for a remittance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricingPolicy {
    /// Fee as a fraction of the amount sent (0.005 = 0.5 %).
    pub fee_rate: Decimal,
    pub min_send: Decimal,
    pub max_send: Decimal,
    /// How long a quote is honoured.
    pub quote_ttl: Duration,
}

impl Default for PricingPolicy {
    fn default() -> Self {
        Self {
            fee_rate: Decimal::new(5, 3),
            min_send: Decimal::from(100),
            max_send: Decimal::from(50_000),
            quote_ttl: Duration::minutes(10),
        }
    }
}

/// A reference rate for NOK → `currency`, with the mark-up configured for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRate {
    pub currency: Currency,
    /// Units of `currency` for one NOK.
    pub reference_rate: Decimal,
    /// Mark-up in basis points (1/100 of a percent) taken off the reference rate.
    pub markup_bps: u32,
    pub source: String,
    pub as_of: OffsetDateTime,
}

impl ExchangeRate {
    /// Decimal places of the customer's rate.
    pub const RATE_DP: u32 = 6;

    /// The rate the customer gets: the reference rate less the mark-up, rounded down.
    pub fn customer_rate(&self) -> Decimal {
        let keep = Decimal::from(10_000u32.saturating_sub(self.markup_bps)) / Decimal::from(10_000);
        (self.reference_rate * keep)
            .round_dp_with_strategy(Self::RATE_DP, RoundingStrategy::ToZero)
            .normalize()
    }

    /// The mark-up actually applied, in percent of the reference rate, rounded up to 2
    /// decimals so the disclosure never understates it.
    pub fn markup_percent(&self) -> Decimal {
        let mut percent = if self.reference_rate.is_zero() {
            Decimal::ZERO
        } else {
            ((self.reference_rate - self.customer_rate()) / self.reference_rate
                * Decimal::ONE_HUNDRED)
                .round_dp_with_strategy(2, RoundingStrategy::AwayFromZero)
        };
        percent.rescale(2);
        percent
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("payments are sent in NOK")]
    WrongSendCurrency,
    #[error("the amount must be between {min} and {max} NOK")]
    OutOfRange { min: Decimal, max: Decimal },
    #[error("the exchange rate is for {rate} but the corridor pays out {corridor}")]
    RateMismatch { rate: Currency, corridor: Currency },
    #[error("the exchange rate is not positive")]
    BadRate,
}

/// The priced terms of one remittance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteTerms {
    pub corridor: Corridor,
    pub send: Money,
    pub fee: Money,
    pub total_charged: Money,
    pub reference_rate: Decimal,
    pub customer_rate: Decimal,
    pub markup_percent: Decimal,
    pub receive: Money,
    pub rate_source: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl QuoteTerms {
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }
}

impl PricingPolicy {
    /// Checks the amount sent against the product's limits.
    pub fn check_send_amount(&self, send: Money) -> Result<(), PricingError> {
        if send.currency() != SEND_CURRENCY {
            return Err(PricingError::WrongSendCurrency);
        }
        if send.amount() < self.min_send || send.amount() > self.max_send {
            return Err(PricingError::OutOfRange {
                min: self.min_send,
                max: self.max_send,
            });
        }
        Ok(())
    }

    /// The fee on `send`, rounded down to the øre.
    pub fn fee(&self, send: Money) -> Result<Money, PricingError> {
        Money::round_down(send.amount() * self.fee_rate, send.currency())
            .map_err(|_| PricingError::BadRate)
    }

    pub fn price(
        &self,
        send: Money,
        corridor: Corridor,
        rate: &ExchangeRate,
        now: OffsetDateTime,
    ) -> Result<QuoteTerms, PricingError> {
        self.check_send_amount(send)?;
        if rate.currency != corridor.currency {
            return Err(PricingError::RateMismatch {
                rate: rate.currency,
                corridor: corridor.currency,
            });
        }
        if rate.reference_rate <= Decimal::ZERO {
            return Err(PricingError::BadRate);
        }
        let fee = self.fee(send)?;
        let total_charged = send.checked_add(fee).ok_or(PricingError::BadRate)?;
        let customer_rate = rate.customer_rate();
        let receive = Money::round_down(send.amount() * customer_rate, corridor.currency)
            .map_err(|_| PricingError::BadRate)?;
        Ok(QuoteTerms {
            corridor,
            send,
            fee,
            total_charged,
            reference_rate: rate.reference_rate,
            customer_rate,
            markup_percent: rate.markup_percent(),
            receive,
            rate_source: rate.source.clone(),
            created_at: now,
            expires_at: now + self.quote_ttl,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;
    use time::macros::datetime;

    fn corridor(code: &str) -> Corridor {
        Corridor::find(code.parse().unwrap()).unwrap()
    }

    fn rate(currency: Currency, reference: Decimal, markup_bps: u32) -> ExchangeRate {
        ExchangeRate {
            currency,
            reference_rate: reference,
            markup_bps,
            source: "test".into(),
            as_of: datetime!(2026-11-20 16:00 UTC),
        }
    }

    fn nok(s: &str) -> Money {
        Money::parse(s, Currency::NOK).unwrap()
    }

    #[test]
    fn prices_a_euro_remittance() {
        let now = datetime!(2026-11-22 10:00 UTC);
        let q = PricingPolicy::default()
            .price(
                nok("1000"),
                corridor("HR"),
                &rate(Currency::EUR, dec!(0.085), 150),
                now,
            )
            .unwrap();
        assert_eq!(q.fee, nok("5.00"));
        assert_eq!(q.total_charged, nok("1005.00"));
        assert_eq!(q.customer_rate, dec!(0.083725));
        assert_eq!(q.markup_percent, dec!(1.50));
        assert_eq!(q.receive.to_amount_string(), "83.72");
        assert_eq!(q.receive.currency(), Currency::EUR);
        assert_eq!(q.expires_at, datetime!(2026-11-22 10:10 UTC));
        assert!(!q.is_expired_at(datetime!(2026-11-22 10:09:59 UTC)));
        assert!(q.is_expired_at(datetime!(2026-11-22 10:10 UTC)));
    }

    #[test]
    fn fee_is_half_a_percent_rounded_down_to_the_ore() {
        let p = PricingPolicy::default();
        assert_eq!(p.fee(nok("100")).unwrap(), nok("0.50"));
        assert_eq!(p.fee(nok("123.45")).unwrap(), nok("0.61"));
        assert_eq!(p.fee(nok("50000")).unwrap(), nok("250.00"));
    }

    #[test]
    fn limits_are_inclusive_100_to_50000_nok() {
        let p = PricingPolicy::default();
        assert!(p.check_send_amount(nok("100")).is_ok());
        assert!(p.check_send_amount(nok("50000")).is_ok());
        assert!(matches!(
            p.check_send_amount(nok("99.99")),
            Err(PricingError::OutOfRange { .. })
        ));
        assert!(matches!(
            p.check_send_amount(nok("50000.01")),
            Err(PricingError::OutOfRange { .. })
        ));
        let eur = Money::parse("500", Currency::EUR).unwrap();
        assert_eq!(
            p.check_send_amount(eur),
            Err(PricingError::WrongSendCurrency)
        );
    }

    #[test]
    fn refuses_a_rate_for_another_currency_or_a_zero_rate() {
        let p = PricingPolicy::default();
        let now = datetime!(2026-11-22 10:00 UTC);
        assert!(matches!(
            p.price(
                nok("500"),
                corridor("PL"),
                &rate(Currency::EUR, dec!(0.085), 0),
                now
            ),
            Err(PricingError::RateMismatch { .. })
        ));
        assert_eq!(
            p.price(
                nok("500"),
                corridor("PL"),
                &rate(Currency::PLN, dec!(0), 0),
                now
            ),
            Err(PricingError::BadRate)
        );
    }

    #[test]
    fn zero_minor_unit_currencies_get_whole_units() {
        let q = PricingPolicy::default()
            .price(
                nok("1000"),
                corridor("VN"),
                &rate(Currency::VND, dec!(2345.678), 200),
                datetime!(2026-11-22 10:00 UTC),
            )
            .unwrap();
        assert_eq!(q.receive.to_amount_string(), "2298764");
    }

    proptest! {
        /// Every figure from the rules written out, in whole minor units: customer rate =
        /// reference × (1 − mark-up), cut to 6 decimals; fee = 0.5 % of the amount sent,
        /// rounded down to the øre; total = sent + fee; received = sent × customer rate,
        /// rounded down to the payout currency's minor unit (PKR 2 decimals, VND none, ISO
        /// 4217); mark-up shown = (reference − customer rate) / reference in percent, rounded
        /// up to 2 decimals.
        #[test]
        fn every_figure_follows_the_pricing_rules(
            ore in 10_000i64..=5_000_000,
            micro_rate in 1i64..=100_000_000,
            markup in 0u32..=500,
            (country, currency, minor_digits) in prop_oneof![
                Just(("PK", Currency::PKR, 2u32)),
                Just(("VN", Currency::VND, 0u32)),
            ],
        ) {
            let send = Money::new(Decimal::new(ore, 2), Currency::NOK).unwrap();
            let reference = Decimal::new(micro_rate, 6);
            let r = rate(currency, reference, markup);
            let q = PricingPolicy::default()
                .price(send, corridor(country), &r, datetime!(2026-11-22 10:00 UTC))
                .unwrap();

            let million = Decimal::from(1_000_000);
            let keep = Decimal::ONE - Decimal::from(markup) / Decimal::from(10_000);
            let customer_rate = (reference * keep * million).floor() / million;
            prop_assert_eq!(q.customer_rate, customer_rate);

            let fee = (Decimal::from(ore) * dec!(0.005)).floor() / Decimal::ONE_HUNDRED;
            prop_assert_eq!(q.fee.amount(), fee);
            prop_assert_eq!(q.total_charged.amount(), send.amount() + fee);

            let minor = Decimal::from(10i64.pow(minor_digits));
            let receive = (send.amount() * customer_rate * minor).floor() / minor;
            prop_assert_eq!(q.receive.amount(), receive);
            prop_assert_eq!(q.receive.currency(), currency);

            let markup_shown = ((reference - customer_rate) / reference * dec!(10_000)).ceil()
                / Decimal::ONE_HUNDRED;
            prop_assert_eq!(q.markup_percent, markup_shown);
            prop_assert_eq!(q.reference_rate, reference);
        }
    }
}
