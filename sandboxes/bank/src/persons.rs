//! The test persons (chosen on the SCA page, or named in `PSU-ID`) and their accounts.
//!
//! Every person has the same two accounts at each bank, a current account ("Brukskonto",
//! NOK 12 345.67) and a savings account ("Sparekonto", NOK 250 000.00), under account numbers
//! of their own: valid Norwegian 11-digit numbers (mod 11) whose first four digits are the
//! bank's, and the `NO` IBANs of them (mod 97). They never change, so tests can name them.

use crate::banks::{Bank, BankId};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A test person; the name is what the SCA form and `PSU-ID` carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Person {
    /// Everything succeeds.
    #[serde(rename = "PSU-Successful")]
    Successful,
    /// Approving still fails the SCA.
    #[serde(rename = "PSU-ScaFailed")]
    ScaFailed,
    /// The bank blocks the person: approving fails, and any call naming them in `PSU-ID` is
    /// refused (403 `SERVICE_BLOCKED`).
    #[serde(rename = "PSU-Blocked")]
    Blocked,
    /// A consent they approve is valid, but until yesterday: it reads as `expired`.
    #[serde(rename = "PSU-ConsentExpired")]
    ConsentExpired,
    /// A payment they approve is accepted (`ACTC`), then rejected at the next step.
    #[serde(rename = "PSU-LimitExceeded")]
    LimitExceeded,
    /// Payments succeed; cancelling one is refused (405 `CANCELLATION_INVALID`).
    #[serde(rename = "PSU-CancellationRefused")]
    CancellationRefused,
}

impl Person {
    pub(crate) const ALL: [Person; 6] = [
        Person::Successful,
        Person::ScaFailed,
        Person::Blocked,
        Person::ConsentExpired,
        Person::LimitExceeded,
        Person::CancellationRefused,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Person::Successful => "PSU-Successful",
            Person::ScaFailed => "PSU-ScaFailed",
            Person::Blocked => "PSU-Blocked",
            Person::ConsentExpired => "PSU-ConsentExpired",
            Person::LimitExceeded => "PSU-LimitExceeded",
            Person::CancellationRefused => "PSU-CancellationRefused",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Person> {
        Person::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether approving ends the SCA in failure (the bank's decision, not the person's).
    pub(crate) fn fails_sca(self) -> bool {
        matches!(self, Person::ScaFailed | Person::Blocked)
    }

    fn index(self) -> usize {
        match self {
            Person::Successful => 0,
            Person::ScaFailed => 1,
            Person::Blocked => 2,
            Person::ConsentExpired => 3,
            Person::LimitExceeded => 4,
            Person::CancellationRefused => 5,
        }
    }
}

/// One account of a test person at one bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub resource_id: String,
    pub bban: &'static str,
    pub iban: &'static str,
    pub name: &'static str,
    pub product: &'static str,
    pub balance: Decimal,
    pub owner: Person,
}

/// Account numbers per bank, per person (in [`Person::ALL`] order): (current, savings), each
/// as (BBAN, IBAN).
type Numbers = [((&'static str, &'static str), (&'static str, &'static str)); 6];

const DNB: Numbers = [
    (
        ("12021000017", "NO9812021000017"),
        ("12021000025", "NO7612021000025"),
    ),
    (
        ("12021100011", "NO6112021100011"),
        ("12021100046", "NO8612021100046"),
    ),
    (
        ("12021200016", "NO1812021200016"),
        ("12021200024", "NO9312021200024"),
    ),
    (
        ("12021300010", "NO7812021300010"),
        ("12021300029", "NO5012021300029"),
    ),
    (
        ("12021400015", "NO3512021400015"),
        ("12021400023", "NO1312021400023"),
    ),
    (
        ("12021500036", "NO4512021500036"),
        ("12021500028", "NO6712021500028"),
    ),
];

const SPAREBANK1: Numbers = [
    (
        ("42021000013", "NO2042021000013"),
        ("42021000021", "NO9542021000021"),
    ),
    (
        ("42021100018", "NO7442021100018"),
        ("42021100026", "NO5242021100026"),
    ),
    (
        ("42021200012", "NO3742021200012"),
        ("42021200020", "NO1542021200020"),
    ),
    (
        ("42021300017", "NO9142021300017"),
        ("42021300025", "NO6942021300025"),
    ),
    (
        ("42021400011", "NO5442021400011"),
        ("42021400046", "NO7942021400046"),
    ),
    (
        ("42021500016", "NO1142021500016"),
        ("42021500024", "NO8642021500024"),
    ),
];

const NORDEA: Numbers = [
    (
        ("60011000013", "NO9860011000013"),
        ("60011000021", "NO7660011000021"),
    ),
    (
        ("60011100018", "NO5560011100018"),
        ("60011100026", "NO3360011100026"),
    ),
    (
        ("60011200012", "NO1860011200012"),
        ("60011200020", "NO9360011200020"),
    ),
    (
        ("60011300017", "NO7260011300017"),
        ("60011300025", "NO5060011300025"),
    ),
    (
        ("60011400011", "NO3560011400011"),
        ("60011400046", "NO6060011400046"),
    ),
    (
        ("60011500016", "NO8960011500016"),
        ("60011500024", "NO6760011500024"),
    ),
];

fn numbers(bank: BankId) -> &'static Numbers {
    match bank {
        BankId::Dnb => &DNB,
        BankId::Sparebank1 => &SPAREBANK1,
        BankId::Nordea => &NORDEA,
    }
}

/// The person's accounts at `bank`: the current account first.
pub(crate) fn accounts(bank: &Bank, person: Person) -> Vec<Account> {
    let ((current_bban, current_iban), (savings_bban, savings_iban)) =
        numbers(bank.id)[person.index()];
    vec![
        Account {
            resource_id: resource_id(current_bban),
            bban: current_bban,
            iban: current_iban,
            name: "Brukskonto",
            product: "Current account",
            balance: Decimal::new(1_234_567, 2),
            owner: person,
        },
        Account {
            resource_id: resource_id(savings_bban),
            bban: savings_bban,
            iban: savings_iban,
            name: "Sparekonto",
            product: "Savings account",
            balance: Decimal::new(25_000_000, 2),
            owner: person,
        },
    ]
}

fn resource_id(bban: &str) -> String {
    format!("acc-{bban}")
}

/// Any person's account at `bank` with this resource id.
pub(crate) fn account(bank: &Bank, resource_id: &str) -> Option<Account> {
    Person::ALL
        .into_iter()
        .flat_map(|person| accounts(bank, person))
        .find(|account| account.resource_id == resource_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::banks::BANKS;
    use crate::numbers::{is_iban, is_norwegian_bban};

    #[test]
    fn every_account_number_is_valid_unique_and_the_banks() {
        let mut seen = std::collections::HashSet::new();
        for bank in &BANKS {
            let prefix = match bank.id {
                BankId::Dnb => "1202",
                BankId::Sparebank1 => "4202",
                BankId::Nordea => "6001",
            };
            for person in Person::ALL {
                for account in accounts(bank, person) {
                    assert!(is_norwegian_bban(account.bban), "{}", account.bban);
                    assert!(is_iban(account.iban), "{}", account.iban);
                    assert_eq!(&account.iban[4..], account.bban);
                    assert!(account.bban.starts_with(prefix));
                    assert!(seen.insert(account.bban));
                    assert_eq!(
                        super::account(bank, &account.resource_id).as_ref(),
                        Some(&account)
                    );
                }
            }
        }
        assert_eq!(seen.len(), 36);
        assert!(
            account(&BANKS[0], "acc-42021000013").is_none(),
            "another bank's"
        );
    }

    #[test]
    fn names() {
        for person in Person::ALL {
            assert_eq!(Person::parse(person.name()), Some(person));
            assert_eq!(
                serde_json::to_value(person).unwrap(),
                serde_json::json!(person.name())
            );
        }
        assert_eq!(Person::parse("psu-successful"), None);
    }
}
