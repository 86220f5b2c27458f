//! The corridors Drop sends money through: destination country, payout currency, rail,
//! whether the recipient's account must be an IBAN, and the AML risk compliance assigns.
//!
//! The rail rule is the product's: SEPA for destinations in the EEA, SWIFT otherwise.

use crate::domain::country::CountryCode;
use crate::domain::money::Currency;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Rail {
    Sepa,
    Swift,
}

/// Risk level that decides how deep AML screening of a payment goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AmlRisk {
    Low,
    Medium,
    High,
}

/// One destination. Built only from the table below, so every value is known valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corridor {
    pub country: CountryCode,
    pub country_name: &'static str,
    pub currency: Currency,
    pub iban_required: bool,
    pub aml_risk: AmlRisk,
}

impl Corridor {
    pub fn rail(&self) -> Rail {
        if self.country.is_eea() {
            Rail::Sepa
        } else {
            Rail::Swift
        }
    }

    /// The corridor to `country`, if Drop sends there.
    pub fn find(country: CountryCode) -> Option<Corridor> {
        all().find(|c| c.country == country)
    }
}

use AmlRisk::{High, Low, Medium};
use Currency as C;

/// (ISO country, name, payout currency, IBAN required, AML risk).
const TABLE: &[(&str, &str, Currency, bool, AmlRisk)] = &[
    // EEA: SEPA
    ("PL", "Poland", C::PLN, true, Low),
    ("LT", "Lithuania", C::EUR, true, Low),
    ("LV", "Latvia", C::EUR, true, Low),
    ("EE", "Estonia", C::EUR, true, Low),
    ("SE", "Sweden", C::SEK, true, Low),
    ("DK", "Denmark", C::DKK, true, Low),
    ("FI", "Finland", C::EUR, true, Low),
    ("DE", "Germany", C::EUR, true, Low),
    ("NL", "Netherlands", C::EUR, true, Low),
    ("FR", "France", C::EUR, true, Low),
    ("ES", "Spain", C::EUR, true, Low),
    ("IT", "Italy", C::EUR, true, Low),
    ("HR", "Croatia", C::EUR, true, Low),
    ("BG", "Bulgaria", C::EUR, true, Medium),
    ("RO", "Romania", C::RON, true, Medium),
    ("IS", "Iceland", C::ISK, true, Low),
    // Elsewhere: SWIFT
    ("GB", "United Kingdom", C::GBP, true, Low),
    ("CH", "Switzerland", C::CHF, true, Low),
    ("US", "United States", C::USD, false, Low),
    ("RS", "Serbia", C::RSD, true, Medium),
    ("BA", "Bosnia and Herzegovina", C::BAM, true, Medium),
    ("TR", "Turkey", C::TRY, true, Medium),
    ("UA", "Ukraine", C::UAH, true, High),
    ("PK", "Pakistan", C::PKR, true, High),
    ("IN", "India", C::INR, false, Medium),
    ("BD", "Bangladesh", C::BDT, false, Medium),
    ("NP", "Nepal", C::NPR, false, Medium),
    ("LK", "Sri Lanka", C::LKR, false, Medium),
    ("PH", "Philippines", C::PHP, false, Medium),
    ("TH", "Thailand", C::THB, false, Low),
    ("VN", "Vietnam", C::VND, false, High),
    ("IQ", "Iraq", C::IQD, true, High),
    ("SO", "Somalia", C::USD, false, High),
    ("NG", "Nigeria", C::NGN, false, High),
    ("KE", "Kenya", C::KES, false, High),
    ("ET", "Ethiopia", C::ETB, false, High),
    ("GH", "Ghana", C::GHS, false, Medium),
    ("MA", "Morocco", C::MAD, false, Medium),
    ("BR", "Brazil", C::BRL, true, Medium),
    ("CO", "Colombia", C::COP, false, Medium),
];

/// Every corridor, in the table's order. Rows that do not parse are skipped (a unit test
/// guarantees there are none).
pub fn all() -> impl Iterator<Item = Corridor> {
    TABLE
        .iter()
        .filter_map(|&(code, name, currency, iban_required, aml_risk)| {
            Some(Corridor {
                country: code.parse().ok()?,
                country_name: name,
                currency,
                iban_required,
                aml_risk,
            })
        })
}

/// The currencies money can be paid out in, without repeats.
pub fn payout_currencies() -> Vec<Currency> {
    let mut v: Vec<Currency> = all().map(|c| c.currency).collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_row_is_valid_and_unique_and_there_are_at_least_thirty() {
        assert_eq!(all().count(), TABLE.len());
        assert!(TABLE.len() >= 30);
        let countries: HashSet<_> = all().map(|c| c.country).collect();
        assert_eq!(countries.len(), TABLE.len());
        assert!(all().all(|c| c.currency != Currency::NOK));
    }

    #[test]
    fn includes_the_corridors_the_privacy_documents_name() {
        for code in ["RS", "BA", "HR", "TR", "PK"] {
            assert!(Corridor::find(code.parse().unwrap()).is_some(), "{code}");
        }
    }

    #[test]
    fn rail_is_sepa_exactly_for_eea_destinations() {
        let pl = Corridor::find("PL".parse().unwrap()).unwrap();
        assert_eq!(pl.rail(), Rail::Sepa);
        let hr = Corridor::find("HR".parse().unwrap()).unwrap();
        assert_eq!(hr.rail(), Rail::Sepa);
        for code in ["RS", "BA", "TR", "PK", "GB", "CH", "US"] {
            assert_eq!(
                Corridor::find(code.parse().unwrap()).unwrap().rail(),
                Rail::Swift,
                "{code}"
            );
        }
        assert!(all()
            .filter(|c| c.rail() == Rail::Sepa)
            .all(|c| c.iban_required));
    }

    #[test]
    fn norway_is_not_a_destination() {
        assert!(Corridor::find("NO".parse().unwrap()).is_none());
    }
}
