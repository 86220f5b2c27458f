//! International Bank Account Number (ISO 13616), validated by `iban_validate`.
//!
//! `iban_validate` checks the structure, the mod-97 check digits (ISO 7064) and the country's
//! BBAN format from the SWIFT IBAN registry. On top of that:
//! - a Norwegian IBAN's BBAN is a kontonummer, whose own MOD11 check digit must hold
//!   ([`AccountNumber`]; python-stdnum `stdnum.no.iban`);
//! - the country must be an assigned ISO 3166-1 code ([`CountryCode`]), which excludes the
//!   registry's `XK` (Kosovo).
//!
//! Input may be electronic (`NO9386011117947`) or paper format (`NO93 8601 1117 947`), in
//! either case; it is kept in upper-case electronic form.

use super::AccountNumber;
use crate::domain::country::CountryCode;
use iban::{IbanLike, ParseBaseIbanError, ParseIbanError};
use std::fmt;
use std::str::FromStr;

/// A valid IBAN. Personal data: `Debug` shows only the country and the last four characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Iban {
    iban: iban::Iban,
    country: CountryCode,
}

/// Why a string is not an IBAN. Messages never repeat the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IbanError {
    #[error("not in IBAN format (country code, 2 check digits, up to 30 letters or digits)")]
    Format,
    #[error("the IBAN's check digits are wrong")]
    CheckDigits,
    #[error("the IBAN's country does not use IBANs")]
    UnknownCountry,
    #[error("the IBAN's account part does not follow its country's format")]
    Bban,
    #[error("the IBAN's country is not an assigned ISO 3166-1 country")]
    CountryNotIso,
    #[error("the Norwegian IBAN's account number has a wrong check digit")]
    NorwegianAccount,
}

impl Iban {
    /// Electronic format: upper case, no spaces.
    pub fn as_str(&self) -> &str {
        self.iban.electronic_str()
    }

    pub fn country(&self) -> CountryCode {
        self.country
    }

    /// The domestic account part (BBAN).
    pub fn bban(&self) -> &str {
        self.iban.bban()
    }

    /// The last four characters, for display.
    pub fn last4(&self) -> &str {
        super::last(self.as_str(), 4)
    }

    /// The kontonummer inside a Norwegian IBAN; `None` for other countries.
    pub fn norwegian_account(&self) -> Option<AccountNumber> {
        if self.country.as_str() == "NO" {
            self.bban().parse().ok()
        } else {
            None
        }
    }
}

impl FromStr for Iban {
    type Err = IbanError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let iban: iban::Iban = s.trim().to_ascii_uppercase().parse().map_err(|e| match e {
            ParseIbanError::InvalidBaseIban {
                source: ParseBaseIbanError::InvalidFormat,
            } => IbanError::Format,
            ParseIbanError::InvalidBaseIban {
                source: ParseBaseIbanError::InvalidChecksum,
            } => IbanError::CheckDigits,
            ParseIbanError::UnknownCountry(_) => IbanError::UnknownCountry,
            ParseIbanError::InvalidBban(_) => IbanError::Bban,
        })?;
        let country: CountryCode = iban
            .country_code()
            .parse()
            .map_err(|_| IbanError::CountryNotIso)?;
        if country.as_str() == "NO" && iban.bban().parse::<AccountNumber>().is_err() {
            return Err(IbanError::NorwegianAccount);
        }
        Ok(Self { iban, country })
    }
}

parse_impls!(Iban);
serialize_as_str!(Iban);
string_schema!(
    Iban,
    "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$",
    "IBAN in electronic format; input may also be in paper format or lower case",
    "NO9386011117947"
);

impl fmt::Display for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iban({}…{})", self.country, self.last4())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(s: &str) -> IbanError {
        s.parse::<Iban>()
            .err()
            .unwrap_or_else(|| panic!("{s} parsed"))
    }

    /// An independent mod-97 check (ISO 7064), to tell the two NO rejections apart.
    fn mod97_holds(s: &str) -> bool {
        let rearranged = format!("{}{}", &s[4..], &s[..4]);
        rearranged
            .chars()
            .map(|c| c.to_digit(36).unwrap())
            .fold(0u32, |acc, v| {
                if v < 10 {
                    (acc * 10 + v) % 97
                } else {
                    (acc * 100 + v) % 97
                }
            })
            == 1
    }

    #[test]
    fn file_vectors() {
        use super::super::tests::vectors;
        for v in super::super::tests::vector_values("iban_no", "valid") {
            let i: Iban = v.parse().unwrap();
            assert_eq!(i.as_str(), v);
            assert_eq!(i.norwegian_account().unwrap().as_str(), &v[4..]);
        }
        let invalid = vectors()["iban_no"]["invalid"].as_array().unwrap().clone();
        assert_eq!(invalid.len(), 2);
        for case in invalid {
            let (v, reason) = (
                case["value"].as_str().unwrap(),
                case["reason"].as_str().unwrap(),
            );
            let expected = if reason.contains("mod-97") {
                IbanError::CheckDigits
            } else {
                IbanError::NorwegianAccount
            };
            assert_eq!(
                mod97_holds(v),
                expected == IbanError::NorwegianAccount,
                "{v}"
            );
            assert_eq!(err(v), expected, "{v}: {reason}");
        }
    }

    #[test]
    fn accepted_forms_and_accessors() {
        for s in [
            "NO9386011117947",
            "NO93 8601 1117 947",
            "no93 8601 1117 947",
            " NO9386011117947 ",
        ] {
            let i: Iban = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(i.as_str(), "NO9386011117947");
            assert_eq!(i.to_string(), "NO9386011117947");
            assert_eq!(i.country().as_str(), "NO");
            assert_eq!(i.bban(), "86011117947");
            assert_eq!(i.last4(), "7947");
        }
        let de: Iban = "DE89 3704 0044 0532 0130 00".parse().unwrap();
        assert_eq!(
            (de.as_str(), de.country().as_str(), de.last4()),
            ("DE89370400440532013000", "DE", "3000")
        );
        assert_eq!(de.norwegian_account(), None);
        for s in [
            "GB82WEST12345698765432",
            "FR1420041010050500013M02606",
            "NO3712000000130",
        ] {
            assert_eq!(s.parse::<Iban>().unwrap().as_str(), s);
        }
    }

    #[test]
    fn rejections() {
        use IbanError::*;
        for (s, e) in [
            ("", Format),
            ("N", Format),
            ("NO9", Format),
            ("1O9386011117947", Format),
            ("NO93-8601-1117-947", Format),
            ("NO9 386011117947", Format),
            ("DE89370400440532013001", CheckDigits),
            ("NO9286011117947", CheckDigits),
            ("AA9112345678", UnknownCountry),
            ("NO6286011117947123", Bban), // mod-97 right, too long for Norway
            ("DE5137040044053201300", Bban), // mod-97 right, 17 digits instead of 18
            ("XK051212012345678906", CountryNotIso),
            ("NO6312000000050", NorwegianAccount), // 1200000005 has no valid check digit
        ] {
            assert_eq!(err(s), e, "{s:?}");
        }
    }

    #[test]
    fn debug_shows_country_and_last_four() {
        let i: Iban = "NO9386011117947".parse().unwrap();
        assert_eq!(format!("{i:?}"), "Iban(NO…7947)");
    }

    #[test]
    fn serde() {
        let i: Iban = serde_json::from_str("\"NO93 8601 1117 947\"").unwrap();
        assert_eq!(serde_json::to_string(&i).unwrap(), "\"NO9386011117947\"");
        assert!(serde_json::from_str::<Iban>("\"NO2386011117946\"").is_err());
        assert_eq!(Iban::try_from("NO9386011117947").unwrap(), i);
    }

    /// The IBAN for a BBAN: check digits 98 − (BBAN ‖ country ‖ 00 mod 97).
    fn with_check_digits(country: &str, bban: &str) -> String {
        let n = format!("{bban}{country}00")
            .chars()
            .map(|c| c.to_digit(36).unwrap())
            .fold(0u32, |acc, v| {
                if v < 10 {
                    (acc * 10 + v) % 97
                } else {
                    (acc * 100 + v) % 97
                }
            });
        format!("{country}{:02}{bban}", 98 - n)
    }

    proptest! {
        #[test]
        fn norwegian_ibans_follow_the_kontonummer(prefix in "[0-9]{10}") {
            let ok = super::super::tests::with_mod11(&prefix, &[5, 4, 3, 2, 7, 6, 5, 4, 3, 2]);
            for k in 0..=9 {
                let bban = format!("{prefix}{k}");
                let v = with_check_digits("NO", &bban);
                let valid = ok.as_deref() == Some(bban.as_str());
                prop_assert_eq!(v.parse::<Iban>().is_ok(), valid, "{}", v);
                if valid {
                    let i: Iban = v.parse().unwrap();
                    prop_assert_eq!(i.as_str().parse::<Iban>().unwrap(), i);
                    prop_assert_eq!(i.norwegian_account().unwrap(), bban.parse().unwrap());
                }
            }
        }

        /// Mod 97 catches every single-character substitution.
        #[test]
        fn one_digit_mutations_are_rejected(bban in "[0-9]{18}") {
            let v = with_check_digits("DE", &bban);
            prop_assert!(v.parse::<Iban>().is_ok());
            for m in super::super::tests::one_digit_mutations(&v[2..]) {
                prop_assert!(format!("DE{m}").parse::<Iban>().is_err(), "DE{}", m);
            }
        }

        #[test]
        fn arbitrary_input_never_panics(s in any::<String>(), near in "[A-Za-z]{2}[0-9 ]{0,30}") {
            let _ = s.parse::<Iban>();
            let _ = near.parse::<Iban>();
        }
    }
}
