//! Faults the sandbox is told to inject (`POST /sandbox/faults`): the next N Berlin Group
//! requests to a bank fail in a chosen way, then the bank is normal again. Faults queued for
//! one bank are used in the order they were queued.

use crate::banks::BankId;
use serde::Deserialize;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// How a request fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum FaultKind {
    /// 500 with a `tppMessages` body.
    Status500,
    /// 503 with a `tppMessages` body.
    Status503,
    /// No answer for `SandboxConfig::timeout_hold` (or until the sandbox stops).
    Timeout,
    /// The normal answer, after `SandboxConfig::slow_delay`.
    Slow,
    /// 200 with an HTML error page.
    Html,
    /// 200 with JSON that lacks the required fields.
    Malformed,
    /// 200 whose body is a `tppMessages` error.
    Error200,
    /// The normal answer, but `ASPSP-SCA-Approach: EMBEDDED` and no `scaRedirect`.
    Embedded,
}

/// The body of `POST /sandbox/faults`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultRequest {
    pub bank: BankId,
    pub kind: FaultKind,
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// At most this many requests can be told to fail at once, per bank.
pub(crate) const MAX_PENDING: u32 = 10_000;

#[derive(Default)]
pub(crate) struct Faults {
    pending: Mutex<HashMap<BankId, VecDeque<(FaultKind, u32)>>>,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, HashMap<BankId, VecDeque<(FaultKind, u32)>>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `count` failures of `kind` for `bank`; false if that would exceed
    /// [`MAX_PENDING`].
    pub(crate) fn add(&self, bank: BankId, kind: FaultKind, count: u32) -> bool {
        let mut pending = self.lock();
        let queue = pending.entry(bank).or_default();
        let queued: u32 = queue.iter().map(|(_, n)| *n).sum();
        if queued.saturating_add(count) > MAX_PENDING {
            return false;
        }
        if count > 0 {
            queue.push_back((kind, count));
        }
        true
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// The fault the next request to `bank` gets, if any (and one fewer is left).
    pub(crate) fn take(&self, bank: BankId) -> Option<FaultKind> {
        let mut pending = self.lock();
        let queue = pending.get_mut(&bank)?;
        let (kind, left) = queue.front_mut()?;
        let kind = *kind;
        *left -= 1;
        if *left == 0 {
            queue.pop_front();
        }
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_used_in_order_per_bank() {
        let faults = Faults::default();
        assert!(faults.add(BankId::Dnb, FaultKind::Status500, 2));
        assert!(faults.add(BankId::Dnb, FaultKind::Html, 1));
        assert!(faults.add(BankId::Nordea, FaultKind::Slow, 1));
        assert_eq!(faults.take(BankId::Sparebank1), None);
        assert_eq!(faults.take(BankId::Dnb), Some(FaultKind::Status500));
        assert_eq!(faults.take(BankId::Dnb), Some(FaultKind::Status500));
        assert_eq!(faults.take(BankId::Dnb), Some(FaultKind::Html));
        assert_eq!(faults.take(BankId::Dnb), None);
        faults.clear();
        assert_eq!(faults.take(BankId::Nordea), None);
        assert!(!faults.add(BankId::Dnb, FaultKind::Timeout, MAX_PENDING + 1));
        assert!(faults.add(BankId::Dnb, FaultKind::Timeout, 0));
        assert_eq!(faults.take(BankId::Dnb), None);
    }

    #[test]
    fn requests_name_bank_and_kind() {
        let request: FaultRequest =
            serde_json::from_str(r#"{"bank":"sparebank1","kind":"error200","count":3}"#).unwrap();
        assert_eq!(request.bank, BankId::Sparebank1);
        assert_eq!(request.kind, FaultKind::Error200);
        assert_eq!(request.count, 3);
        let request: FaultRequest =
            serde_json::from_str(r#"{"bank":"dnb","kind":"status503"}"#).unwrap();
        assert_eq!((request.kind, request.count), (FaultKind::Status503, 1));
        assert!(serde_json::from_str::<FaultRequest>(r#"{"bank":"dnb","kind":"boom"}"#).is_err());
        assert!(serde_json::from_str::<FaultRequest>(r#"{"bank":"x","kind":"html"}"#).is_err());
    }
}
