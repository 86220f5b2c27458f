//! `GET /sandbox/requests`: what the sandbox was sent, so a test can show what Sumsub would
//! learn (for example, that no fødselsnummer ever reaches it). Read-only; the last
//! [`CAPACITY`] requests, oldest first.

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

/// At most this many requests are kept.
pub(crate) const CAPACITY: usize = 1_000;

#[derive(Default)]
pub(crate) struct Received {
    requests: Mutex<VecDeque<Value>>,
}

impl Received {
    /// Keeps one request as it arrived: method, path with query, and body (as text).
    pub(crate) fn record(&self, method: &str, path_with_query: &str, body: &[u8]) {
        // A push or pop cannot leave the queue half-changed, so poison is harmless.
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        if requests.len() == CAPACITY {
            requests.pop_front();
        }
        requests.push_back(json!({
            "method": method,
            "path": path_with_query,
            "body": String::from_utf8_lossy(body),
        }));
    }

    /// `{"requests": [{"method", "path", "body"}, …]}`, oldest first.
    pub(crate) fn to_json(&self) -> Value {
        let requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        json!({ "requests": requests.iter().collect::<Vec<_>>() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_request_as_sent_and_only_the_latest() {
        let received = Received::default();
        received.record("POST", "/resources/applicants?levelName=l", b"{\"a\":1}");
        assert_eq!(
            received.to_json(),
            json!({"requests": [{"method": "POST", "path": "/resources/applicants?levelName=l", "body": "{\"a\":1}"}]})
        );
        for i in 0..CAPACITY {
            received.record("GET", &format!("/{i}"), b"");
        }
        let all = received.to_json();
        let requests = all["requests"].as_array().unwrap();
        assert_eq!(requests.len(), CAPACITY);
        assert_eq!(requests[0]["path"], "/0");
        assert_eq!(requests[CAPACITY - 1]["path"], format!("/{}", CAPACITY - 1));
    }
}
