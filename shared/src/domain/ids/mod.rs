//! Identifiers that can only be built valid.
//!
//! Every type here has a private field and is built only by parsing (`FromStr`,
//! `TryFrom<&str>`, or serde `Deserialize`, which parses and fails on invalid input). Each has
//! its own error enum, whose messages never repeat the input: identifiers are personal data.
//! Types that hold personal data mask it in `Debug` (and [`Fodselsnummer`] in `Display` too).

/// `TryFrom<&str>` through `FromStr`, and a `Deserialize` that parses, so invalid input fails.
macro_rules! parse_impls {
    ($ty:ty) => {
        impl TryFrom<&str> for $ty {
            type Error = <$ty as std::str::FromStr>::Err;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// `Serialize` as the canonical string `as_str()`.
macro_rules! serialize_as_str {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

/// OpenAPI schema: a string with a pattern, a description and an example.
macro_rules! string_schema {
    ($ty:ty, $pattern:expr, $description:expr, $example:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some($pattern))
                    .description(Some($description))
                    .examples([serde_json::json!($example)])
                    .into()
            }
        }

        impl utoipa::ToSchema for $ty {}
    };
}

pub mod account;
pub mod bic;
pub mod fnr;
pub mod iban;
pub mod orgnr;
pub mod phone;

pub use account::{AccountNumber, AccountNumberError};
pub use bic::{Bic, BicError};
pub use fnr::{Fodselsnummer, FodselsnummerError, FodselsnummerKind};
pub use iban::{Iban, IbanError};
pub use orgnr::{OrganisationNumber, OrganisationNumberError};
pub use phone::{NorwegianMobile, NorwegianMobileError};

/// Why a string of digits could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// A character that is neither a digit nor an allowed separator.
    Character,
    /// Only digits, but not the expected number of them.
    Length(usize),
    /// Separators present, but not splitting the digits into the expected groups.
    Grouping,
}

/// Reads exactly `N` ASCII digits written either contiguously or split into `groups`
/// by one separator from `separators`, the same one throughout (e.g. `8601.11.17947`).
fn read_digits<const N: usize>(
    s: &str,
    groups: &[usize],
    separators: &[u8],
) -> Result<[u8; N], Layout> {
    let bytes = s.as_bytes();
    if bytes
        .iter()
        .any(|b| !b.is_ascii_digit() && !separators.contains(b))
    {
        return Err(Layout::Character);
    }
    let mut out = [0u8; N];
    match bytes.iter().find(|b| separators.contains(b)) {
        None if bytes.len() == N => out.copy_from_slice(bytes),
        None => return Err(Layout::Length(bytes.len())),
        Some(&sep) => {
            let parts: Vec<&[u8]> = bytes.split(|b| *b == sep).collect();
            let grouped = parts.len() == groups.len()
                && parts
                    .iter()
                    .zip(groups)
                    .all(|(part, len)| part.len() == *len)
                && parts.iter().all(|part| part.iter().all(u8::is_ascii_digit))
                && groups.iter().sum::<usize>() == N;
            if !grouped {
                return Err(Layout::Grouping);
            }
            for (slot, digit) in out.iter_mut().zip(parts.concat()) {
                *slot = digit;
            }
        }
    }
    Ok(out)
}

/// The numeric values of ASCII digits.
fn values<const N: usize>(digits: &[u8; N]) -> [u32; N] {
    digits.map(|b| u32::from(b.wrapping_sub(b'0')))
}

/// Σ weightᵢ · digitᵢ.
fn weighted_sum(digits: &[u32], weights: &[u32]) -> u32 {
    digits.iter().zip(weights).map(|(d, w)| d * w).sum()
}

/// The MOD11 check digit `11 − (Σ weightᵢ · digitᵢ mod 11)`, where 11 becomes 0; `None`
/// where it would be 10, which means no valid number starts with these digits.
fn mod11_check_digit(digits: &[u32], weights: &[u32]) -> Option<u32> {
    match 11 - weighted_sum(digits, weights) % 11 {
        11 => Some(0),
        10 => None,
        check => Some(check),
    }
}

/// Views ASCII bytes, which every type here validated at parse time, as `&str`.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// The last `n` characters of an ASCII string (all of it when shorter).
fn last(s: &str, n: usize) -> &str {
    s.get(s.len().saturating_sub(n)..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `testdata/norwegian-id-test-vectors.json`, the project's cited test vectors (see its SOURCES.md).
    pub(crate) fn vectors() -> serde_json::Value {
        serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/norwegian-id-test-vectors.json"
        )))
        .unwrap()
    }

    /// The `value` fields of `section.list` in the test vectors.
    pub(crate) fn vector_values(section: &str, list: &str) -> Vec<String> {
        let values: Vec<String> = vectors()[section][list]
            .as_array()
            .unwrap_or_else(|| panic!("{section}.{list} is missing"))
            .iter()
            .map(|v| v["value"].as_str().unwrap().to_owned())
            .collect();
        assert!(!values.is_empty(), "{section}.{list} is empty");
        values
    }

    /// The weights listed under `section.key` in the test vectors.
    pub(crate) fn vector_weights(section: &str, key: &str) -> Vec<u32> {
        serde_json::from_value(vectors()[section][key].clone()).unwrap()
    }

    /// Σ weightᵢ·digitᵢ over ASCII `digits`, one weight per digit; written out here, apart
    /// from the code under test.
    pub(crate) fn mod11_sum(digits: &str, weights: &[u32]) -> u32 {
        assert_eq!(digits.len(), weights.len(), "one weight per digit");
        digits
            .bytes()
            .zip(weights)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum()
    }

    /// Appends the MOD11 check digit to `prefix` (ASCII digits), or `None` where it would be 10:
    /// with s = [`mod11_sum`] the check digit is 11 − (s mod 11), and 11 becomes 0.
    pub(crate) fn with_mod11(prefix: &str, weights: &[u32]) -> Option<String> {
        match (11 - mod11_sum(prefix, weights) % 11) % 11 {
            10 => None,
            check => Some(format!("{prefix}{check}")),
        }
    }

    /// `free` (ASCII digits, one fewer than `weights`) and the digit that makes
    /// Σ weightᵢ·digitᵢ ≡ 1 (mod 11), so that the check digit would be 10; `None` if no digit
    /// does.
    pub(crate) fn with_check_digit_ten(free: &str, weights: &[u32]) -> Option<String> {
        (0..=9)
            .map(|d| format!("{free}{d}"))
            .find(|prefix| mod11_sum(prefix, weights) % 11 == 1)
    }

    /// Whether `digits` (ASCII) end in their MOD11 check digit, by [`with_mod11`].
    pub(crate) fn ends_in_mod11(digits: &str, weights: &[u32]) -> bool {
        let (prefix, _) = digits.split_at(digits.len() - 1);
        with_mod11(prefix, weights).as_deref() == Some(digits)
    }

    /// Every string that differs from `s` (ASCII digits) in exactly one digit position.
    pub(crate) fn one_digit_mutations(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (i, original) in s.bytes().enumerate() {
            for d in b'0'..=b'9' {
                if d != original {
                    let mut b = s.as_bytes().to_vec();
                    b[i] = d;
                    out.push(String::from_utf8(b).unwrap());
                }
            }
        }
        out
    }

    #[test]
    fn read_digits_accepts_contiguous_or_consistently_grouped() {
        let ok = |s| read_digits::<11>(s, &[4, 2, 5], b". ");
        assert_eq!(ok("86011117947"), Ok(*b"86011117947"));
        assert_eq!(ok("8601.11.17947"), Ok(*b"86011117947"));
        assert_eq!(ok("8601 11 17947"), Ok(*b"86011117947"));
        assert_eq!(ok("8601.11 17947"), Err(Layout::Grouping));
        assert_eq!(ok("860.111.17947"), Err(Layout::Grouping));
        assert_eq!(ok("8601..1117947"), Err(Layout::Grouping));
        assert_eq!(ok("8601-11-17947"), Err(Layout::Character));
        assert_eq!(ok("8601111794"), Err(Layout::Length(10)));
        assert_eq!(ok(""), Err(Layout::Length(0)));
        assert_eq!(read_digits::<3>("123", &[], &[]), Ok(*b"123"));
        assert_eq!(read_digits::<3>("1 23", &[], &[]), Err(Layout::Character));
    }

    #[test]
    fn mod11_maps_eleven_to_zero_and_rejects_ten() {
        let w = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
        assert_eq!(mod11_check_digit(&values(b"8601111794"), &w), Some(7));
        assert_eq!(mod11_check_digit(&values(b"1200000013"), &w), Some(0));
        assert_eq!(mod11_check_digit(&values(b"1200000005"), &w), None);
    }

    #[test]
    fn last_takes_a_suffix() {
        assert_eq!(last("86011117947", 4), "7947");
        assert_eq!(last("abc", 4), "abc");
    }
}
