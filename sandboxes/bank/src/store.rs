//! The sandbox's memory: consents, payments and authorisations, at most [`CAPACITY`] of each (a
//! full table forgets its oldest entry to make room).
//!
//! Statuses that move with time are not stored as they move: a resource keeps when it was
//! created and what was decided when, and its status is computed from those timestamps when it
//! is read (see [`Payment::progress`] and [`Consent::status`]).
//!
//! Kept in memory only, or also in a JSON file (see [`Store::open`]) so that consents and
//! payments outlive the process, as they do at a bank.

use crate::banks::{BankId, Product};
use crate::clock::iso_date;
use crate::persons::Person;
use crate::wire::{Access, Fees, PaymentRequest};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use time::Date;

/// At most this many consents, payments and authorisations (each) are held.
pub(crate) const CAPACITY: usize = 10_000;

// ---------------------------------------------------------------------------------------------
// Consents

/// What happened to a consent (its reported status also depends on the date and on time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum ConsentState {
    Received,
    Valid,
    Rejected,
    TerminatedByTpp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Consent {
    pub id: String,
    pub bank: BankId,
    pub created_ms: i64,
    /// As requested.
    pub access: Access,
    pub recurring: bool,
    /// As granted (shortened to the bank's limit; yesterday for `PSU-ConsentExpired`).
    #[serde(with = "iso_date")]
    pub valid_until: Date,
    pub frequency_per_day: u32,
    pub combined: bool,
    pub state: ConsentState,
    /// Resource ids of the accounts the account list shows, once authorised.
    pub accounts: Vec<String>,
    /// Resource ids of the accounts whose balances may be read, once authorised.
    pub balances: Vec<String>,
    /// Who authorised it.
    pub psu: Option<Person>,
    /// The `PSU-ID` the initiation named, if any.
    pub psu_id: Option<String>,
    #[serde(with = "iso_date")]
    pub last_action: Date,
    /// The UTC day of the reads without the PSU counted in `reads`.
    #[serde(with = "iso_date::option")]
    pub reads_day: Option<Date>,
    pub reads: u32,
}

impl Consent {
    /// The `consentStatus` now: a valid consent past its `validUntil` is `expired`; one never
    /// authorised within the SCA expiry is `rejected`.
    pub(crate) fn status(&self, today: Date, now_ms: i64, sca_expiry_ms: i64) -> &'static str {
        match self.state {
            ConsentState::Valid if self.valid_until < today => "expired",
            ConsentState::Valid => "valid",
            ConsentState::Received if now_ms.saturating_sub(self.created_ms) >= sca_expiry_ms => {
                "rejected"
            }
            ConsentState::Received => "received",
            ConsentState::Rejected => "rejected",
            ConsentState::TerminatedByTpp => "terminatedByTpp",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Payments

/// The ISO 20022 statuses the sandbox's payments go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum TxStatus {
    Rcvd,
    Actc,
    Acsp,
    Acsc,
    Rjct,
    Canc,
}

impl TxStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TxStatus::Rcvd => "RCVD",
            TxStatus::Actc => "ACTC",
            TxStatus::Acsp => "ACSP",
            TxStatus::Acsc => "ACSC",
            TxStatus::Rjct => "RJCT",
            TxStatus::Canc => "CANC",
        }
    }

    pub(crate) fn is_final(self) -> bool {
        matches!(self, TxStatus::Acsc | TxStatus::Rjct | TxStatus::Canc)
    }
}

/// Why a payment was rejected at its SCA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Rejection {
    /// The PSU's SCA failed (`PSU-ScaFailed`).
    ScaFailed,
    /// The bank blocks the PSU (`PSU-Blocked`).
    Blocked,
    /// The PSU rejected it.
    ByPsu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum PaymentDecision {
    Approved { at_ms: i64, psu: Person },
    Rejected { at_ms: i64, reason: Rejection },
    Cancelled { at_ms: i64 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Payment {
    pub id: String,
    pub bank: BankId,
    pub product: Product,
    pub created_ms: i64,
    pub request: PaymentRequest,
    pub fees: Option<Fees>,
    pub decision: Option<PaymentDecision>,
    pub notification_uri: Option<String>,
    /// The `PSU-ID` the initiation named, if any.
    pub psu_id: Option<String>,
    /// The last status a notification was sent (or given up) for.
    pub notified: Option<TxStatus>,
    /// Numbers the notification jobs; only the latest one sends.
    pub notifier: u64,
}

/// A payment's status at one moment, and when it changes next on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress {
    pub status: TxStatus,
    pub psu_message: Option<&'static str>,
    pub next_change_ms: Option<i64>,
}

/// Timing of the status progression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    /// From one status to the next after SCA (`SandboxConfig::status_step`).
    pub step_ms: i64,
    /// How long SCA may take (`SandboxConfig::sca_expiry`).
    pub sca_expiry_ms: i64,
}

const MESSAGE_SCA_FAILED: &str = "The strong customer authentication failed.";
const MESSAGE_BLOCKED: &str = "The bank has blocked this customer.";
const MESSAGE_REJECTED: &str = "The customer rejected the payment.";
const MESSAGE_EXPIRED: &str = "The customer did not finish the authentication in time.";
const MESSAGE_LIMIT: &str = "The payment exceeds the customer's limit at the bank.";

impl Payment {
    /// The status at `now_ms`: `RCVD` until SCA (`RJCT` once the SCA expiry has passed);
    /// after SCA was approved `ACTC` at once, `ACSP` one step later and `ACSC` one more step
    /// later (`PSU-LimitExceeded`: `RJCT` at the first step); `RJCT` for a failed or rejected
    /// SCA; `CANC` once cancelled.
    pub(crate) fn progress(&self, now_ms: i64, timing: Timing) -> Progress {
        let fixed = |status, psu_message| Progress {
            status,
            psu_message,
            next_change_ms: None,
        };
        match self.decision {
            None => {
                let expires = self.created_ms.saturating_add(timing.sca_expiry_ms);
                if now_ms >= expires {
                    fixed(TxStatus::Rjct, Some(MESSAGE_EXPIRED))
                } else {
                    Progress {
                        status: TxStatus::Rcvd,
                        psu_message: None,
                        next_change_ms: Some(expires),
                    }
                }
            }
            Some(PaymentDecision::Cancelled { .. }) => fixed(TxStatus::Canc, None),
            Some(PaymentDecision::Rejected { reason, .. }) => fixed(
                TxStatus::Rjct,
                Some(match reason {
                    Rejection::ScaFailed => MESSAGE_SCA_FAILED,
                    Rejection::Blocked => MESSAGE_BLOCKED,
                    Rejection::ByPsu => MESSAGE_REJECTED,
                }),
            ),
            Some(PaymentDecision::Approved { at_ms, psu }) => {
                let step = timing.step_ms.max(0);
                let elapsed = now_ms.saturating_sub(at_ms).max(0);
                let steps = if step == 0 { i64::MAX } else { elapsed / step };
                let next = |n: i64| Some(at_ms.saturating_add(step.saturating_mul(n)));
                match (steps, psu) {
                    (0, _) => Progress {
                        status: TxStatus::Actc,
                        psu_message: None,
                        next_change_ms: next(1),
                    },
                    (_, Person::LimitExceeded) => fixed(TxStatus::Rjct, Some(MESSAGE_LIMIT)),
                    (1, _) => Progress {
                        status: TxStatus::Acsp,
                        psu_message: None,
                        next_change_ms: next(2),
                    },
                    _ => fixed(TxStatus::Acsc, None),
                }
            }
        }
    }

    /// The person behind the payment: who approved it, or whom the initiation named.
    pub(crate) fn person(&self) -> Option<Person> {
        match self.decision {
            Some(PaymentDecision::Approved { psu, .. }) => Some(psu),
            _ => self.psu_id.as_deref().and_then(Person::parse),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Authorisations

/// What an authorisation authorises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum Target {
    Consent { id: String },
    Payment { product: Product, id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum ScaOutcome {
    Finalised,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Authorisation {
    pub id: String,
    pub bank: BankId,
    pub target: Target,
    pub created_ms: i64,
    /// `TPP-Redirect-URI`.
    pub redirect: String,
    /// `TPP-Nok-Redirect-URI`, if given.
    pub nok_redirect: Option<String>,
    pub outcome: Option<ScaOutcome>,
}

impl Authorisation {
    /// `scaStatus` now: `received` until decided (`failed` once the SCA expiry has passed).
    pub(crate) fn sca_status(&self, now_ms: i64, sca_expiry_ms: i64) -> &'static str {
        match self.outcome {
            Some(ScaOutcome::Finalised) => "finalised",
            Some(ScaOutcome::Failed) => "failed",
            None if self.expired(now_ms, sca_expiry_ms) => "failed",
            None => "received",
        }
    }

    pub(crate) fn expired(&self, now_ms: i64, sca_expiry_ms: i64) -> bool {
        now_ms.saturating_sub(self.created_ms) >= sca_expiry_ms
    }

    /// Where the PSU goes after a negative outcome.
    pub(crate) fn nok_location(&self) -> &str {
        self.nok_redirect.as_deref().unwrap_or(&self.redirect)
    }
}

// ---------------------------------------------------------------------------------------------
// Tables

pub(crate) trait Keyed {
    fn key(&self) -> &str;
}

impl Keyed for Consent {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Keyed for Payment {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Keyed for Authorisation {
    fn key(&self) -> &str {
        &self.id
    }
}

/// Entries by id, oldest first, at most [`CAPACITY`].
pub(crate) struct Table<T> {
    items: HashMap<String, T>,
    order: VecDeque<String>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            items: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<T: Keyed> Table<T> {
    /// Adds an entry with a new id, forgetting the oldest ones if full.
    pub(crate) fn insert(&mut self, item: T) {
        while self.items.len() >= CAPACITY {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.items.remove(&oldest);
                }
                None => break,
            }
        }
        let key = item.key().to_owned();
        if self.items.insert(key.clone(), item).is_none() {
            self.order.push_back(key);
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<&T> {
        self.items.get(id)
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        self.items.get_mut(id)
    }

    /// Every entry, oldest first.
    pub(crate) fn in_order(&self) -> impl Iterator<Item = &T> {
        self.order.iter().filter_map(|id| self.items.get(id))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}

/// Everything the sandbox remembers.
#[derive(Default)]
pub(crate) struct Inner {
    pub consents: Table<Consent>,
    pub payments: Table<Payment>,
    pub authorisations: Table<Authorisation>,
}

/// The state file, written from references.
#[derive(Serialize)]
struct SavedRef<'a> {
    consents: Vec<&'a Consent>,
    payments: Vec<&'a Payment>,
    authorisations: Vec<&'a Authorisation>,
}

/// The state file, read back.
#[derive(Deserialize)]
struct Saved {
    #[serde(default)]
    consents: Vec<Consent>,
    #[serde(default)]
    payments: Vec<Payment>,
    #[serde(default)]
    authorisations: Vec<Authorisation>,
}

/// Everything, behind one lock that is never held across an await.
#[derive(Default)]
pub(crate) struct Store {
    inner: Mutex<Inner>,
    /// Where every change is written, if anywhere.
    file: Option<PathBuf>,
}

impl Store {
    /// A store kept in `file` (if any): what it holds is read now, and every change is written
    /// back (to a temporary file, then renamed over it). A missing file is an empty store; an
    /// unreadable one is logged and started afresh.
    pub(crate) fn open(file: Option<PathBuf>) -> Self {
        let mut inner = Inner::default();
        if let Some(file) = &file {
            match std::fs::read(file) {
                Ok(bytes) => match serde_json::from_slice::<Saved>(&bytes) {
                    Ok(saved) => {
                        saved
                            .consents
                            .into_iter()
                            .for_each(|c| inner.consents.insert(c));
                        saved
                            .payments
                            .into_iter()
                            .for_each(|p| inner.payments.insert(p));
                        saved
                            .authorisations
                            .into_iter()
                            .for_each(|a| inner.authorisations.insert(a));
                    }
                    Err(error) => tracing::warn!(
                        file = %file.display(),
                        %error,
                        "bank sandbox: the state file is not readable; starting empty"
                    ),
                },
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => tracing::warn!(
                    file = %file.display(),
                    %error,
                    "bank sandbox: cannot read the state file; starting empty"
                ),
            }
        }
        Self {
            inner: Mutex::new(inner),
            file,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update leaves the tables consistent before it could panic, so poison is
        // harmless.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads under the lock.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Inner) -> R) -> R {
        f(&self.lock())
    }

    /// Changes under the lock, then writes the state file (under the lock, so writes keep
    /// their order).
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut inner = self.lock();
        let result = f(&mut inner);
        self.save(&inner);
        result
    }

    fn save(&self, inner: &Inner) {
        let Some(file) = &self.file else {
            return;
        };
        let saved = SavedRef {
            consents: inner.consents.in_order().collect(),
            payments: inner.payments.in_order().collect(),
            authorisations: inner.authorisations.in_order().collect(),
        };
        if let Err(error) = write_atomically(file, &saved) {
            tracing::warn!(file = %file.display(), %error, "bank sandbox: cannot write the state file");
        }
    }
}

/// Writes `value` as JSON to `file` through a temporary file beside it, so a reader (or a
/// crash) never sees half a file.
fn write_atomically(file: &Path, value: &impl Serialize) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(value)?;
    let mut temporary = file.as_os_str().to_owned();
    temporary.push(".tmp");
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AccountReference, Amount};
    use time::macros::date;

    const TIMING: Timing = Timing {
        step_ms: 2_000,
        sca_expiry_ms: 900_000,
    };

    fn payment(decision: Option<PaymentDecision>) -> Payment {
        Payment {
            id: "p1".into(),
            bank: BankId::Dnb,
            product: Product::Sepa,
            created_ms: 1_000_000,
            request: PaymentRequest {
                end_to_end_identification: None,
                debtor_account: AccountReference::by_iban("NO9812021000017"),
                instructed_amount: Amount {
                    currency: "EUR".into(),
                    amount: "10.00".into(),
                },
                creditor_account: AccountReference::by_iban("DE89370400440532013000"),
                creditor_agent: None,
                creditor_name: "Creditor".into(),
                creditor_address: None,
                charge_bearer: None,
                remittance_information_unstructured: None,
                requested_execution_date: None,
            },
            fees: None,
            decision,
            notification_uri: None,
            psu_id: None,
            notified: None,
            notifier: 0,
        }
    }

    fn consent(id: &str) -> Consent {
        Consent {
            id: id.into(),
            bank: BankId::Dnb,
            created_ms: 1_000_000,
            access: Access::default(),
            recurring: true,
            valid_until: date!(2025 - 06 - 01),
            frequency_per_day: 4,
            combined: false,
            state: ConsentState::Received,
            accounts: vec![],
            balances: vec![],
            psu: None,
            psu_id: None,
            last_action: date!(2025 - 03 - 01),
            reads_day: None,
            reads: 0,
        }
    }

    #[test]
    fn payment_status_follows_the_clock() {
        let pending = payment(None);
        let at = |ms| pending.progress(ms, TIMING);
        assert_eq!(at(1_000_000).status, TxStatus::Rcvd);
        assert_eq!(at(1_000_000).next_change_ms, Some(1_900_000));
        assert_eq!(at(1_899_999).status, TxStatus::Rcvd);
        assert_eq!(at(1_900_000).status, TxStatus::Rjct);
        assert!(at(1_900_000).psu_message.is_some());

        let approved = payment(Some(PaymentDecision::Approved {
            at_ms: 2_000_000,
            psu: Person::Successful,
        }));
        let at = |ms| approved.progress(ms, TIMING);
        assert_eq!(at(2_000_000).status, TxStatus::Actc);
        assert_eq!(at(2_000_000).next_change_ms, Some(2_002_000));
        assert_eq!(at(2_001_999).status, TxStatus::Actc);
        assert_eq!(at(2_002_000).status, TxStatus::Acsp);
        assert_eq!(at(2_002_000).next_change_ms, Some(2_004_000));
        assert_eq!(at(2_004_000).status, TxStatus::Acsc);
        assert_eq!(at(2_004_000).next_change_ms, None);
        // Long after the SCA expiry, an approved payment stays settled.
        assert_eq!(at(9_000_000).status, TxStatus::Acsc);

        let limited = payment(Some(PaymentDecision::Approved {
            at_ms: 2_000_000,
            psu: Person::LimitExceeded,
        }));
        assert_eq!(limited.progress(2_000_000, TIMING).status, TxStatus::Actc);
        let rejected = limited.progress(2_002_000, TIMING);
        assert_eq!(rejected.status, TxStatus::Rjct);
        assert!(rejected.psu_message.unwrap().contains("limit"));

        let cancelled = payment(Some(PaymentDecision::Cancelled { at_ms: 1_500_000 }));
        assert_eq!(cancelled.progress(9_000_000, TIMING).status, TxStatus::Canc);

        let no_step = Timing {
            step_ms: 0,
            ..TIMING
        };
        assert_eq!(approved.progress(2_000_000, no_step).status, TxStatus::Acsc);
    }

    #[test]
    fn consent_status_follows_the_date() {
        let today = date!(2025 - 03 - 01);
        let mut c = consent("c1");
        assert_eq!(c.status(today, 1_000_000, 900_000), "received");
        assert_eq!(c.status(today, 1_900_000, 900_000), "rejected");
        c.state = ConsentState::Valid;
        assert_eq!(c.status(today, 1_900_000, 900_000), "valid");
        c.valid_until = today;
        assert_eq!(c.status(today, 1_900_000, 900_000), "valid");
        c.valid_until = date!(2025 - 02 - 28);
        assert_eq!(c.status(today, 1_900_000, 900_000), "expired");
        c.state = ConsentState::TerminatedByTpp;
        assert_eq!(c.status(today, 1_900_000, 900_000), "terminatedByTpp");
    }

    #[test]
    fn bounded() {
        let store = Store::default();
        store.write(|inner| {
            for n in 0..=CAPACITY {
                inner.consents.insert(consent(&format!("c{n}")));
            }
        });
        store.read(|inner| {
            assert_eq!(inner.consents.len(), CAPACITY);
            assert_eq!(inner.consents.order.len(), CAPACITY);
            assert!(
                inner.consents.get("c0").is_none(),
                "the oldest is forgotten"
            );
            assert!(inner.consents.get(&format!("c{CAPACITY}")).is_some());
        });
    }

    #[test]
    fn a_store_with_a_file_keeps_everything_for_the_next_run() {
        let dir = std::env::temp_dir().join(format!("bank-sandbox-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("state.json");
        {
            let store = Store::open(Some(file.clone()));
            store.write(|inner| {
                inner.consents.insert(consent("c1"));
                inner.consents.insert(consent("c2"));
                inner
                    .payments
                    .insert(payment(Some(PaymentDecision::Approved {
                        at_ms: 2_000_000,
                        psu: Person::Successful,
                    })));
                inner.authorisations.insert(Authorisation {
                    id: "a1".into(),
                    bank: BankId::Nordea,
                    target: Target::Payment {
                        product: Product::Sepa,
                        id: "p1".into(),
                    },
                    created_ms: 1_000_000,
                    redirect: "https://tpp.example/ok".into(),
                    nok_redirect: None,
                    outcome: Some(ScaOutcome::Finalised),
                });
                inner.consents.get_mut("c2").unwrap().reads_day = Some(date!(2025 - 03 - 01));
            });
        }
        let store = Store::open(Some(file.clone()));
        store.read(|inner| {
            let ids: Vec<&str> = inner.consents.in_order().map(|c| c.id.as_str()).collect();
            assert_eq!(ids, ["c1", "c2"]);
            assert_eq!(
                inner.consents.get("c2").unwrap().reads_day,
                Some(date!(2025 - 03 - 01))
            );
            let p = inner.payments.get("p1").unwrap();
            assert_eq!(p.progress(2_004_000, TIMING).status, TxStatus::Acsc);
            let a = inner.authorisations.get("a1").unwrap();
            assert_eq!(a.bank, BankId::Nordea);
            assert_eq!(a.sca_status(0, 1), "finalised");
            assert_eq!(a.nok_location(), "https://tpp.example/ok");
        });
        // A damaged file is an empty store, not a failure.
        std::fs::write(&file, b"{not json").unwrap();
        assert_eq!(
            Store::open(Some(file)).read(|inner| inner.consents.len()),
            0
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
