//! Business Identifier Code (BIC, SWIFT code; ISO 9362).
//!
//! 8 or 11 characters: institution code (4 letters), country (2 letters, an assigned
//! ISO 3166-1 code), location (2 letters or digits) and an optional branch (3 letters or
//! digits; `XXX` is the primary office). Surrounding whitespace is trimmed and lower case is
//! accepted and kept in upper case; 8- and 11-character forms are kept as given.
//!
//! ISO 9362:2014 allows digits in the institution code, but SWIFT has issued only letters there,
//! so digits are rejected. `XK` (Kosovo) is not an ISO 3166-1 code and is rejected too.

use crate::domain::country::CountryCode;
use std::fmt;
use std::str::FromStr;

/// A well-formed BIC. Public register data, so `Debug` shows it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Bic {
    code: String,
    country: CountryCode,
}

/// Why a string is not a BIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BicError {
    #[error("a BIC has 8 or 11 characters, found {found}")]
    WrongLength { found: usize },
    #[error("a BIC contains only the letters A-Z and the digits 0-9")]
    InvalidCharacter,
    #[error("a BIC's institution code (first 4 characters) is letters only")]
    InstitutionCode,
    #[error("a BIC's country (characters 5-6) is not an assigned ISO 3166-1 code")]
    Country,
}

impl Bic {
    /// The code in upper case, 8 or 11 characters.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// Characters 1–4: the institution (bank) code.
    pub fn institution(&self) -> &str {
        self.code.get(..4).unwrap_or_default()
    }

    /// Characters 5–6: the country.
    pub fn country(&self) -> CountryCode {
        self.country
    }

    /// Characters 7–8: the location code.
    pub fn location(&self) -> &str {
        self.code.get(6..8).unwrap_or_default()
    }

    /// Characters 9–11: the branch code; `None` for an 8-character BIC.
    pub fn branch(&self) -> Option<&str> {
        self.code.get(8..11)
    }
}

impl FromStr for Bic {
    type Err = BicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.trim().to_ascii_uppercase();
        if !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(BicError::InvalidCharacter);
        }
        if code.len() != 8 && code.len() != 11 {
            return Err(BicError::WrongLength { found: code.len() });
        }
        let (institution, rest) = code.split_at(4);
        if !institution.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(BicError::InstitutionCode);
        }
        let country = rest
            .get(..2)
            .unwrap_or_default()
            .parse()
            .map_err(|_| BicError::Country)?;
        Ok(Self { code, country })
    }
}

parse_impls!(Bic);
serialize_as_str!(Bic);
string_schema!(
    Bic,
    "^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$",
    "BIC (ISO 9362), 8 or 11 characters; lower-case input is accepted",
    "DNBANOKKXXX"
);

impl fmt::Display for Bic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Bic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bic({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(s: &str) -> BicError {
        s.parse::<Bic>()
            .err()
            .unwrap_or_else(|| panic!("{s} parsed"))
    }

    #[test]
    fn accepted_forms_and_parts() {
        let b: Bic = "DNBANOKK".parse().unwrap();
        assert_eq!(
            (
                b.as_str(),
                b.institution(),
                b.country().as_str(),
                b.location(),
                b.branch()
            ),
            ("DNBANOKK", "DNBA", "NO", "KK", None)
        );
        let b: Bic = " dnbanokkxxx ".parse().unwrap();
        assert_eq!((b.as_str(), b.branch()), ("DNBANOKKXXX", Some("XXX")));
        assert_eq!(b.to_string(), "DNBANOKKXXX");
        assert_eq!(format!("{b:?}"), "Bic(DNBANOKKXXX)");
        for s in [
            "DEUTDEFF",
            "DEUTDEFF500",
            "NDEASESS",
            "BPKOPLPW",
            "PKOPPLPW123",
            "UNCRITM1A01",
        ] {
            assert_eq!(s.parse::<Bic>().unwrap().as_str(), s);
        }
        assert_ne!(
            "DNBANOKK".parse::<Bic>().unwrap(),
            "DNBANOKKXXX".parse::<Bic>().unwrap()
        );
    }

    #[test]
    fn rejections() {
        use BicError::*;
        for (s, e) in [
            ("", WrongLength { found: 0 }),
            ("DNBANOK", WrongLength { found: 7 }),
            ("DNBANOKKX", WrongLength { found: 9 }),
            ("DNBANOKKXX", WrongLength { found: 10 }),
            ("DNBANOKKXXXX", WrongLength { found: 12 }),
            ("DNBA NOKK", InvalidCharacter),
            ("DNBA-NO-KK", InvalidCharacter),
            ("DNBÅNOKK", InvalidCharacter),
            ("DNB1NOKK", InstitutionCode),
            ("DNBAXXKK", Country),
            ("DNBA12KK", Country),
            ("RBKOXKPR", Country), // Kosovo: not ISO 3166-1
        ] {
            assert_eq!(err(s), e, "{s:?}");
        }
    }

    #[test]
    fn serde() {
        let b: Bic = serde_json::from_str("\"deutdeff\"").unwrap();
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"DEUTDEFF\"");
        assert!(serde_json::from_str::<Bic>("\"DEUTXXFF\"").is_err());
        assert_eq!(Bic::try_from("DEUTDEFF").unwrap(), b);
    }

    proptest! {
        #[test]
        fn generated_codes_parse_and_round_trip(
            institution in "[A-Z]{4}",
            country in prop::sample::select(vec!["NO", "SE", "DE", "PL", "GB", "US", "PK", "IN"]),
            location in "[A-Z0-9]{2}",
            branch in prop::option::of("[A-Z0-9]{3}"),
        ) {
            let code = format!("{institution}{country}{location}{}", branch.clone().unwrap_or_default());
            let b: Bic = code.to_lowercase().parse().unwrap();
            prop_assert_eq!(b.as_str(), code.as_str());
            prop_assert_eq!(b.country(), country.parse().unwrap());
            prop_assert_eq!(b.branch(), branch.as_deref());
            prop_assert_eq!(b.as_str().parse::<Bic>().unwrap(), b);
        }

        #[test]
        fn arbitrary_input_never_panics(s in any::<String>(), near in "[A-Za-z0-9]{0,12}") {
            let _ = s.parse::<Bic>();
            if let Ok(b) = near.parse::<Bic>() {
                prop_assert_eq!(b.as_str(), near.to_ascii_uppercase());
            }
        }
    }
}
