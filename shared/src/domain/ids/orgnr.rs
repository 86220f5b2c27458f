//! Norwegian organisation number (organisasjonsnummer), from Enhetsregisteret.
//!
//! Nine digits starting with 8 or 9, the last a MOD11 check digit: with
//! s = Σ (3,2,7,6,5,4,3,2)·d₁…d₈ the check digit is 11 − (s mod 11), where 11 becomes 0 and 10
//! means no number starts with those eight digits (Brønnøysundregistrene; python-stdnum
//! `stdnum.no.orgnr`). Written `988077917` or `988 077 917`.

use std::fmt;
use std::str::FromStr;

const WEIGHTS: [u32; 8] = [3, 2, 7, 6, 5, 4, 3, 2];

/// A valid organisation number. Public register data, so `Debug` shows it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrganisationNumber([u8; 9]);

/// Why a string is not an organisation number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OrganisationNumberError {
    #[error("an organisation number contains only digits, optionally grouped 3 3 3 by spaces")]
    InvalidCharacter,
    #[error("an organisation number has 9 digits, found {found}")]
    WrongLength { found: usize },
    #[error("an organisation number is grouped 3 3 3 by single spaces")]
    InvalidGrouping,
    #[error("an organisation number starts with 8 or 9")]
    FirstDigit,
    #[error("the organisation number's check digit is wrong")]
    CheckDigit,
}

impl OrganisationNumber {
    /// The nine digits without separators.
    pub fn as_str(&self) -> &str {
        super::ascii(&self.0)
    }
}

impl FromStr for OrganisationNumber {
    type Err = OrganisationNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use super::Layout;
        let digits = super::read_digits::<9>(s.trim(), &[3, 3, 3], b" ").map_err(|e| match e {
            Layout::Character => OrganisationNumberError::InvalidCharacter,
            Layout::Length(found) => OrganisationNumberError::WrongLength { found },
            Layout::Grouping => OrganisationNumberError::InvalidGrouping,
        })?;
        if !matches!(digits[0], b'8' | b'9') {
            return Err(OrganisationNumberError::FirstDigit);
        }
        let d = super::values(&digits);
        if super::mod11_check_digit(&d[..8], &WEIGHTS) != Some(d[8]) {
            return Err(OrganisationNumberError::CheckDigit);
        }
        Ok(Self(digits))
    }
}

parse_impls!(OrganisationNumber);
serialize_as_str!(OrganisationNumber);
string_schema!(
    OrganisationNumber,
    "^[89][0-9]{8}$",
    "Norwegian organisation number, 9 digits (MOD11); input may be grouped 3 3 3 by spaces",
    "988077917"
);

impl fmt::Display for OrganisationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for OrganisationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrganisationNumber({})", self.as_str())
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

    fn err(s: &str) -> OrganisationNumberError {
        s.parse::<OrganisationNumber>()
            .err()
            .unwrap_or_else(|| panic!("{s} parsed"))
    }

    #[test]
    fn file_vectors() {
        assert_eq!(vector_weights("orgnr", "weights"), WEIGHTS);
        for v in vector_values("orgnr", "valid") {
            assert_eq!(v.parse::<OrganisationNumber>().unwrap().as_str(), v);
        }
        for v in vector_values("orgnr", "invalid_checksum") {
            assert_eq!(err(&v), OrganisationNumberError::CheckDigit, "{v}");
        }
    }

    #[test]
    fn accepted_forms() {
        for s in ["988077917", "988 077 917", " 988077917 "] {
            let o: OrganisationNumber = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(o.as_str(), "988077917");
            assert_eq!(o.to_string(), "988077917");
            assert_eq!(format!("{o:?}"), "OrganisationNumber(988077917)");
        }
        // Remainder 0: the check digit is 0, not 11.
        assert_eq!(
            "900000030".parse::<OrganisationNumber>().unwrap().as_str(),
            "900000030"
        );
    }

    #[test]
    fn rejections() {
        use OrganisationNumberError::*;
        // 90000009 has check digit 10: no organisation number starts with it.
        for k in 0..=9 {
            assert_eq!(err(&format!("90000009{k}")), CheckDigit);
        }
        for (s, e) in [
            ("", WrongLength { found: 0 }),
            ("98807791", WrongLength { found: 8 }),
            ("9880779170", WrongLength { found: 10 }),
            ("700000001", FirstDigit), // check digit right, first digit not
            ("988 07 7917", InvalidGrouping),
            ("988  077 917", InvalidGrouping),
            ("988.077.917", InvalidCharacter),
            ("NO988077917MVA", InvalidCharacter),
        ] {
            assert_eq!(err(s), e, "{s:?}");
        }
    }

    #[test]
    fn serde() {
        let o: OrganisationNumber = serde_json::from_str("\"988 077 917\"").unwrap();
        assert_eq!(serde_json::to_string(&o).unwrap(), "\"988077917\"");
        assert!(serde_json::from_str::<OrganisationNumber>("\"988077918\"").is_err());
        assert_eq!(OrganisationNumber::try_from("988077917").unwrap(), o);
    }

    /// Organisation number weights, as Brønnøysundregistrene give them (and the vector file).
    const ORGNR_WEIGHTS: [u32; 8] = [3, 2, 7, 6, 5, 4, 3, 2];

    /// A valid organisation number, built: 8 or 9, seven digits, then the MOD11 check digit
    /// (prefixes whose check digit would be 10 have no valid number and are skipped).
    fn valid_orgnr() -> impl Strategy<Value = String> {
        "[89][0-9]{7}".prop_filter_map("check digit 10", |prefix| {
            with_mod11(&prefix, &ORGNR_WEIGHTS)
        })
    }

    proptest! {
        #[test]
        fn valid_numbers_parse_in_every_written_form(v in valid_orgnr()) {
            let o: OrganisationNumber = v.parse().unwrap();
            prop_assert_eq!(o.as_str(), v.as_str());
            prop_assert_eq!(o.to_string(), v.clone());
            prop_assert_eq!(format!("{o:?}"), format!("OrganisationNumber({v})"));
            let grouped = format!("{} {} {}", &v[..3], &v[3..6], &v[6..]);
            prop_assert_eq!(grouped.parse::<OrganisationNumber>().unwrap(), o);
            prop_assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{v}\""));
        }

        /// Eight digits whose check digit would be 10 start no organisation number.
        #[test]
        fn no_number_follows_a_prefix_with_check_digit_ten(
            prefix in "[89][0-9]{6}".prop_filter_map("no eighth digit fits", |seven| {
                with_check_digit_ten(&seven, &ORGNR_WEIGHTS)
            }),
        ) {
            prop_assert_eq!(with_mod11(&prefix, &ORGNR_WEIGHTS), None);
            for k in 0..=9 {
                let v = format!("{prefix}{k}");
                prop_assert_eq!(v.parse::<OrganisationNumber>(), Err(OrganisationNumberError::CheckDigit));
            }
        }

        /// A number with the right check digit but another first digit is refused.
        #[test]
        fn only_8_and_9_start_a_number(prefix in "[0-7][0-9]{7}") {
            if let Some(v) = with_mod11(&prefix, &ORGNR_WEIGHTS) {
                prop_assert_eq!(v.parse::<OrganisationNumber>(), Err(OrganisationNumberError::FirstDigit));
            }
        }

        /// Every weight (and the check digit's implicit 1) is non-zero modulo the prime 11,
        /// so every single-digit change is caught (by the first-digit rule or the check digit).
        #[test]
        fn one_digit_mutations_are_rejected(v in valid_orgnr()) {
            for m in one_digit_mutations(&v) {
                prop_assert!(m.parse::<OrganisationNumber>().is_err(), "{} from {}", m, v);
            }
        }

        /// Whatever parses is nine digits starting with 8 or 9 and ending in the check digit.
        #[test]
        fn only_valid_numbers_parse(s in any::<String>(), near in "[0-9 ]{0,12}") {
            for input in [&s, &near] {
                if let Ok(o) = input.parse::<OrganisationNumber>() {
                    let digits: String = input.chars().filter(char::is_ascii_digit).collect();
                    prop_assert_eq!(o.as_str(), digits.as_str());
                    prop_assert!(digits.starts_with(['8', '9']), "{}", input);
                    prop_assert!(ends_in_mod11(&digits, &ORGNR_WEIGHTS), "{}", input);
                }
            }
        }
    }
}
