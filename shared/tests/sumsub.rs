//! The Sumsub module: signatures and webhook digests against published vectors
//! (`testdata/sumsub-samples.json`), webhook parsing of sample payloads, and `SumsubClient`
//! against an in-process fake Sumsub (a hyper server on 127.0.0.1) that checks the signature of
//! every request with its own HMAC (built here from SHA-256, independent of the module) and
//! answers 401 to a bad one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use bytes::Bytes;
use drop_shared::error::log_chain;
use drop_shared::providers::outbound::{OutboundError, RetryPolicy, DEFAULT_MAX_BODY_BYTES};
use drop_shared::providers::sumsub::{
    request_signature, verify_webhook, webhook_digest, ApplicantInfo, DigestAlg, EventKind,
    RejectType, ReviewAnswer, ScreeningKind, SumsubClient, SumsubError, WebhookAuthError,
    WebhookEvent,
};
use drop_shared::secret::Secret;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SAMPLES: &str = include_str!("../testdata/sumsub-samples.json");

const APP_TOKEN: &str = "sbx:app-token-for-tests";
const SECRET_KEY: &str = "sumsub-secret-key-for-tests";
const LEVEL: &str = "basic-kyc-level";
const USER_ID: &str = "0190f1e2-7c4b-7d2a-9a8e-3f5b6c7d8e9f";

fn samples() -> Value {
    serde_json::from_str(SAMPLES).unwrap()
}

fn secret(s: &str) -> Secret<String> {
    Secret::new(s.to_owned())
}

fn text<'a>(v: &'a Value, name: &str) -> &'a str {
    v.get(name)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{name} missing"))
}

/// HMAC-SHA256 (RFC 2104) from plain SHA-256: the fake's own check, independent of aws-lc-rs.
fn independent_hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize();
    hex::encode(outer)
}

// ---------------------------------------------------------------------------------------------
// the fake Sumsub
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    body: Vec<u8>,
    content_type: Option<String>,
    ts: Option<String>,
    signature_ok: bool,
}

struct FakeState {
    applicants: Vec<(String, String)>,
    /// Create the next applicant, then answer 503 as if the answer were lost.
    lose_next_create_answer: bool,
    /// Answer this many requests with 503 before serving.
    fail_next: u32,
    always_fail: bool,
    /// `review` of every applicant document served.
    review: Value,
    log: Vec<Recorded>,
}

struct Fake {
    base_url: String,
    state: Arc<Mutex<FakeState>>,
}

impl Fake {
    async fn start() -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(FakeState {
            applicants: Vec::new(),
            lose_next_create_answer: false,
            fail_next: 0,
            always_fail: false,
            review: json!({"reviewStatus": "init"}),
            log: Vec::new(),
        }));
        let served = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = served.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Fake { base_url, state }
    }

    fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    fn log(&self) -> Vec<Recorded> {
        self.with(|s| s.log.clone())
    }

    fn client(&self) -> SumsubClient {
        client_for(&self.base_url, SECRET_KEY)
    }
}

fn client_for(base_url: &str, secret_key: &str) -> SumsubClient {
    SumsubClient::new(
        base_url.to_owned(),
        secret(APP_TOKEN),
        secret(secret_key),
        LEVEL.to_owned(),
    )
    .with_retry_policy(fast_policy())
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(5),
        timeout: Duration::from_millis(1500),
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
    }
}

fn kari() -> ApplicantInfo {
    ApplicantInfo {
        first_name: "Kari".to_owned(),
        last_name: "Nordmann".to_owned(),
        dob: time::macros::date!(1986 - 10 - 15),
    }
}

fn answer(status: u16, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// A Sumsub-shaped error body (`errorName` values are the fake's own).
fn error(status: u16, name: &str) -> Response<Full<Bytes>> {
    answer(
        status,
        json!({
            "description": format!("fake Sumsub: {name}"),
            "code": status,
            "correlationId": "req-00000000-0000-0000-0000-000000000000",
            "errorName": name,
        }),
    )
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn handle(
    state: Arc<Mutex<FakeState>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().as_str().to_owned();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let token = header(&req, "x-app-token");
    let ts = header(&req, "x-app-access-ts");
    let signature = header(&req, "x-app-access-sig");
    let content_type = header(&req, "content-type");
    let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();

    // The check Sumsub makes: known app token, a fresh timestamp, and the HMAC over
    // ts + method + path with query + body under the app's secret key.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let fresh = ts
        .as_deref()
        .and_then(|t| t.parse::<i64>().ok())
        .is_some_and(|t| (now - t).abs() <= 60);
    let expected = ts.as_deref().map(|ts| {
        let mut message = format!("{ts}{method}{path}").into_bytes();
        message.extend_from_slice(&body);
        independent_hmac_sha256_hex(SECRET_KEY.as_bytes(), &message)
    });
    let signature_ok =
        token.as_deref() == Some(APP_TOKEN) && fresh && expected.is_some() && expected == signature;

    let mut s = state.lock().unwrap();
    s.log.push(Recorded {
        method: method.clone(),
        path: path.clone(),
        body: body.clone(),
        content_type,
        ts,
        signature_ok,
    });
    if !signature_ok {
        return Ok(error(401, "fake-signature-mismatch"));
    }
    if s.always_fail {
        return Ok(error(503, "fake-unavailable Kari Nordmann"));
    }
    if s.fail_next > 0 {
        s.fail_next -= 1;
        return Ok(error(503, "fake-unavailable"));
    }

    let create_path = format!("/resources/applicants?levelName={LEVEL}");
    let reply = match (method.as_str(), path.as_str()) {
        ("POST", p) if p == create_path => {
            let request: Value = serde_json::from_slice(&body).unwrap();
            let external = text(&request, "externalUserId").to_owned();
            if s.applicants.iter().any(|(e, _)| *e == external) {
                error(409, "fake-applicant-exists")
            } else {
                let id = format!("65f0c0ffee{:014x}", s.applicants.len() + 1);
                s.applicants.push((external.clone(), id.clone()));
                if s.lose_next_create_answer {
                    s.lose_next_create_answer = false;
                    error(503, "fake-answer-lost")
                } else {
                    answer(
                        201,
                        json!({"id": id, "externalUserId": external, "review": {"reviewStatus": "init"}}),
                    )
                }
            }
        }
        ("POST", "/resources/accessTokens/sdk") => {
            let request: Value = serde_json::from_slice(&body).unwrap();
            answer(
                200,
                json!({
                    "token": format!("_act-sbx-jwt-for-{}", text(&request, "userId")),
                    "userId": text(&request, "userId"),
                }),
            )
        }
        ("GET", p) if p.starts_with("/resources/applicants/") && p.ends_with("/one") => {
            let key = percent_decode(&p["/resources/applicants/".len()..p.len() - "/one".len()]);
            let found = match key.strip_prefix("-;externalUserId=") {
                Some(external) => s.applicants.iter().find(|(e, _)| e == external),
                None => s.applicants.iter().find(|(_, id)| *id == key),
            };
            match found {
                Some((external, id)) => answer(
                    200,
                    json!({"id": id, "externalUserId": external, "review": s.review}),
                ),
                None => error(404, "fake-not-found"),
            }
        }
        _ => error(404, "fake-no-route"),
    };
    Ok(reply)
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// In a module so that `cargo test sumsub` selects them.
mod sumsub {
    use super::*;

    // -----------------------------------------------------------------------------------------
    // request signatures
    // -----------------------------------------------------------------------------------------

    #[test]
    fn request_signatures_match_both_published_vectors() {
        let vectors = samples()["request_signing_vectors"].clone();
        let vectors = vectors.as_array().unwrap();
        assert_eq!(vectors.len(), 2);

        // batm_public: no ts header, so the string to sign starts with the literal "null".
        let v = &vectors[0];
        assert_eq!(
            text(v, "string_to_sign"),
            "nullGET/resources/status/apibody"
        );
        let sig = request_signature(
            &secret(text(v, "secret")),
            "null",
            "GET",
            "/resources/status/api",
            b"body",
        );
        assert_eq!(sig, text(v, "X-App-Access-Sig"));

        let v = &vectors[1];
        let (ts, method, path, body) = (
            text(v, "X-App-Access-Ts"),
            text(v, "method"),
            text(v, "path_with_query"),
            text(v, "body"),
        );
        assert_eq!(
            format!("{ts}{method}{path}{body}"),
            text(v, "string_to_sign")
        );
        let sig = request_signature(
            &secret(text(v, "secret")),
            ts,
            method,
            path,
            body.as_bytes(),
        );
        assert_eq!(sig, text(v, "X-App-Access-Sig"));
    }

    #[test]
    fn the_fakes_own_hmac_agrees_with_the_vectors() {
        for v in samples()["request_signing_vectors"].as_array().unwrap() {
            assert_eq!(
                independent_hmac_sha256_hex(
                    text(v, "secret").as_bytes(),
                    text(v, "string_to_sign").as_bytes()
                ),
                text(v, "X-App-Access-Sig")
            );
        }
    }

    // -----------------------------------------------------------------------------------------
    // webhook digests
    // -----------------------------------------------------------------------------------------

    fn digest_vectors() -> Vec<Value> {
        samples()["webhook_digest_vectors"]
            .as_array()
            .unwrap()
            .clone()
    }

    #[test]
    fn every_published_webhook_digest_verifies_and_is_reproduced() {
        let vectors = digest_vectors();
        assert_eq!(vectors.len(), 3);
        for v in &vectors {
            let name = text(v, "name");
            let body = text(v, "raw_body_utf8").as_bytes();
            let s = secret(text(v, "secret"));
            let alg = text(v, "header_X-Payload-Digest-Alg");
            let digest = text(v, "header_X-Payload-Digest");
            assert_eq!(
                verify_webhook(&s, DigestAlg::HmacSha256Hex, Some(alg), Some(digest), body),
                Ok(()),
                "{name}"
            );
            let parsed = DigestAlg::from_header(alg).unwrap();
            assert_eq!(parsed, DigestAlg::HmacSha256Hex);
            assert_eq!(webhook_digest(&s, parsed, body), digest, "{name}");
        }
    }

    #[test]
    fn forged_or_damaged_webhooks_are_refused() {
        let vectors = digest_vectors();
        let v = &vectors[0];
        let body = text(v, "raw_body_utf8").as_bytes();
        let s = secret(text(v, "secret"));
        let alg = Some("HMAC_SHA256_HEX");
        let digest = text(v, "header_X-Payload-Digest");
        let check =
            |secret: &Secret<String>, alg: Option<&str>, digest: Option<&str>, body: &[u8]| {
                verify_webhook(secret, DigestAlg::HmacSha256Hex, alg, digest, body)
            };

        // Wrong secret.
        assert_eq!(
            check(&secret("not-the-webhook-secret"), alg, Some(digest), body),
            Err(WebhookAuthError::Mismatch)
        );
        // The digest of another body.
        let other_digest = text(&vectors[1], "header_X-Payload-Digest");
        assert_eq!(
            check(&s, alg, Some(other_digest), body),
            Err(WebhookAuthError::Mismatch)
        );
        // The same body with one byte more (raw bytes, not JSON equivalence, are signed).
        let mut longer = body.to_vec();
        longer.push(b'\n');
        assert_eq!(
            check(&s, alg, Some(digest), &longer),
            Err(WebhookAuthError::Mismatch)
        );
        // Upper-case hex is accepted (hex is case-insensitive); surrounding spaces too.
        assert_eq!(
            check(&s, alg, Some(&digest.to_ascii_uppercase()), body),
            Ok(())
        );
        assert_eq!(check(&s, alg, Some(&format!(" {digest} ")), body), Ok(()));
        // Truncated: a whole byte short, half a byte short, and empty.
        assert_eq!(
            check(&s, alg, Some(&digest[..62]), body),
            Err(WebhookAuthError::Mismatch)
        );
        assert_eq!(
            check(&s, alg, Some(&digest[..63]), body),
            Err(WebhookAuthError::Mismatch)
        );
        assert_eq!(
            check(&s, alg, Some(""), body),
            Err(WebhookAuthError::MissingDigest)
        );
        // A longer digest (SHA-512 length) under a SHA-256 header.
        let long = format!("{digest}{digest}");
        assert_eq!(
            check(&s, alg, Some(&long), body),
            Err(WebhookAuthError::Mismatch)
        );
        // Unknown or missing algorithm; missing digest (checked first).
        for unknown in ["HMAC_MD5_HEX", "HMAC_SHA256_BASE64", "sha256", ""] {
            assert_eq!(
                check(&s, Some(unknown), Some(digest), body),
                Err(WebhookAuthError::UnknownAlgorithm),
                "{unknown}"
            );
        }
        assert_eq!(
            check(&s, None, Some(digest), body),
            Err(WebhookAuthError::UnknownAlgorithm)
        );
        assert_eq!(
            check(&s, alg, None, body),
            Err(WebhookAuthError::MissingDigest)
        );
        assert_eq!(
            check(&s, None, None, body),
            Err(WebhookAuthError::MissingDigest)
        );
        // The right digest under another algorithm's name: not the accepted algorithm, and not
        // that algorithm's digest either when it is the accepted one.
        assert_eq!(
            check(&s, Some("HMAC_SHA512_HEX"), Some(digest), body),
            Err(WebhookAuthError::AlgorithmNotAccepted)
        );
        assert_eq!(
            verify_webhook(
                &s,
                DigestAlg::HmacSha512Hex,
                Some("HMAC_SHA512_HEX"),
                Some(digest),
                body
            ),
            Err(WebhookAuthError::Mismatch)
        );
    }

    #[test]
    fn sha1_and_sha512_digests_round_trip() {
        let s = secret("webhooksecret");
        let body = text(&digest_vectors()[1], "raw_body_utf8")
            .as_bytes()
            .to_vec();
        for (alg, header, hex_len) in [
            (DigestAlg::HmacSha1Hex, "HMAC_SHA1_HEX", 40),
            (DigestAlg::HmacSha512Hex, "HMAC_SHA512_HEX", 128),
            (DigestAlg::HmacSha256Hex, "HMAC_SHA256_HEX", 64),
        ] {
            assert_eq!(alg.header_value(), header);
            let digest = webhook_digest(&s, alg, &body);
            assert_eq!(digest.len(), hex_len, "{header}");
            assert!(digest
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
            assert_eq!(
                verify_webhook(&s, alg, Some(header), Some(&digest), &body),
                Ok(())
            );
            assert_eq!(
                verify_webhook(&secret("other"), alg, Some(header), Some(&digest), &body),
                Err(WebhookAuthError::Mismatch),
                "{header}"
            );
        }
        // A SHA-1 digest is not accepted as SHA-512, nor the other way round.
        let sha1 = webhook_digest(&s, DigestAlg::HmacSha1Hex, &body);
        let sha512 = webhook_digest(&s, DigestAlg::HmacSha512Hex, &body);
        let (sha1_alg, sha512_alg) = (DigestAlg::HmacSha1Hex, DigestAlg::HmacSha512Hex);
        assert_eq!(
            verify_webhook(&s, sha512_alg, Some("HMAC_SHA512_HEX"), Some(&sha1), &body),
            Err(WebhookAuthError::Mismatch)
        );
        assert_eq!(
            verify_webhook(&s, sha1_alg, Some("HMAC_SHA1_HEX"), Some(&sha512), &body),
            Err(WebhookAuthError::Mismatch)
        );
        // HMAC-SHA1 (RFC 2202 test case 2) to be sure the legacy algorithm is the real one;
        // SHA-256 and SHA-512 are pinned to RFC 4231's vectors in `signing`'s unit tests.
        assert_eq!(
            webhook_digest(
                &secret("Jefe"),
                DigestAlg::HmacSha1Hex,
                b"what do ya want for nothing?"
            ),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    // -----------------------------------------------------------------------------------------
    // webhook events
    // -----------------------------------------------------------------------------------------

    fn parse(v: &Value) -> WebhookEvent {
        WebhookEvent::parse(&serde_json::to_vec(v).unwrap()).unwrap()
    }

    #[test]
    fn docs_style_payloads_parse() {
        let s = samples();
        let p = &s["sample_payloads_docs_style"];

        let created = parse(&p["applicantCreated"]);
        assert_eq!(created.kind, EventKind::ApplicantCreated);
        assert_eq!(created.applicant_id, "5c9e177b0a975a6eeccf5960");
        assert_eq!(created.external_user_id.as_deref(), Some("12672"));
        assert_eq!(created.review_status.as_deref(), Some("init"));
        assert_eq!(created.review, None);
        assert_eq!(
            created.created_at_ms.as_deref(),
            Some("2020-02-21 13:23:19.002")
        );

        let pending = parse(&p["applicantPending"]);
        assert_eq!(pending.kind, EventKind::ApplicantPending);
        assert_eq!(pending.applicant_id, "5c7791f80a975a1df426b9e9");
        assert_eq!(pending.review_status.as_deref(), Some("pending"));
        assert_eq!(pending.review, None);

        let green = parse(&p["applicantReviewed_GREEN"]);
        assert_eq!(green.kind, EventKind::ApplicantReviewed);
        assert_eq!(green.applicant_id, "5cb56e8e0a975a35f333cb83");
        assert_eq!(green.external_user_id.as_deref(), Some("externalUserId"));
        assert_eq!(green.review_status.as_deref(), Some("completed"));
        assert_eq!(
            green.created_at_ms.as_deref(),
            Some("2020-02-21 13:23:19.321")
        );
        let review = green.review.unwrap();
        assert_eq!(review.answer, ReviewAnswer::Green);
        assert_eq!(review.reject_type, None);
        assert_eq!(review.moderation_comment, None);
        assert!(review.reject_labels.is_empty());
        assert!(review.screening_hits().is_empty());
    }

    #[test]
    fn red_retry_keeps_the_user_facing_comment_and_drops_the_client_comment() {
        let raw = samples()["sample_payload_red_retry"].clone();
        let client_comment = text(&raw["reviewResult"], "clientComment").to_owned();
        let event = parse(&raw);
        assert_eq!(event.kind, EventKind::ApplicantReviewed);
        assert_eq!(event.applicant_id, "5cb744200a975a67ed1798a4");
        assert_eq!(event.created_at_ms, None);
        let review = event.review.clone().unwrap();
        assert_eq!(review.answer, ReviewAnswer::Red);
        assert_eq!(review.reject_type, Some(RejectType::Retry));
        assert_eq!(
            review.moderation_comment.as_deref(),
            Some("We do not accept screenshots. Please upload an original photo.")
        );
        assert_eq!(
            review.reject_labels,
            vec!["UNSATISFACTORY_PHOTOS".to_owned(), "SCREENSHOTS".to_owned()]
        );
        assert!(review.screening_hits().is_empty());
        // Nowhere in what was parsed, not even in the (redacted) Debug output.
        assert!(!format!("{event:?}").contains(&client_comment));
        assert!(!format!("{event:?}").contains("screenshots"));
    }

    #[test]
    fn screening_labels_become_hits() {
        let mut raw = samples()["sample_payload_red_retry"].clone();
        raw["reviewResult"]["reviewRejectType"] = json!("FINAL");
        raw["reviewResult"]["rejectLabels"] = json!([
            "PEP",
            "sanctions",
            "Adverse_Media",
            "CRIMINAL",
            "FORGERY",
            "pep"
        ]);
        let review = parse(&raw).review.unwrap();
        assert_eq!(review.reject_type, Some(RejectType::Final));
        let hits: Vec<(ScreeningKind, String)> = review
            .screening_hits()
            .into_iter()
            .map(|h| (h.kind, h.label))
            .collect();
        assert_eq!(
            hits,
            vec![
                (ScreeningKind::Pep, "PEP".to_owned()),
                (ScreeningKind::Sanctions, "sanctions".to_owned()),
                (ScreeningKind::AdverseMedia, "Adverse_Media".to_owned()),
                (ScreeningKind::AdverseMedia, "CRIMINAL".to_owned()),
            ]
        );
        assert_eq!(
            hits.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            vec!["pep", "sanctions", "adverse_media", "adverse_media"]
        );
    }

    #[test]
    fn the_signed_vector_bodies_parse_as_they_were_signed() {
        let vectors = digest_vectors();
        let events: Vec<WebhookEvent> = vectors
            .iter()
            .map(|v| WebhookEvent::parse(text(v, "raw_body_utf8").as_bytes()).unwrap())
            .collect();
        assert_eq!(events[0].kind, EventKind::ApplicantCreated);
        assert_eq!(
            events[1].review.as_ref().unwrap().answer,
            ReviewAnswer::Green
        );
        let red = events[2].review.as_ref().unwrap();
        assert_eq!(red.answer, ReviewAnswer::Red);
        assert_eq!(red.reject_type, Some(RejectType::Final));
        assert_eq!(events[2].external_user_id.as_deref(), Some("123"));
    }

    // -----------------------------------------------------------------------------------------
    // the client against the fake
    // -----------------------------------------------------------------------------------------

    #[tokio::test]
    async fn create_applicant_sends_a_signed_minimal_body_and_returns_the_id() {
        let fake = Fake::start().await;
        let id = fake
            .client()
            .create_applicant(USER_ID, &kari())
            .await
            .unwrap();
        assert_eq!(
            fake.with(|s| s.applicants.clone()),
            vec![(USER_ID.to_owned(), id)]
        );

        let log = fake.log();
        assert_eq!(log.len(), 1);
        let r = &log[0];
        assert!(r.signature_ok);
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, format!("/resources/applicants?levelName={LEVEL}"));
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        assert!(r.ts.as_deref().unwrap().chars().all(|c| c.is_ascii_digit()));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            body,
            json!({
                "externalUserId": USER_ID,
                "fixedInfo": {"firstName": "Kari", "lastName": "Nordmann", "dob": "1986-10-15"},
            })
        );
    }

    #[tokio::test]
    async fn creating_again_after_a_409_returns_the_same_applicant() {
        let fake = Fake::start().await;
        let client = fake.client();
        let first = client.create_applicant(USER_ID, &kari()).await.unwrap();
        let second = client.create_applicant(USER_ID, &kari()).await.unwrap();
        assert_eq!(first, second);
        assert_eq!(fake.with(|s| s.applicants.len()), 1);
        let log = fake.log();
        let calls: Vec<(&str, &str)> = log
            .iter()
            .map(|r| (r.method.as_str(), r.path.as_str()))
            .collect();
        let by_external = format!("/resources/applicants/-;externalUserId={USER_ID}/one");
        let create = format!("/resources/applicants?levelName={LEVEL}");
        assert_eq!(
            calls,
            vec![
                ("POST", create.as_str()),
                ("POST", create.as_str()),
                ("GET", by_external.as_str()),
            ]
        );
        assert!(log.iter().all(|r| r.signature_ok));
        // A GET carries no body and no content type.
        assert!(log[2].body.is_empty() && log[2].content_type.is_none());
    }

    #[tokio::test]
    async fn a_create_whose_answer_was_lost_is_found_not_duplicated() {
        let fake = Fake::start().await;
        fake.with(|s| s.lose_next_create_answer = true);
        let id = fake
            .client()
            .create_applicant(USER_ID, &kari())
            .await
            .unwrap();
        let applicants = fake.with(|s| s.applicants.clone());
        assert_eq!(applicants, vec![(USER_ID.to_owned(), id)]);
        // POST (created, 503) → retried POST (409) → GET by externalUserId.
        let methods: Vec<String> = fake.log().iter().map(|r| r.method.clone()).collect();
        assert_eq!(methods, vec!["POST", "POST", "GET"]);
    }

    #[tokio::test]
    async fn sdk_access_token_is_asked_for_our_level_and_kept_secret() {
        let fake = Fake::start().await;
        let token = fake.client().sdk_access_token(USER_ID).await.unwrap();
        assert_eq!(token.token.expose(), &format!("_act-sbx-jwt-for-{USER_ID}"));
        assert_eq!(token.user_id, USER_ID);
        assert!(!format!("{token:?}").contains("_act-"));

        let log = fake.log();
        assert_eq!(log.len(), 1);
        assert!(log[0].signature_ok);
        assert_eq!(
            (log[0].method.as_str(), log[0].path.as_str()),
            ("POST", "/resources/accessTokens/sdk")
        );
        let body: Value = serde_json::from_slice(&log[0].body).unwrap();
        assert_eq!(
            body,
            json!({"userId": USER_ID, "levelName": LEVEL, "ttlInSecs": 600})
        );
    }

    #[tokio::test]
    async fn applicant_review_reads_status_and_result() {
        let fake = Fake::start().await;
        let client = fake.client();
        let id = client.create_applicant(USER_ID, &kari()).await.unwrap();

        let state = client.applicant_review(&id).await.unwrap();
        assert_eq!(state.review_status, "init");
        assert_eq!(state.review, None);

        fake.with(|s| {
            s.review = json!({
                "reviewStatus": "completed",
                "reviewResult": {
                    "reviewAnswer": "RED",
                    "reviewRejectType": "FINAL",
                    "rejectLabels": ["PEP", "SANCTIONS"],
                    "moderationComment": "Contact support.",
                    "clientComment": "Listed on a sanctions list.",
                },
            })
        });
        let state = client.applicant_review(&id).await.unwrap();
        assert_eq!(state.review_status, "completed");
        let review = state.review.clone().unwrap();
        assert_eq!(review.answer, ReviewAnswer::Red);
        assert_eq!(review.reject_type, Some(RejectType::Final));
        assert_eq!(
            review.moderation_comment.as_deref(),
            Some("Contact support.")
        );
        let kinds: Vec<ScreeningKind> = review.screening_hits().iter().map(|h| h.kind).collect();
        assert_eq!(kinds, vec![ScreeningKind::Pep, ScreeningKind::Sanctions]);
        assert!(!format!("{state:?}").contains("sanctions list"));

        let path = &fake.log().last().unwrap().path.clone();
        assert_eq!(path, &format!("/resources/applicants/{id}/one"));

        // Sumsub's 404 for an applicant is its own case (a 502 for the API, never a 500).
        match client.applicant_review("no-such-applicant").await {
            Err(SumsubError::UnknownApplicant) => {}
            other => panic!("expected UnknownApplicant, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn two_503s_are_retried_and_every_attempt_is_signed_afresh() {
        let fake = Fake::start().await;
        fake.with(|s| s.fail_next = 2);
        let token = fake.client().sdk_access_token(USER_ID).await.unwrap();
        assert_eq!(token.user_id, USER_ID);
        let log = fake.log();
        assert_eq!(log.len(), 3);
        assert!(log.iter().all(|r| r.signature_ok && r.ts.is_some()));
    }

    #[tokio::test]
    async fn a_sumsub_that_keeps_failing_is_unavailable_after_three_retries() {
        // What reaches the log meanwhile: tests/outbound_logs.rs.
        let fake = Fake::start().await;
        fake.with(|s| s.always_fail = true);
        let err = fake
            .client()
            .create_applicant(USER_ID, &kari())
            .await
            .unwrap_err();
        let printed = format!("{err} {err:?} {}", log_chain(&err));
        assert!(
            !printed.contains("Kari") && !printed.contains("fake-unavailable"),
            "{printed}"
        );
        match &err {
            SumsubError::Unavailable(OutboundError::Status { status, .. }) => {
                assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
            }
            other => panic!("expected Unavailable(Status), got {other:?}"),
        }
        assert_eq!(fake.log().len(), 4);
    }

    #[tokio::test]
    async fn a_sumsub_that_is_down_is_unavailable_after_three_retries() {
        let client = client_for(&format!("http://127.0.0.1:{}", closed_port()), SECRET_KEY);
        let started = Instant::now();
        let err = client.sdk_access_token(USER_ID).await.unwrap_err();
        assert!(
            matches!(err, SumsubError::Unavailable(OutboundError::Connect { .. })),
            "{err:?}"
        );
        // Backoff 5 + 10 + 20 ms: three retries were waited for.
        assert!(started.elapsed() >= Duration::from_millis(35));
    }

    #[tokio::test]
    async fn a_wrong_secret_key_is_rejected_with_401_and_not_retried() {
        let fake = Fake::start().await;
        let err = client_for(&fake.base_url, "not-the-secret-key")
            .create_applicant(USER_ID, &kari())
            .await
            .unwrap_err();
        match &err {
            SumsubError::Rejected { status, code } => {
                assert_eq!(*status, StatusCode::UNAUTHORIZED);
                assert_eq!(code.as_deref(), Some("fake-signature-mismatch"));
            }
            other => panic!("expected Rejected, got {other:?}"),
        }
        let log = fake.log();
        assert_eq!(log.len(), 1);
        assert!(!log[0].signature_ok);
        assert_eq!(fake.with(|s| s.applicants.len()), 0);
        let printed = format!("{err} {err:?}");
        assert!(
            !printed.contains("not-the-secret-key") && !printed.contains(APP_TOKEN),
            "{printed}"
        );
    }

    /// Each create, on retries too, carries exactly the pseudonymous id, names and birth date.
    /// (That no fødselsnummer reaches Sumsub is shown end to end, from a BankID sign-in to the
    /// sandbox's record of what it was sent, in `tests/tests/kyc.rs`.)
    #[tokio::test]
    async fn a_create_sends_only_the_pseudonymous_id_names_and_birth_date() {
        let fake = Fake::start().await;
        fake.with(|s| s.lose_next_create_answer = true);
        let client = fake.client();
        client.create_applicant(USER_ID, &kari()).await.unwrap();

        let creates: Vec<Value> = fake
            .log()
            .iter()
            .filter(|r| r.method == "POST" && r.path.contains("levelName"))
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect();
        assert!(creates.len() >= 2, "the lost answer was retried");
        for body in creates {
            assert_eq!(
                body,
                json!({
                    "externalUserId": USER_ID,
                    "fixedInfo": {"firstName": "Kari", "lastName": "Nordmann", "dob": "1986-10-15"},
                })
            );
        }
    }
}
