//! ISO 3166-1 alpha-2 country codes and EEA membership.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Every officially assigned ISO 3166-1 alpha-2 code, two letters each.
const ASSIGNED: &str = "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZ\
CACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGN\
GPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLSLTLULV\
LYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPT\
PWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUS\
UYUZVAVCVEVGVIVNVUWFWSYEYTZAZMZW";

/// EU member states plus Iceland, Liechtenstein and Norway.
const EEA: &str = "ATBEBGCYCZDEDKEEESFIFRGRHRHUIEITLTLULVMTNLPLPTROSESISKISLINO";

fn contains_pair(list: &str, code: &str) -> bool {
    list.as_bytes()
        .chunks(2)
        .any(|pair| pair == code.as_bytes())
}

/// A valid, assigned ISO 3166-1 alpha-2 code in upper case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an ISO 3166-1 alpha-2 country code")]
pub struct InvalidCountryCode;

impl CountryCode {
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII upper-case letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    pub fn is_eea(&self) -> bool {
        contains_pair(EEA, self.as_str())
    }
}

impl FromStr for CountryCode {
    type Err = InvalidCountryCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        if b.len() != 2 || !b.iter().all(u8::is_ascii_uppercase) || !contains_pair(ASSIGNED, s) {
            return Err(InvalidCountryCode);
        }
        Ok(Self([b[0], b[1]]))
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountryCode({})", self.as_str())
    }
}

impl Serialize for CountryCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for CountryCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[A-Z]{2}$"))
            .description(Some("ISO 3166-1 alpha-2 country code"))
            .examples([serde_json::json!("PL")])
            .into()
    }
}

impl utoipa::ToSchema for CountryCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_assigned_codes_only() {
        assert_eq!("NO".parse::<CountryCode>().unwrap().as_str(), "NO");
        for bad in ["", "N", "no", "NOR", "XX", "ZZ", "AA", "1A", "Ø1"] {
            assert!(bad.parse::<CountryCode>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_assigned_list_is_well_formed() {
        assert_eq!(ASSIGNED.len() % 2, 0);
        assert_eq!(ASSIGNED.len() / 2, 249);
        assert!(EEA
            .as_bytes()
            .chunks(2)
            .all(|c| contains_pair(ASSIGNED, std::str::from_utf8(c).unwrap())));
        assert_eq!(EEA.len() / 2, 30);
    }

    #[test]
    fn eea_membership() {
        for eea in ["NO", "SE", "PL", "HR", "IS", "LI", "BG"] {
            assert!(eea.parse::<CountryCode>().unwrap().is_eea(), "{eea}");
        }
        for not in ["GB", "CH", "RS", "BA", "TR", "PK", "US"] {
            assert!(!not.parse::<CountryCode>().unwrap().is_eea(), "{not}");
        }
    }
}
