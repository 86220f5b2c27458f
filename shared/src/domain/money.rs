//! Money: an exact decimal amount in a currency, never a float.
//!
//! An amount from a client is parsed from a decimal string (`"1500.00"`), never from a JSON
//! number: `1e3`, `1500.0000001` or `-5` are refused before anything else looks at them.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! currencies {
    ($($code:ident => $minor:expr, $name:expr;)+) => {
        /// ISO 4217 currencies Drop sends or receives.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        pub enum Currency { $($code,)+ }

        impl Currency {
            pub const ALL: &'static [Currency] = &[$(Currency::$code,)+];

            pub fn code(self) -> &'static str {
                match self { $(Currency::$code => stringify!($code),)+ }
            }

            /// Digits after the decimal point in the currency's minor unit (ISO 4217).
            pub fn minor_digits(self) -> u32 {
                match self { $(Currency::$code => $minor,)+ }
            }

            pub fn name(self) -> &'static str {
                match self { $(Currency::$code => $name,)+ }
            }
        }

        impl FromStr for Currency {
            type Err = MoneyError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $(stringify!($code) => Ok(Currency::$code),)+
                    _ => Err(MoneyError::UnsupportedCurrency),
                }
            }
        }
    };
}

currencies! {
    NOK => 2, "Norwegian krone";
    EUR => 2, "Euro";
    SEK => 2, "Swedish krona";
    DKK => 2, "Danish krone";
    ISK => 0, "Icelandic króna";
    PLN => 2, "Polish złoty";
    CZK => 2, "Czech koruna";
    HUF => 2, "Hungarian forint";
    RON => 2, "Romanian leu";
    GBP => 2, "Pound sterling";
    CHF => 2, "Swiss franc";
    USD => 2, "US dollar";
    RSD => 2, "Serbian dinar";
    BAM => 2, "Bosnia and Herzegovina convertible mark";
    TRY => 2, "Turkish lira";
    UAH => 2, "Ukrainian hryvnia";
    PKR => 2, "Pakistani rupee";
    INR => 2, "Indian rupee";
    BDT => 2, "Bangladeshi taka";
    NPR => 2, "Nepalese rupee";
    LKR => 2, "Sri Lankan rupee";
    PHP => 2, "Philippine peso";
    THB => 2, "Thai baht";
    VND => 0, "Vietnamese đồng";
    IQD => 3, "Iraqi dinar";
    NGN => 2, "Nigerian naira";
    KES => 2, "Kenyan shilling";
    ETB => 2, "Ethiopian birr";
    GHS => 2, "Ghanaian cedi";
    MAD => 2, "Moroccan dirham";
    BRL => 2, "Brazilian real";
    COP => 2, "Colombian peso";
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must be a decimal string such as \"1500.00\"")]
    NotADecimalString,
    #[error("amount has more decimals than the currency allows")]
    TooManyDecimals,
    #[error("amount must not be negative")]
    NotPositive,
    #[error("amount is too large")]
    TooLarge,
    #[error("currency is not supported")]
    UnsupportedCurrency,
}

/// An exact, non-negative amount in one currency, with at most the currency's minor digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

/// More than any payment Drop will ever see; keeps arithmetic far from Decimal's limits.
const MAX_INTEGER_DIGITS: usize = 15;

impl Money {
    /// Builds an amount, refusing negatives and more decimals than the currency has.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(MoneyError::NotPositive);
        }
        if amount.normalize().scale() > currency.minor_digits() {
            return Err(MoneyError::TooManyDecimals);
        }
        if amount.trunc().abs().to_string().len() > MAX_INTEGER_DIGITS {
            return Err(MoneyError::TooLarge);
        }
        let mut amount = amount;
        amount.rescale(currency.minor_digits());
        Ok(Self { amount, currency })
    }

    /// Parses a client's decimal string: digits, at most one point, no sign, no exponent.
    pub fn parse(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let (int, frac) = match text.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (text, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || frac.is_some_and(|f| !digits(f)) {
            return Err(MoneyError::NotADecimalString);
        }
        if int.trim_start_matches('0').len() > MAX_INTEGER_DIGITS {
            return Err(MoneyError::TooLarge);
        }
        // Decimal would silently round beyond 28 significant digits: refuse over-precision here.
        if frac.is_some_and(|f| f.trim_end_matches('0').len() > currency.minor_digits() as usize) {
            return Err(MoneyError::TooManyDecimals);
        }
        let value = Decimal::from_str(text).map_err(|_| MoneyError::NotADecimalString)?;
        Self::new(value, currency)
    }

    /// Rounds an exact product down to the currency's minor unit (in the payer's favour).
    pub fn round_down(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        Self::new(
            amount.round_dp_with_strategy(currency.minor_digits(), RoundingStrategy::ToZero),
            currency,
        )
    }

    pub fn zero(currency: Currency) -> Self {
        let mut amount = Decimal::ZERO;
        amount.rescale(currency.minor_digits());
        Self { amount, currency }
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Adds two amounts of the same currency; `None` for different currencies.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        let sum = self.amount.checked_add(other.amount)?;
        Money::new(sum, self.currency).ok()
    }

    /// The amount as the string clients see, with exactly the currency's minor digits.
    pub fn to_amount_string(&self) -> String {
        self.amount.to_string()
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// How money appears in JSON: `{"amount": "1500.00", "currency": "NOK"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MoneyJson {
    /// Decimal string with exactly the currency's minor digits.
    #[schema(example = "1500.00")]
    pub amount: String,
    pub currency: Currency,
}

impl From<Money> for MoneyJson {
    fn from(m: Money) -> Self {
        Self {
            amount: m.to_amount_string(),
            currency: m.currency,
        }
    }
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        MoneyJson::from(*self).serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_plain_decimal_strings_to_the_minor_unit() {
        let m = Money::parse("1500", Currency::NOK).unwrap();
        assert_eq!(m.to_amount_string(), "1500.00");
        assert_eq!(
            Money::parse("0.5", Currency::NOK)
                .unwrap()
                .to_amount_string(),
            "0.50"
        );
        assert_eq!(
            Money::parse("12.345", Currency::IQD)
                .unwrap()
                .to_amount_string(),
            "12.345"
        );
        assert_eq!(
            Money::parse("120", Currency::ISK)
                .unwrap()
                .to_amount_string(),
            "120"
        );
    }

    #[test]
    fn refuses_what_is_not_a_plain_decimal() {
        for bad in [
            "", "1e3", "1E3", "-5", "+5", " 5", "5 ", "1,5", "0x10", ".5", "5.", "NaN", "inf",
            "1.2.3", "١٢",
        ] {
            assert_eq!(
                Money::parse(bad, Currency::NOK),
                Err(MoneyError::NotADecimalString),
                "{bad:?}"
            );
        }
        assert_eq!(
            Money::parse("1.001", Currency::NOK),
            Err(MoneyError::TooManyDecimals)
        );
        assert_eq!(
            Money::parse("1.5", Currency::ISK),
            Err(MoneyError::TooManyDecimals)
        );
        assert_eq!(
            Money::parse("9999999999999999", Currency::NOK),
            Err(MoneyError::TooLarge)
        );
        assert_eq!(
            Money::parse(&"9".repeat(400), Currency::NOK),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn trailing_zeros_beyond_the_minor_unit_are_not_extra_precision() {
        assert_eq!(
            Money::parse("1.5000", Currency::NOK)
                .unwrap()
                .to_amount_string(),
            "1.50"
        );
    }

    #[test]
    fn round_down_never_exceeds_the_exact_value() {
        let m = Money::round_down(dec!(10.999), Currency::EUR).unwrap();
        assert_eq!(m.amount(), dec!(10.99));
        let m = Money::round_down(dec!(1234.9), Currency::VND).unwrap();
        assert_eq!(m.amount(), dec!(1234));
    }

    #[test]
    fn adds_only_the_same_currency() {
        let a = Money::parse("1.10", Currency::NOK).unwrap();
        let b = Money::parse("2.05", Currency::NOK).unwrap();
        assert_eq!(a.checked_add(b).unwrap().to_amount_string(), "3.15");
        assert!(a.checked_add(Money::zero(Currency::EUR)).is_none());
    }

    #[test]
    fn serialises_amount_as_a_string() {
        let m = Money::parse("7", Currency::NOK).unwrap();
        assert_eq!(
            serde_json::to_value(m).unwrap(),
            serde_json::json!({"amount": "7.00", "currency": "NOK"})
        );
    }

    #[test]
    fn currency_codes_round_trip_and_unknown_is_refused() {
        for c in Currency::ALL {
            assert_eq!(c.code().parse::<Currency>().unwrap(), *c);
        }
        assert_eq!(
            "XXX".parse::<Currency>(),
            Err(MoneyError::UnsupportedCurrency)
        );
        assert_eq!(
            "nok".parse::<Currency>(),
            Err(MoneyError::UnsupportedCurrency)
        );
    }

    proptest! {
        #[test]
        fn any_two_decimal_string_round_trips(int in 0u64..10_000_000_000, frac in 0u32..100) {
            let text = format!("{int}.{frac:02}");
            let m = Money::parse(&text, Currency::NOK).unwrap();
            prop_assert_eq!(m.to_amount_string(), text);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = Money::parse(&s, Currency::NOK);
        }
    }
}
