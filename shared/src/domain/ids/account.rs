//! Norwegian bank account number (kontonummer).
//!
//! Eleven digits: bank register number (4), account group (2), customer number (4) and a
//! MOD11 check digit: with s = Σ (5,4,3,2,7,6,5,4,3,2)·d₁…d₁₀ the check digit is
//! 11 − (s mod 11), where 11 becomes 0 and 10 means no account number starts with those ten
//! digits (ECBS, "Norway: bank account number"; python-stdnum `stdnum.no.kontonr` uses the
//! equivalent weights 6,7,8,9,4,5,6,7,8,9 with the check digit s mod 11). Written
//! `86011117947`, `8601.11.17947` or `8601 11 17947`. Legacy seven-digit postgiro numbers
//! (Luhn) are not accepted.

use std::fmt;
use std::str::FromStr;

const WEIGHTS: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// A valid Norwegian account number. Personal data: `Debug` shows only the last four digits,
/// the form the privacy rules allow on screen ([`last4`](Self::last4)).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountNumber([u8; 11]);

/// Why a string is not a Norwegian account number. Messages never repeat the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccountNumberError {
    #[error("an account number contains only digits, optionally grouped by . or spaces")]
    InvalidCharacter,
    #[error("an account number has 11 digits, found {found}")]
    WrongLength { found: usize },
    #[error("an account number is grouped 4.2.5 with one kind of separator")]
    InvalidGrouping,
    #[error("the account number's check digit is wrong")]
    CheckDigit,
}

impl AccountNumber {
    /// The eleven digits without separators.
    pub fn as_str(&self) -> &str {
        super::ascii(&self.0)
    }

    /// The last four digits, for display.
    pub fn last4(&self) -> &str {
        super::last(self.as_str(), 4)
    }
}

impl FromStr for AccountNumber {
    type Err = AccountNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use super::Layout;
        let digits =
            super::read_digits::<11>(s.trim(), &[4, 2, 5], b". ").map_err(|e| match e {
                Layout::Character => AccountNumberError::InvalidCharacter,
                Layout::Length(found) => AccountNumberError::WrongLength { found },
                Layout::Grouping => AccountNumberError::InvalidGrouping,
            })?;
        let d = super::values(&digits);
        if super::mod11_check_digit(&d[..10], &WEIGHTS) != Some(d[10]) {
            return Err(AccountNumberError::CheckDigit);
        }
        Ok(Self(digits))
    }
}

parse_impls!(AccountNumber);
serialize_as_str!(AccountNumber);
string_schema!(
    AccountNumber,
    "^[0-9]{11}$",
    "Norwegian bank account number, 11 digits (MOD11); input may be grouped 4.2.5 by . or spaces",
    "86011117947"
);

impl fmt::Display for AccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountNumber(*******{})", self.last4())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{
        ends_in_mod11, one_digit_mutations, vector_values, vector_weights, with_check_digit_ten,
        with_mod11,
    };
    use super::*;
    use proptest::prelude::*;

    fn err(s: &str) -> AccountNumberError {
        s.parse::<AccountNumber>()
            .err()
            .unwrap_or_else(|| panic!("{s} parsed"))
    }

    #[test]
    fn file_vectors() {
        assert_eq!(vector_weights("kontonummer", "weights"), WEIGHTS);
        for v in vector_values("kontonummer", "valid") {
            assert_eq!(v.parse::<AccountNumber>().unwrap().as_str(), v);
        }
        for v in vector_values("kontonummer", "invalid_checksum") {
            assert_eq!(err(&v), AccountNumberError::CheckDigit, "{v}");
        }
    }

    #[test]
    fn accepted_forms() {
        for s in [
            "86011117947",
            "8601.11.17947",
            "8601 11 17947",
            " 8601.11.17947\n",
        ] {
            let a: AccountNumber = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(a.as_str(), "86011117947");
            assert_eq!(a.last4(), "7947");
            assert_eq!(a.to_string(), "86011117947");
        }
        // Remainder 0: the check digit is 0, not 11.
        assert_eq!(
            "12000000130".parse::<AccountNumber>().unwrap().as_str(),
            "12000000130"
        );
    }

    #[test]
    fn rejections() {
        use AccountNumberError::*;
        // 1200000005 has check digit 10: no account number starts with it.
        for k in 0..=9 {
            assert_eq!(err(&format!("1200000005{k}")), CheckDigit);
        }
        for (s, e) in [
            ("", WrongLength { found: 0 }),
            ("8601111794", WrongLength { found: 10 }),
            ("860111179470", WrongLength { found: 12 }),
            ("8601.11.1794", InvalidGrouping),
            ("8601.11 17947", InvalidGrouping),
            ("86.01.11.17947", InvalidGrouping),
            ("8601-11-17947", InvalidCharacter),
            ("8601l117947", InvalidCharacter),
            ("NO9386011117947", InvalidCharacter),
        ] {
            assert_eq!(err(s), e, "{s:?}");
        }
    }

    #[test]
    fn debug_shows_last_four_only() {
        let a: AccountNumber = "86011117947".parse().unwrap();
        assert_eq!(format!("{a:?}"), "AccountNumber(*******7947)");
    }

    #[test]
    fn serde() {
        let a: AccountNumber = serde_json::from_str("\"8601.11.17947\"").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"86011117947\"");
        assert!(serde_json::from_str::<AccountNumber>("\"86011117949\"").is_err());
        assert_eq!(AccountNumber::try_from("86011117947").unwrap(), a);
    }

    /// Kontonummer weights, as the ECBS register gives them (and as the vector file lists).
    const KONTONUMMER_WEIGHTS: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

    /// A valid account number, built: ten digits, then their MOD11 check digit (prefixes whose
    /// check digit would be 10 have no valid number and are skipped).
    fn valid_account() -> impl Strategy<Value = String> {
        "[0-9]{10}".prop_filter_map("check digit 10", |prefix| {
            with_mod11(&prefix, &KONTONUMMER_WEIGHTS)
        })
    }

    /// Ten digits whose check digit would be 10.
    fn check_digit_ten_prefix() -> impl Strategy<Value = String> {
        "[0-9]{9}".prop_filter_map("no tenth digit fits", |nine| {
            with_check_digit_ten(&nine, &KONTONUMMER_WEIGHTS)
        })
    }

    proptest! {
        #[test]
        fn valid_numbers_parse_in_every_written_form(v in valid_account()) {
            let a: AccountNumber = v.parse().unwrap();
            prop_assert_eq!(a.as_str(), v.as_str());
            prop_assert_eq!(a.last4(), &v[7..]);
            prop_assert_eq!(a.to_string(), v.clone());
            prop_assert_eq!(format!("{a:?}"), format!("AccountNumber(*******{})", &v[7..]));
            for sep in [".", " "] {
                let grouped = format!("{}{sep}{}{sep}{}", &v[..4], &v[4..6], &v[6..]);
                prop_assert_eq!(grouped.parse::<AccountNumber>().unwrap(), a);
            }
            prop_assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{v}\""));
        }

        /// Ten digits whose check digit would be 10 start no account number.
        #[test]
        fn no_number_follows_a_prefix_with_check_digit_ten(prefix in check_digit_ten_prefix()) {
            prop_assert_eq!(with_mod11(&prefix, &KONTONUMMER_WEIGHTS), None);
            for k in 0..=9 {
                let v = format!("{prefix}{k}");
                prop_assert_eq!(v.parse::<AccountNumber>(), Err(AccountNumberError::CheckDigit));
            }
        }

        /// Every weight (and the check digit's implicit 1) is non-zero modulo the prime 11,
        /// so every single-digit change is caught.
        #[test]
        fn one_digit_mutations_are_rejected(v in valid_account()) {
            for m in one_digit_mutations(&v) {
                prop_assert_eq!(m.parse::<AccountNumber>(), Err(AccountNumberError::CheckDigit));
            }
        }

        /// Whatever parses is eleven digits ending in their check digit.
        #[test]
        fn only_valid_numbers_parse(s in any::<String>(), near in "[0-9. ]{0,14}") {
            for input in [&s, &near] {
                if let Ok(a) = input.parse::<AccountNumber>() {
                    let digits: String = input.chars().filter(char::is_ascii_digit).collect();
                    prop_assert_eq!(a.as_str(), digits.as_str());
                    prop_assert!(ends_in_mod11(&digits, &KONTONUMMER_WEIGHTS), "{}", input);
                }
            }
        }
    }
}
