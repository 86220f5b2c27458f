//! The sandbox's memory: login transactions, authorization codes and access tokens, each with
//! an expiry and a bound on how many are held at once.

use crate::persons::TestPerson;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A login transaction lives this long between the authorize page and the person's choice.
pub(crate) const TRANSACTION_TTL: Duration = Duration::from_secs(600);
/// An authorization code is valid this long.
pub(crate) const CODE_TTL: Duration = Duration::from_secs(60);
/// An access token (and the ID token) is valid this long.
pub(crate) const TOKEN_TTL: Duration = Duration::from_secs(300);
/// At most this many entries of each kind; a full store refuses new ones.
const CAPACITY: usize = 10_000;

/// What `/authorize` validated, kept server-side until the person is chosen.
#[derive(Debug, Clone)]
pub(crate) struct Authorization {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub nonce: String,
    pub code_challenge: String,
    /// The granted scopes: the requested ones the sandbox knows.
    pub scopes: Vec<String>,
}

impl Authorization {
    pub(crate) fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// A chosen person, bound to the authorization that chose them.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub authorization: Authorization,
    pub person: &'static TestPerson,
    /// When the person authenticated, in Unix seconds.
    pub auth_time: u64,
}

/// An authorization code's life: fresh, then redeemed (remembering the token it gave).
struct CodeEntry {
    grant: Grant,
    redeemed: bool,
    access_token: Option<String>,
}

/// The store is full: the caller answers "temporarily unavailable".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// What presenting an authorization code found.
#[derive(Debug)]
pub(crate) enum Redeemed {
    /// First use: the code is now spent.
    Fresh(Grant),
    /// Unknown, expired or already used (any token it gave is now revoked).
    Invalid,
}

/// A map whose entries expire and whose size is bounded.
struct Expiring<V> {
    entries: HashMap<String, (Instant, V)>,
}

impl<V> Expiring<V> {
    fn new() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }

    fn insert(
        &mut self,
        key: String,
        value: V,
        expires: Instant,
        now: Instant,
    ) -> Result<(), Full> {
        if self.entries.len() >= CAPACITY {
            self.entries.retain(|_, (exp, _)| *exp > now);
        }
        if self.entries.len() >= CAPACITY {
            return Err(Full);
        }
        self.entries.insert(key, (expires, value));
        Ok(())
    }

    fn get_mut(&mut self, key: &str, now: Instant) -> Option<&mut V> {
        if self.entries.get(key).is_some_and(|(exp, _)| *exp <= now) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key).map(|(_, v)| v)
    }

    fn remove(&mut self, key: &str, now: Instant) -> Option<V> {
        self.entries
            .remove(key)
            .and_then(|(exp, v)| (exp > now).then_some(v))
    }
}

struct Inner {
    transactions: Expiring<Authorization>,
    codes: Expiring<CodeEntry>,
    tokens: Expiring<Grant>,
}

/// All the sandbox's state, behind one lock that is never held across an await.
pub(crate) struct Store {
    inner: Mutex<Inner>,
}

impl Store {
    pub(crate) fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                transactions: Expiring::new(),
                codes: Expiring::new(),
                tokens: Expiring::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a map half-updated, so poison is harmless.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn put_transaction(
        &self,
        id: String,
        authorization: Authorization,
        now: Instant,
    ) -> Result<(), Full> {
        self.lock()
            .transactions
            .insert(id, authorization, now + TRANSACTION_TTL, now)
    }

    /// Takes the transaction: a transaction chooses one person, once.
    pub(crate) fn take_transaction(&self, id: &str, now: Instant) -> Option<Authorization> {
        self.lock().transactions.remove(id, now)
    }

    pub(crate) fn put_code(&self, code: String, grant: Grant, now: Instant) -> Result<(), Full> {
        let entry = CodeEntry {
            grant,
            redeemed: false,
            access_token: None,
        };
        self.lock().codes.insert(code, entry, now + CODE_TTL, now)
    }

    /// Spends a code. A second use revokes the access token the first one gave (RFC 6749
    /// §4.1.2); the spent code is kept until it would have expired, to recognise such reuse.
    pub(crate) fn redeem_code(&self, code: &str, now: Instant) -> Redeemed {
        let mut inner = self.lock();
        let Some(entry) = inner.codes.get_mut(code, now) else {
            return Redeemed::Invalid;
        };
        if entry.redeemed {
            if let Some(token) = entry.access_token.take() {
                inner.tokens.remove(&token, now);
            }
            return Redeemed::Invalid;
        }
        entry.redeemed = true;
        Redeemed::Fresh(entry.grant.clone())
    }

    /// Issues an access token for a code's grant, remembered by the code for revocation.
    pub(crate) fn put_token(
        &self,
        code: &str,
        token: String,
        grant: Grant,
        now: Instant,
    ) -> Result<(), Full> {
        let mut inner = self.lock();
        inner
            .tokens
            .insert(token.clone(), grant, now + TOKEN_TTL, now)?;
        if let Some(entry) = inner.codes.get_mut(code, now) {
            entry.access_token = Some(token);
        }
        Ok(())
    }

    pub(crate) fn token(&self, token: &str, now: Instant) -> Option<Grant> {
        self.lock().tokens.get_mut(token, now).map(|g| g.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            authorization: Authorization {
                client_id: "c".into(),
                redirect_uri: "http://x/cb".into(),
                state: "s".into(),
                nonce: "n".into(),
                code_challenge: "x".into(),
                scopes: vec!["openid".into()],
            },
            person: &crate::persons::test_persons()[0],
            auth_time: 0,
        }
    }

    #[test]
    fn entries_expire() {
        let store = Store::new();
        let now = Instant::now();
        store.put_code("c1".into(), grant(), now).unwrap();
        assert!(matches!(
            store.redeem_code("c1", now + CODE_TTL),
            Redeemed::Invalid
        ));
        store
            .put_transaction("t".into(), grant().authorization, now)
            .unwrap();
        assert!(store.take_transaction("t", now + TRANSACTION_TTL).is_none());
        store
            .put_transaction("t".into(), grant().authorization, now)
            .unwrap();
        assert!(store.take_transaction("t", now).is_some());
        assert!(store.take_transaction("t", now).is_none());
    }

    #[test]
    fn reuse_revokes_the_token() {
        let store = Store::new();
        let now = Instant::now();
        store.put_code("c1".into(), grant(), now).unwrap();
        assert!(matches!(store.redeem_code("c1", now), Redeemed::Fresh(_)));
        store.put_token("c1", "at".into(), grant(), now).unwrap();
        assert!(store.token("at", now).is_some());
        assert!(matches!(store.redeem_code("c1", now), Redeemed::Invalid));
        assert!(store.token("at", now).is_none());
    }

    #[test]
    fn bounded() {
        let mut map = Expiring::new();
        let now = Instant::now();
        for i in 0..CAPACITY {
            map.insert(i.to_string(), (), now + CODE_TTL, now).unwrap();
        }
        assert_eq!(map.insert("x".into(), (), now + CODE_TTL, now), Err(Full));
        // Once the old entries have expired, room is made.
        let later = now + CODE_TTL;
        map.insert("x".into(), (), later + CODE_TTL, later).unwrap();
        assert_eq!(map.entries.len(), 1);
    }
}
