//! Sumsub's two HMAC-SHA256 schemes, written here independently of Drop's client:
//!
//! - App-token requests carry `X-App-Access-Sig` = lower-case hex HMAC-SHA256(secret key,
//!   ts + METHOD + path with query + raw body).
//! - Webhooks carry `X-Payload-Digest` = lower-case hex HMAC-SHA256(webhook secret, raw body),
//!   announced by `X-Payload-Digest-Alg: HMAC_SHA256_HEX`.

use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;

/// The value of `X-Payload-Digest-Alg` for [`payload_digest`].
pub(crate) const DIGEST_ALG: &str = "HMAC_SHA256_HEX";

/// The bytes a request signature covers: `ts + METHOD + path_with_query + body`.
fn string_to_sign(ts: &str, method: &str, path_with_query: &str, body: &[u8]) -> Vec<u8> {
    let mut message =
        Vec::with_capacity(ts.len() + method.len() + path_with_query.len() + body.len());
    message.extend_from_slice(ts.as_bytes());
    message.extend_from_slice(method.as_bytes());
    message.extend_from_slice(path_with_query.as_bytes());
    message.extend_from_slice(body);
    message
}

fn hmac_sha256_hex(secret: &str, message: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hex::encode(hmac::sign(&key, message).as_ref())
}

/// The `X-App-Access-Sig` a client computes for a request (the sandbox only verifies).
#[cfg(test)]
pub(crate) fn request_signature(
    secret: &str,
    ts: &str,
    method: &str,
    path_with_query: &str,
    body: &[u8],
) -> String {
    hmac_sha256_hex(secret, &string_to_sign(ts, method, path_with_query, body))
}

/// Whether `signature` (hex) is the request's signature, compared in constant time.
pub(crate) fn request_signature_matches(
    secret: &str,
    signature: &str,
    ts: &str,
    method: &str,
    path_with_query: &str,
    body: &[u8],
) -> bool {
    let Ok(tag) = hex::decode(signature) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let message = string_to_sign(ts, method, path_with_query, body);
    hmac::verify(&key, &message, &tag).is_ok()
}

/// The `X-Payload-Digest` of a webhook body.
pub(crate) fn payload_digest(secret: &str, body: &[u8]) -> String {
    hmac_sha256_hex(secret, body)
}

/// Whether `a == b`, in time that depends on neither value: both are hashed first, so not even
/// the length of the secret leaks.
pub(crate) fn secrets_equal(a: &str, b: &str) -> bool {
    let a = digest(&SHA256, a.as_bytes());
    let b = digest(&SHA256, b.as_bytes());
    a.as_ref().ct_eq(b.as_ref()).into()
}

#[cfg(test)]
mod tests {
    //! Vectors from `shared/testdata/sumsub-samples.json` (see its SOURCES.md), copied here so
    //! the sandbox's tests stand on their own as an independent implementation.
    use super::*;

    #[test]
    fn request_signature_matches_the_docs_vector() {
        // request_signing_vectors[1]
        let secret = "Hej2ch71kG2kTd1iIUDZFNsO5C1lh5Gq";
        let path = "/resources/accessTokens?userId=cfd20712-24a2-4c7d-9ab0-146f3c142335\
                    &levelName=basic-kyc-level&ttlInSecs=600";
        let expected = "1e1856be1c1e1ff113e5664acac6b423ffefe04ad42ff36567622ef56f62c4b1";
        assert_eq!(
            request_signature(secret, "1607551635", "POST", path, b""),
            expected
        );
        assert!(request_signature_matches(
            secret,
            expected,
            "1607551635",
            "POST",
            path,
            b""
        ));
        // Upper-case hex is the same tag.
        assert!(request_signature_matches(
            secret,
            &expected.to_uppercase(),
            "1607551635",
            "POST",
            path,
            b""
        ));
        assert!(!request_signature_matches(
            secret,
            expected,
            "1607551636",
            "POST",
            path,
            b""
        ));
        assert!(!request_signature_matches(
            secret,
            "not hex",
            "1607551635",
            "POST",
            path,
            b""
        ));
        assert!(!request_signature_matches(
            secret,
            &expected[..62],
            "1607551635",
            "POST",
            path,
            b""
        ));
    }

    #[test]
    fn request_signature_covers_the_body() {
        // request_signing_vectors[0]: ts "null", GET, "/resources/status/api", body "body".
        assert_eq!(
            request_signature("secret", "null", "GET", "/resources/status/api", b"body"),
            "e19364f323b9bb4cc377e1735f5bc8f1555e749393c7b32f0a7514e6b91a126a"
        );
    }

    #[test]
    fn payload_digests_match_the_webhook_vectors() {
        let created = "{\n  \"applicantId\": \"5c9e177b0a975a6eeccf5960\",\n  \"inspectionId\": \"5c9e177b0a975a6eeccf5961\",\n  \"correlationId\": \"req-63f92830-4d68-4eee-98d5-875d53a12258\",\n  \"levelName\": \"basic-kyc-level\",\n  \"externalUserId\": \"12672\",\n  \"type\": \"applicantCreated\",\n  \"sandboxMode\": \"false\",\n  \"reviewStatus\": \"init\",\n  \"createdAtMs\": \"2020-02-21 13:23:19.002\",\n  \"clientId\": \"coolClientId\"\n}";
        assert_eq!(
            payload_digest("webhooksecret", created.as_bytes()),
            "e520b9e95ab07ffb96e9927d78cdeab04f6938c8221dce80607c4243fe8d2546"
        );
        let green = "{\n  \"applicantId\": \"5cb56e8e0a975a35f333cb83\",\n  \"inspectionId\": \"5cb56e8e0a975a35f333cb84\",\n  \"correlationId\": \"req-a260b669-4f14-4bb5-a4c5-ac0218acb9a4\",\n  \"externalUserId\": \"123\",\n  \"levelName\": \"basic-kyc-level\",\n  \"type\": \"applicantReviewed\",\n  \"reviewResult\": {\n    \"reviewAnswer\": \"GREEN\"\n  },\n  \"reviewStatus\": \"completed\",\n  \"createdAtMs\": \"2020-02-21 13:23:19.321\"\n}";
        assert_eq!(
            payload_digest("webhooksecret", green.as_bytes()),
            "5a2e30f8fc250abc21d32223a9a3e6bd884d30383351b392e7a2aa27257edce5"
        );
        let red_final = green.replace(
            "\"reviewAnswer\": \"GREEN\"\n",
            "\"reviewAnswer\": \"RED\",\n    \"reviewRejectType\": \"FINAL\"\n",
        );
        assert_eq!(
            payload_digest("webhooksecret", red_final.as_bytes()),
            "52ce0a5965cac714ecb005959c268f89845bee75c0b0b6c43c6e78aa102fd038"
        );
    }

    #[test]
    fn secrets_compare() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
        assert!(!secrets_equal("", "a"));
    }
}
