//! The sandbox's memory: applicants by id and by external user id, at most [`CAPACITY`] of
//! them (a full store forgets its oldest applicant to make room).
//!
//! Kept in memory only, or also in a JSON file (see [`Store::open`]) so that applicants outlive
//! the process, as they do with Sumsub: `cargo xtask dev` keeps the file beside its database,
//! whose users still name the applicants an earlier run created.

use crate::review::{Outcome, ReviewResult, ReviewStatus};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// At most this many applicants are held.
pub(crate) const CAPACITY: usize = 10_000;

/// `fixedInfo`: the personal data the client vouches for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FixedInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dob: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Applicant {
    pub id: String,
    pub inspection_id: String,
    pub external_user_id: String,
    pub level_name: String,
    pub created_at: String,
    pub fixed_info: FixedInfo,
    pub review_status: ReviewStatus,
    pub review_result: Option<ReviewResult>,
    /// Counts the reviews started; a simulated review only finishes if none started after it.
    pub review_seq: u64,
}

impl Applicant {
    /// The applicant as `GET /resources/applicants/…/one` answers.
    pub(crate) fn to_json(&self) -> Value {
        let mut review = json!({
            "reviewStatus": self.review_status,
            "levelName": self.level_name,
        });
        if let Some(result) = &self.review_result {
            review["reviewResult"] = json!(result);
        }
        json!({
            "id": self.id,
            "createdAt": self.created_at,
            "inspectionId": self.inspection_id,
            "externalUserId": self.external_user_id,
            "levelName": self.level_name,
            "type": "individual",
            "fixedInfo": self.fixed_info,
            "review": review,
        })
    }
}

/// Another applicant has that external user id already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Duplicate;

#[derive(Default)]
struct Inner {
    by_id: HashMap<String, Applicant>,
    by_external_id: HashMap<String, String>,
    /// Applicant ids, oldest first.
    order: VecDeque<String>,
}

impl Inner {
    /// Adds an applicant whose external user id is new, forgetting the oldest if full.
    fn add(&mut self, applicant: Applicant) {
        while self.by_id.len() >= CAPACITY {
            self.forget_oldest();
        }
        self.by_external_id
            .insert(applicant.external_user_id.clone(), applicant.id.clone());
        self.order.push_back(applicant.id.clone());
        self.by_id.insert(applicant.id.clone(), applicant);
    }

    fn forget_oldest(&mut self) {
        if let Some(id) = self.order.pop_front() {
            if let Some(applicant) = self.by_id.remove(&id) {
                self.by_external_id.remove(&applicant.external_user_id);
            }
        }
    }
}

/// All the applicants, behind one lock that is never held across an await.
#[derive(Default)]
pub(crate) struct Store {
    inner: Mutex<Inner>,
    /// Where every change is written, if anywhere.
    file: Option<PathBuf>,
}

impl Store {
    /// A store kept in `file`: the applicants it holds (oldest first) are read now, and every
    /// change is written back (to a temporary file, then renamed over it). A missing file is an
    /// empty store; an unreadable one is logged and started afresh. A review that was under way
    /// when the file was last written has no simulation left to finish it: it is back at `init`,
    /// and the next SDK token starts it again.
    pub(crate) fn open(file: PathBuf) -> Self {
        let mut inner = Inner::default();
        match std::fs::read(&file) {
            Ok(bytes) => match serde_json::from_slice::<Vec<Applicant>>(&bytes) {
                Ok(applicants) => {
                    for mut applicant in applicants {
                        if applicant.review_status == ReviewStatus::Pending {
                            applicant.review_status = ReviewStatus::Init;
                        }
                        inner.add(applicant);
                    }
                }
                Err(error) => tracing::warn!(
                    file = %file.display(),
                    %error,
                    "sumsub sandbox: the state file is not readable; starting empty"
                ),
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(
                file = %file.display(),
                %error,
                "sumsub sandbox: cannot read the state file; starting empty"
            ),
        }
        Self {
            inner: Mutex::new(inner),
            file: Some(file),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update below leaves the maps consistent before it could panic, so poison is
        // harmless.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the store to its file, if it has one (under the lock, so writes keep their order).
    fn save(&self, inner: &Inner) {
        let Some(file) = &self.file else {
            return;
        };
        let applicants: Vec<&Applicant> = inner
            .order
            .iter()
            .filter_map(|id| inner.by_id.get(id))
            .collect();
        if let Err(error) = write_atomically(file, &applicants) {
            tracing::warn!(file = %file.display(), %error, "sumsub sandbox: cannot write the state file");
        }
    }

    pub(crate) fn insert(&self, applicant: Applicant) -> Result<(), Duplicate> {
        let mut inner = self.lock();
        if inner
            .by_external_id
            .contains_key(&applicant.external_user_id)
        {
            return Err(Duplicate);
        }
        inner.add(applicant);
        self.save(&inner);
        Ok(())
    }

    pub(crate) fn by_id(&self, id: &str) -> Option<Applicant> {
        self.lock().by_id.get(id).cloned()
    }

    pub(crate) fn by_external_id(&self, external_user_id: &str) -> Option<Applicant> {
        let inner = self.lock();
        let id = inner.by_external_id.get(external_user_id)?;
        inner.by_id.get(id).cloned()
    }

    /// Puts the applicant in review (`pending`) and returns it, unless it is unknown or already
    /// pending.
    pub(crate) fn begin_review(&self, id: &str) -> Option<Applicant> {
        let mut inner = self.lock();
        let applicant = inner.by_id.get_mut(id)?;
        if applicant.review_status == ReviewStatus::Pending {
            return None;
        }
        applicant.review_seq += 1;
        applicant.review_status = ReviewStatus::Pending;
        applicant.review_result = None;
        let applicant = applicant.clone();
        self.save(&inner);
        Some(applicant)
    }

    /// Ends the review numbered `seq` with `outcome`, unless another review has started since
    /// (or the applicant is gone): then `None`, and nothing changes.
    pub(crate) fn finish_review(&self, id: &str, seq: u64, outcome: Outcome) -> Option<Applicant> {
        let mut inner = self.lock();
        let applicant = inner.by_id.get_mut(id)?;
        if applicant.review_seq != seq {
            return None;
        }
        applicant.review_status = outcome.status;
        applicant.review_result = Some(outcome.result);
        let applicant = applicant.clone();
        self.save(&inner);
        Some(applicant)
    }

    /// Ends any review now with `outcome`, superseding a simulated one still running.
    pub(crate) fn decide(&self, id: &str, outcome: Outcome) -> Option<Applicant> {
        let mut inner = self.lock();
        let applicant = inner.by_id.get_mut(id)?;
        applicant.review_seq += 1;
        applicant.review_status = outcome.status;
        applicant.review_result = Some(outcome.result);
        let applicant = applicant.clone();
        self.save(&inner);
        Some(applicant)
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

    fn applicant(n: usize) -> Applicant {
        Applicant {
            id: format!("id{n}"),
            inspection_id: format!("insp{n}"),
            external_user_id: format!("user{n}"),
            level_name: "basic-kyc-level".into(),
            created_at: "2020-02-21 13:23:16".into(),
            fixed_info: FixedInfo::default(),
            review_status: ReviewStatus::Init,
            review_result: None,
            review_seq: 0,
        }
    }

    #[test]
    fn one_applicant_per_external_user_id() {
        let store = Store::default();
        store.insert(applicant(1)).unwrap();
        let mut again = applicant(2);
        again.external_user_id = "user1".into();
        assert_eq!(store.insert(again), Err(Duplicate));
        assert_eq!(store.by_external_id("user1").unwrap().id, "id1");
        assert!(store.by_id("id2").is_none());
    }

    #[test]
    fn reviews_begin_once_and_the_latest_wins() {
        let store = Store::default();
        store.insert(applicant(1)).unwrap();
        let first = store.begin_review("id1").unwrap();
        assert_eq!(first.review_status, ReviewStatus::Pending);
        assert!(store.begin_review("id1").is_none(), "already pending");
        // A decision supersedes the simulated review...
        let decided = store.decide("id1", Outcome::red_final()).unwrap();
        assert_eq!(decided.review_status, ReviewStatus::Completed);
        // ...which then finishes without effect.
        assert!(store
            .finish_review("id1", first.review_seq, Outcome::green())
            .is_none());
        assert_eq!(
            store.by_id("id1").unwrap().review_result,
            Some(Outcome::red_final().result)
        );
        let second = store.begin_review("id1").unwrap();
        let done = store
            .finish_review("id1", second.review_seq, Outcome::pep())
            .unwrap();
        assert_eq!(done.review_status, ReviewStatus::OnHold);
        assert!(store.begin_review("unknown").is_none());
    }

    #[test]
    fn bounded() {
        let store = Store::default();
        for n in 0..=CAPACITY {
            store.insert(applicant(n)).unwrap();
        }
        let inner = store.lock();
        assert_eq!(inner.by_id.len(), CAPACITY);
        assert_eq!(inner.by_external_id.len(), CAPACITY);
        assert_eq!(inner.order.len(), CAPACITY);
        assert!(!inner.by_id.contains_key("id0"), "the oldest is forgotten");
        assert!(!inner.by_external_id.contains_key("user0"));
        assert!(inner.by_id.contains_key(&format!("id{CAPACITY}")));
    }

    #[test]
    fn a_store_with_a_file_keeps_its_applicants_for_the_next_run() {
        let dir = std::env::temp_dir().join(format!("sumsub-sandbox-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("state.json");
        {
            let store = Store::open(file.clone());
            store.insert(applicant(1)).unwrap();
            store.insert(applicant(2)).unwrap();
            let review = store.begin_review("id1").unwrap();
            store
                .finish_review("id1", review.review_seq, Outcome::green())
                .unwrap();
            store.begin_review("id2").unwrap();
        }
        let store = Store::open(file.clone());
        let first = store.by_external_id("user1").unwrap();
        assert_eq!(first.id, "id1");
        assert_eq!(first.review_status, ReviewStatus::Completed);
        assert_eq!(first.review_result, Some(Outcome::green().result));
        // The review under way when the first store stopped starts again with the next token.
        assert_eq!(
            store.by_id("id2").unwrap().review_status,
            ReviewStatus::Init
        );
        assert!(store.begin_review("id2").is_some());
        assert_eq!(store.lock().order, ["id1", "id2"]);
        let mut again = applicant(3);
        again.external_user_id = "user2".into();
        assert_eq!(store.insert(again), Err(Duplicate));

        // A damaged file is an empty store, not a failure.
        std::fs::write(&file, b"{not json").unwrap();
        assert!(Store::open(file).by_id("id1").is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn json_shape() {
        let mut a = applicant(1);
        a.fixed_info.first_name = Some("Kari".into());
        let v = a.to_json();
        assert_eq!(v["review"]["reviewStatus"], "init");
        assert!(v["review"].get("reviewResult").is_none());
        assert_eq!(v["fixedInfo"], json!({ "firstName": "Kari" }));
        a.review_status = ReviewStatus::Completed;
        a.review_result = Some(Outcome::green().result);
        assert_eq!(
            a.to_json()["review"]["reviewResult"],
            json!({ "reviewAnswer": "GREEN" })
        );
    }
}
