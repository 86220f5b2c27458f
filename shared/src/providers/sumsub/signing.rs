//! HMAC signatures: the one on every API request (`X-App-Access-Sig`) and the digest on every
//! webhook (`X-Payload-Digest`).

use crate::secret::Secret;
use aws_lc_rs::hmac;

/// `X-App-Access-Sig`: lower-case hex HMAC-SHA256 under the app's secret key of
/// `ts + METHOD + path_with_query + body` (`ts` as sent in `X-App-Access-Ts`, the method
/// upper-cased, the path with its query exactly as sent, the body's raw bytes).
pub fn request_signature(
    secret: &Secret<String>,
    ts: &str,
    method: &str,
    path_with_query: &str,
    body: &[u8],
) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
    let mut context = hmac::Context::with_key(&key);
    context.update(ts.as_bytes());
    context.update(method.to_ascii_uppercase().as_bytes());
    context.update(path_with_query.as_bytes());
    context.update(body);
    hex::encode(context.sign().as_ref())
}

/// The algorithm of a webhook's `X-Payload-Digest`, named by `X-Payload-Digest-Alg`.
///
/// Sumsub lets each webhook choose: SHA1 is the legacy choice, SHA256 the dashboard's default,
/// SHA512 available. Drop accepts the one it is configured with (`SUMSUB_WEBHOOK_ALGORITHM`);
/// the header is always sent, and a webhook without it is refused rather than guessed at (see
/// [`verify_webhook`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlg {
    HmacSha1Hex,
    HmacSha256Hex,
    HmacSha512Hex,
}

impl DigestAlg {
    pub const ALL: [DigestAlg; 3] = [Self::HmacSha1Hex, Self::HmacSha256Hex, Self::HmacSha512Hex];

    /// From the header value (`HMAC_SHA256_HEX`, ...; surrounding spaces and letter case are
    /// ignored). `None` for anything else.
    pub fn from_header(value: &str) -> Option<Self> {
        let value = value.trim();
        Self::ALL
            .into_iter()
            .find(|alg| alg.header_value().eq_ignore_ascii_case(value))
    }

    /// The header value Sumsub sends.
    pub fn header_value(self) -> &'static str {
        match self {
            Self::HmacSha1Hex => "HMAC_SHA1_HEX",
            Self::HmacSha256Hex => "HMAC_SHA256_HEX",
            Self::HmacSha512Hex => "HMAC_SHA512_HEX",
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Self::HmacSha1Hex => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::HmacSha256Hex => hmac::HMAC_SHA256,
            Self::HmacSha512Hex => hmac::HMAC_SHA512,
        }
    }
}

/// Why a webhook is not believed. Carries nothing from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookAuthError {
    /// No `X-Payload-Digest` header, or an empty one.
    #[error("the webhook has no payload digest")]
    MissingDigest,
    /// `X-Payload-Digest-Alg` missing, or not one of [`DigestAlg`].
    #[error("the webhook's digest algorithm is missing or unknown")]
    UnknownAlgorithm,
    /// A known algorithm, but not the one configured: refused even with a correct digest, so a
    /// weaker algorithm cannot be chosen by whoever sends the webhook.
    #[error("the webhook's digest algorithm is not the accepted one")]
    AlgorithmNotAccepted,
    /// The digest is not the HMAC of the body under our secret (or not hex, or truncated).
    #[error("the webhook's payload digest does not match")]
    Mismatch,
}

/// The `X-Payload-Digest` Sumsub would send for `body`: lower-case hex HMAC of the raw bytes.
/// For sandboxes and tests that sign webhooks.
pub fn webhook_digest(secret: &Secret<String>, alg: DigestAlg, body: &[u8]) -> String {
    let key = hmac::Key::new(alg.hmac(), secret.expose().as_bytes());
    hex::encode(hmac::sign(&key, body).as_ref())
}

/// Checks a webhook: `alg` and `digest` are the values of `X-Payload-Digest-Alg` and
/// `X-Payload-Digest`, `raw_body` the bytes exactly as received (before any JSON parsing), and
/// `accepted` the one algorithm Drop is configured to take.
///
/// The digest is hex in either letter case; it is compared with the expected HMAC in constant
/// time. A missing digest is checked first, then the algorithm (a missing algorithm header is
/// refused, never defaulted; any but `accepted` is refused), then the digest itself.
pub fn verify_webhook(
    secret: &Secret<String>,
    accepted: DigestAlg,
    alg: Option<&str>,
    digest: Option<&str>,
    raw_body: &[u8],
) -> Result<(), WebhookAuthError> {
    let digest = digest
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .ok_or(WebhookAuthError::MissingDigest)?;
    let alg = alg
        .and_then(DigestAlg::from_header)
        .ok_or(WebhookAuthError::UnknownAlgorithm)?;
    if alg != accepted {
        return Err(WebhookAuthError::AlgorithmNotAccepted);
    }
    let tag = hex::decode(digest).map_err(|_| WebhookAuthError::Mismatch)?;
    let key = hmac::Key::new(alg.hmac(), secret.expose().as_bytes());
    hmac::verify(&key, raw_body, &tag).map_err(|_| WebhookAuthError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret<String> {
        Secret::new(s.to_owned())
    }

    #[test]
    fn method_is_upper_cased_and_parts_are_concatenated() {
        let s = secret("k");
        assert_eq!(
            request_signature(&s, "1", "post", "/p?q=1", b"{}"),
            request_signature(&s, "1POST/p", "", "?q=1{}", b"")
        );
    }

    #[test]
    fn algorithm_header_values_parse_and_round_trip() {
        for alg in DigestAlg::ALL {
            assert_eq!(DigestAlg::from_header(alg.header_value()), Some(alg));
        }
        assert_eq!(
            DigestAlg::from_header(" hmac_sha512_hex "),
            Some(DigestAlg::HmacSha512Hex)
        );
        for bad in [
            "",
            "HMAC_SHA256",
            "SHA256",
            "HMAC_MD5_HEX",
            "HMAC_SHA256_BASE64",
        ] {
            assert_eq!(DigestAlg::from_header(bad), None, "{bad}");
        }
    }

    #[test]
    fn digest_lengths_follow_the_algorithm() {
        let s = secret("k");
        let lens: Vec<usize> = DigestAlg::ALL
            .iter()
            .map(|a| webhook_digest(&s, *a, b"x").len())
            .collect();
        assert_eq!(lens, vec![40, 64, 128]);
    }

    #[test]
    fn odd_length_or_non_hex_digests_are_mismatches() {
        let s = secret("k");
        let good = webhook_digest(&s, DigestAlg::HmacSha256Hex, b"x");
        let alg = Some("HMAC_SHA256_HEX");
        let sha256 = DigestAlg::HmacSha256Hex;
        assert_eq!(verify_webhook(&s, sha256, alg, Some(&good), b"x"), Ok(()));
        let odd = good.get(1..).unwrap_or_default();
        assert_eq!(
            verify_webhook(&s, sha256, alg, Some(odd), b"x"),
            Err(WebhookAuthError::Mismatch)
        );
        let not_hex = format!("zz{}", good.get(2..).unwrap_or_default());
        assert_eq!(
            verify_webhook(&s, sha256, alg, Some(&not_hex), b"x"),
            Err(WebhookAuthError::Mismatch)
        );
        assert_eq!(
            verify_webhook(&s, sha256, alg, Some("   "), b"x"),
            Err(WebhookAuthError::MissingDigest)
        );
    }

    /// RFC 4231 §4.2 (test case 1) and §4.3 (test case 2): key, data and HMAC-SHA-256 /
    /// HMAC-SHA-512 as published.
    const RFC4231: [(&[u8], &[u8], &str, &str); 2] = [
        (
            &[0x0b; 20],
            b"Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
             daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        ),
        (
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
    ];

    #[test]
    fn webhook_digests_match_rfc_4231() {
        for (key, data, sha256, sha512) in RFC4231 {
            // The webhook secret is text; the vectors' keys are ASCII or bytes below 0x80.
            let key = secret(std::str::from_utf8(key).unwrap_or_default());
            assert_eq!(webhook_digest(&key, DigestAlg::HmacSha256Hex, data), sha256);
            assert_eq!(webhook_digest(&key, DigestAlg::HmacSha512Hex, data), sha512);
            for (alg, digest) in [
                (DigestAlg::HmacSha256Hex, sha256),
                (DigestAlg::HmacSha512Hex, sha512),
            ] {
                let header = Some(alg.header_value());
                assert_eq!(
                    verify_webhook(&key, alg, header, Some(digest), data),
                    Ok(())
                );
                let upper = digest.to_ascii_uppercase();
                assert_eq!(
                    verify_webhook(&key, alg, header, Some(&upper), data),
                    Ok(())
                );
            }
        }
    }

    #[test]
    fn only_the_configured_algorithm_is_accepted_even_with_a_correct_digest() {
        let (key, data, sha256, sha512) = RFC4231[1];
        let key = secret(std::str::from_utf8(key).unwrap_or_default());
        // RFC 2202 §3, test case 2: HMAC-SHA-1 of the same key and data.
        let sha1 = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";
        for (accepted, header, digest) in [
            (DigestAlg::HmacSha256Hex, "HMAC_SHA1_HEX", sha1),
            (DigestAlg::HmacSha256Hex, "HMAC_SHA512_HEX", sha512),
            (DigestAlg::HmacSha512Hex, "HMAC_SHA256_HEX", sha256),
        ] {
            assert_eq!(
                verify_webhook(&key, accepted, Some(header), Some(digest), data),
                Err(WebhookAuthError::AlgorithmNotAccepted),
                "{header} when {accepted:?} is configured"
            );
        }
        assert_eq!(
            verify_webhook(
                &key,
                DigestAlg::HmacSha1Hex,
                Some("HMAC_SHA1_HEX"),
                Some(sha1),
                data
            ),
            Ok(())
        );
    }
}
