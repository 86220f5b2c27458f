//! The Berlin Group requests the sandbox received (`GET /sandbox/requests`), newest last, at
//! most [`CAPACITY`]: bank, method, path (with the query), headers (lower-cased names) and the
//! body as JSON (`null` when there is none or it is not JSON).

use http::HeaderMap;
use serde_json::{json, Map, Value};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// At most this many requests are kept.
pub(crate) const CAPACITY: usize = 1_000;

#[derive(Default)]
pub(crate) struct Received {
    requests: Mutex<VecDeque<Value>>,
}

impl Received {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Value>> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn record(
        &self,
        bank: &str,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) {
        let mut names = Map::new();
        for name in headers.keys() {
            let values: Vec<String> = headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            names.insert(name.as_str().to_owned(), Value::String(values.join(", ")));
        }
        let body = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
        let entry = json!({
            "bank": bank,
            "method": method,
            "path": path,
            "headers": names,
            "body": body,
        });
        let mut requests = self.lock();
        while requests.len() >= CAPACITY {
            requests.pop_front();
        }
        requests.push_back(entry);
    }

    pub(crate) fn to_json(&self) -> Value {
        Value::Array(self.lock().iter().cloned().collect())
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_newest_last_and_bounded() {
        let received = Received::default();
        let mut headers = HeaderMap::new();
        headers.insert(
            "X-Request-ID",
            "99391c7e-ad88-49ec-a2ad-99ddcb1f7721".parse().unwrap(),
        );
        headers.append("accept", "application/json".parse().unwrap());
        headers.append("accept", "text/html".parse().unwrap());
        received.record("dnb", "POST", "/dnb/v1/consents", &headers, br#"{"a":1}"#);
        received.record(
            "dnb",
            "GET",
            "/dnb/v1/accounts?withBalance=true",
            &HeaderMap::new(),
            b"",
        );
        let all = received.to_json();
        assert_eq!(
            all[0]["headers"]["x-request-id"],
            "99391c7e-ad88-49ec-a2ad-99ddcb1f7721"
        );
        assert_eq!(all[0]["headers"]["accept"], "application/json, text/html");
        assert_eq!(all[0]["body"], json!({"a": 1}));
        assert_eq!(all[1]["path"], "/dnb/v1/accounts?withBalance=true");
        assert_eq!(all[1]["body"], Value::Null);
        for n in 0..CAPACITY {
            received.record(
                "nordea",
                "GET",
                &format!("/nordea/{n}"),
                &HeaderMap::new(),
                b"",
            );
        }
        let all = received.to_json();
        assert_eq!(all.as_array().unwrap().len(), CAPACITY);
        assert_eq!(all[0]["path"], "/nordea/0");
        assert_eq!(
            all[CAPACITY - 1]["path"],
            format!("/nordea/{}", CAPACITY - 1)
        );
        received.clear();
        assert_eq!(received.to_json(), json!([]));
    }
}
