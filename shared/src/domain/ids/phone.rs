//! Norwegian mobile phone number, kept in E.164 form (`+4741234567`).
//!
//! Norwegian numbers have eight digits after the country code 47; mobile numbers are those in
//! the 4 and 9 series (Nkom, the national numbering plan). Input may carry the country code as
//! `+47` or `0047` or leave it out, and spaces anywhere: `+47 412 34 567`, `004741234567`,
//! `41234567`. Anything else is rejected, including a bare `47` prefix, other separators and
//! other countries' numbers.

use std::fmt;
use std::str::FromStr;

/// A Norwegian mobile number. Personal data: `Debug` masks all but the last two digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NorwegianMobile([u8; 11]);

/// Why a string is not a Norwegian mobile number. Messages never repeat the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NorwegianMobileError {
    #[error("a phone number contains only digits, spaces and a leading +")]
    InvalidCharacter,
    #[error("the phone number's country code is not +47 (Norway)")]
    NotNorwegian,
    #[error("a Norwegian phone number has 8 digits after +47, found {found}")]
    WrongLength { found: usize },
    #[error("a Norwegian mobile number starts with 4 or 9")]
    NotMobile,
}

impl NorwegianMobile {
    /// E.164: `+47` and the eight national digits.
    pub fn as_str(&self) -> &str {
        super::ascii(&self.0)
    }

    /// The eight national digits, without `+47`.
    pub fn national_number(&self) -> &str {
        super::last(self.as_str(), 8)
    }
}

impl FromStr for NorwegianMobile {
    type Err = NorwegianMobileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let compact: String = s.chars().filter(|c| *c != ' ').collect();
        let (international, digits) = match compact.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => match compact.strip_prefix("00") {
                Some(rest) => (true, rest),
                None => (false, compact.as_str()),
            },
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NorwegianMobileError::InvalidCharacter);
        }
        let national = if international {
            digits
                .strip_prefix("47")
                .ok_or(NorwegianMobileError::NotNorwegian)?
        } else {
            digits
        };
        let national: [u8; 8] =
            national
                .as_bytes()
                .try_into()
                .map_err(|_| NorwegianMobileError::WrongLength {
                    found: national.len(),
                })?;
        if !matches!(national[0], b'4' | b'9') {
            return Err(NorwegianMobileError::NotMobile);
        }
        let mut e164 = *b"+47________";
        e164[3..].copy_from_slice(&national);
        Ok(Self(e164))
    }
}

parse_impls!(NorwegianMobile);
serialize_as_str!(NorwegianMobile);
string_schema!(
    NorwegianMobile,
    r"^\+47[49][0-9]{7}$",
    "Norwegian mobile number in E.164 form; input may also be 0047…, or 8 digits, with spaces",
    "+4741234567"
);

impl fmt::Display for NorwegianMobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for NorwegianMobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NorwegianMobile(+47******{})",
            super::last(self.as_str(), 2)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(s: &str) -> NorwegianMobileError {
        s.parse::<NorwegianMobile>()
            .err()
            .unwrap_or_else(|| panic!("{s} parsed"))
    }

    #[test]
    fn accepted_forms_normalise_to_e164() {
        for s in [
            "+47 412 34 567",
            "004741234567",
            "41234567",
            "+4741234567",
            "412 34 567",
            "0047 41 23 45 67",
            " +47 41234567 ",
        ] {
            let m: NorwegianMobile = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(m.as_str(), "+4741234567", "{s}");
            assert_eq!(m.national_number(), "41234567");
            assert_eq!(m.to_string(), "+4741234567");
        }
        assert_eq!(
            "98765432".parse::<NorwegianMobile>().unwrap().as_str(),
            "+4798765432"
        );
    }

    #[test]
    fn rejections() {
        use NorwegianMobileError::*;
        for (s, e) in [
            ("", WrongLength { found: 0 }),
            ("+47", WrongLength { found: 0 }),
            ("4123456", WrongLength { found: 7 }),
            ("412345678", WrongLength { found: 9 }),
            ("4741234567", WrongLength { found: 10 }), // 47 without + or 00
            ("+47412345678", WrongLength { found: 9 }),
            ("+4622123456", NotNorwegian),
            ("0046701234567", NotNorwegian),
            ("+", NotNorwegian),
            ("22123456", NotMobile),    // landline
            ("+4758123456", NotMobile), // M2M series
            ("81234567", NotMobile),
            ("41-23-45-67", InvalidCharacter),
            ("412.34.567", InvalidCharacter),
            ("4123456a", InvalidCharacter),
            ("+47+41234567", InvalidCharacter),
            ("41234567+", InvalidCharacter),
            ("\t41234567", InvalidCharacter),
            ("٤١٢٣٤٥٦٧", InvalidCharacter),
        ] {
            assert_eq!(err(s), e, "{s:?}");
        }
    }

    #[test]
    fn debug_masks_all_but_last_two() {
        let m: NorwegianMobile = "+4741234567".parse().unwrap();
        assert_eq!(format!("{m:?}"), "NorwegianMobile(+47******67)");
    }

    #[test]
    fn serde() {
        let m: NorwegianMobile = serde_json::from_str("\"+47 412 34 567\"").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"+4741234567\"");
        assert!(serde_json::from_str::<NorwegianMobile>("\"22123456\"").is_err());
        assert_eq!(NorwegianMobile::try_from("41234567").unwrap(), m);
    }

    proptest! {
        #[test]
        fn every_mobile_number_round_trips(first in prop::sample::select(vec!['4', '9']), rest in "[0-9]{7}") {
            let national = format!("{first}{rest}");
            let m: NorwegianMobile = national.parse().unwrap();
            prop_assert_eq!(m.national_number(), national.as_str());
            prop_assert_eq!(m.as_str().parse::<NorwegianMobile>().unwrap(), m);
            prop_assert_eq!(format!("00 47 {national}").parse::<NorwegianMobile>().unwrap(), m);
        }

        /// No check digit: a changed digit gives another number, or is refused (the 4/9 prefix
        /// lost, or a leading 0 that then reads as the international prefix 00).
        #[test]
        fn one_digit_mutations(rest in "[0-9]{7}") {
            let national = format!("4{rest}");
            let m: NorwegianMobile = national.parse().unwrap();
            for changed in super::super::tests::one_digit_mutations(&national) {
                if let Ok(other) = changed.parse::<NorwegianMobile>() {
                    prop_assert_ne!(other, m);
                }
            }
        }

        #[test]
        fn arbitrary_input_never_panics(s in any::<String>(), near in "[+0-9 ]{0,16}") {
            let _ = s.parse::<NorwegianMobile>();
            if let Ok(m) = near.parse::<NorwegianMobile>() {
                prop_assert_eq!(m.as_str().parse::<NorwegianMobile>().unwrap(), m);
            }
        }
    }
}
