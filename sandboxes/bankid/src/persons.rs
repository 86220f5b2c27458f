//! The sandbox's test persons: who can "log in" with BankID on this machine.
//!
//! Every number is a valid Norwegian identity number (both check digits by the classic rule,
//! an allocated individual number for its century) that no real person is known to hold; the
//! tests parse each one with `drop_shared::domain::ids::Fodselsnummer`. Names that mention a KYC or
//! PEP outcome tell the KYC sandbox (and the developer clicking) what happens next.

/// One person the sandbox can authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestPerson {
    /// Short identifier, used in the login form and in `bankid_altsub`.
    pub slug: &'static str,
    /// What the person is for, shown on the login page.
    pub label: &'static str,
    /// The fødselsnummer, D-number or synthetic number: BankID's `nnin_altsub`.
    pub nnin: &'static str,
    /// BankID's stable user key, the same on every run.
    pub bankid_altsub: &'static str,
    pub given_name: &'static str,
    pub family_name: &'static str,
    /// ISO 8601 date, as in BankID's `birthdate` claim.
    pub birthdate: &'static str,
}

impl TestPerson {
    /// `given_name family_name`, as in BankID's `name` claim.
    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

const PERSONS: &[TestPerson] = &[
    TestPerson {
        slug: "adult",
        label: "Adult with an ordinary fødselsnummer",
        nnin: "15108695088",
        bankid_altsub: "sandbox-altsub-adult",
        given_name: "Kari",
        family_name: "Nordmann",
        birthdate: "1986-10-15",
    },
    TestPerson {
        slug: "minor",
        label: "Minor (under 18)",
        nnin: "17051653785",
        bankid_altsub: "sandbox-altsub-minor",
        given_name: "Emma",
        family_name: "Nordmann",
        birthdate: "2016-05-17",
    },
    TestPerson {
        slug: "d-number",
        label: "Adult with a D-number",
        nnin: "41039025483",
        bankid_altsub: "sandbox-altsub-d-number",
        given_name: "Dagny",
        family_name: "Dahl",
        birthdate: "1990-03-01",
    },
    TestPerson {
        slug: "synthetic",
        label: "Adult with a synthetic test number (month + 80)",
        nnin: "12867547167",
        bankid_altsub: "sandbox-altsub-synthetic",
        given_name: "Sindre",
        family_name: "Syntetisk",
        birthdate: "1975-06-12",
    },
    TestPerson {
        slug: "kyc-red-retry",
        label: "Adult whose KYC check is rejected, with a retry allowed",
        nnin: "20028031263",
        bankid_altsub: "sandbox-altsub-kyc-red-retry",
        given_name: "Rita",
        family_name: "KYC red retry",
        birthdate: "1980-02-20",
    },
    TestPerson {
        slug: "kyc-red-final",
        label: "Adult whose KYC check is rejected for good",
        nnin: "08117218652",
        bankid_altsub: "sandbox-altsub-kyc-red-final",
        given_name: "Frode",
        family_name: "KYC red final",
        birthdate: "1972-11-08",
    },
    TestPerson {
        slug: "pep-hit",
        label: "Adult who is a politically exposed person (PEP hit)",
        nnin: "30076542321",
        bankid_altsub: "sandbox-altsub-pep-hit",
        given_name: "Per",
        family_name: "PEP hit",
        birthdate: "1965-07-30",
    },
];

/// Every test person, in the order the login page shows them.
pub fn test_persons() -> &'static [TestPerson] {
    PERSONS
}

/// The person with this slug.
pub(crate) fn find(slug: &str) -> Option<&'static TestPerson> {
    PERSONS.iter().find(|p| p.slug == slug)
}

#[cfg(test)]
mod tests {
    use super::*;
    use drop_shared::domain::ids::{Fodselsnummer, FodselsnummerKind};
    use std::collections::HashSet;
    use time::macros::format_description;
    use time::Date;

    fn parse(p: &TestPerson) -> Fodselsnummer {
        p.nnin.parse().unwrap_or_else(|e| panic!("{}: {e}", p.slug))
    }

    /// Classic rule only: (s₁ + K1) mod 11 = 0, as for every number issued before 2032.
    fn classic_k1(nnin: &str) -> bool {
        let d: Vec<u32> = nnin.bytes().map(|b| u32::from(b - b'0')).collect();
        let s: u32 = [3, 7, 6, 1, 8, 9, 4, 5, 2, 1]
            .iter()
            .zip(&d)
            .map(|(w, d)| w * d)
            .sum();
        s % 11 == 0
    }

    #[test]
    fn every_number_parses_and_matches_the_birthdate() {
        let format = format_description!("[year]-[month]-[day]");
        for p in test_persons() {
            let fnr = parse(p);
            assert!(classic_k1(p.nnin), "{}", p.slug);
            let birthdate = Date::parse(p.birthdate, &format).unwrap();
            assert_eq!(fnr.birth_date(), birthdate, "{}", p.slug);
        }
    }

    #[test]
    fn the_persons_cover_each_case() {
        // Ages on a fixed date, so the test does not change with the calendar (the minor,
        // born 2016-05-17, is 10 then).
        let today = time::macros::date!(2026 - 11 - 22);
        let kind = |slug| parse(find(slug).unwrap()).kind();
        let age = |slug| parse(find(slug).unwrap()).age_on(today);
        assert_eq!(kind("adult"), FodselsnummerKind::Fnr);
        assert_eq!(find("adult").unwrap().nnin, "15108695088");
        assert_eq!(find("adult").unwrap().name(), "Kari Nordmann");
        assert_eq!(kind("minor"), FodselsnummerKind::Fnr);
        assert!(age("minor") < 18);
        assert_eq!(kind("d-number"), FodselsnummerKind::DNumber);
        assert_eq!(kind("synthetic"), FodselsnummerKind::Synthetic);
        for slug in [
            "adult",
            "d-number",
            "synthetic",
            "kyc-red-retry",
            "kyc-red-final",
            "pep-hit",
        ] {
            assert!(age(slug) >= 18, "{slug}");
        }
        assert!(find("kyc-red-retry")
            .unwrap()
            .name()
            .contains("KYC red retry"));
        assert!(find("kyc-red-final")
            .unwrap()
            .name()
            .contains("KYC red final"));
        assert!(find("pep-hit").unwrap().name().contains("PEP hit"));
    }

    #[test]
    fn keys_are_unique_and_stable() {
        let all = test_persons();
        let slugs: HashSet<_> = all.iter().map(|p| p.slug).collect();
        let altsubs: HashSet<_> = all.iter().map(|p| p.bankid_altsub).collect();
        let nnins: HashSet<_> = all.iter().map(|p| p.nnin).collect();
        assert_eq!((slugs.len(), altsubs.len(), nnins.len()), (7, 7, 7));
        for p in all {
            assert_eq!(p.bankid_altsub, format!("sandbox-altsub-{}", p.slug));
        }
    }
}
