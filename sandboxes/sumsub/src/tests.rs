//! The sandbox over real HTTP on 127.0.0.1, as Drop's Sumsub client and webhook receiver would
//! meet it. Signatures and digests are computed here, apart from the sandbox's own code.

use crate::{serve, SandboxConfig};
use aws_lc_rs::hmac;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use reqwest::{header, Client, Method, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};

const APP_TOKEN: &str = "sbx:drop-local-app-token";
const SECRET_KEY: &str = "drop-local-secret-key";
const WEBHOOK_SECRET: &str = "drop-local-webhook-secret";
const LEVEL: &str = "basic-kyc-level";
/// The review delay in these tests.
const DELAY: Duration = Duration::from_millis(200);
/// How late a webhook may be on top of what it waits for.
const MARGIN: Duration = Duration::from_secs(2);

fn hmac_sha256_hex(key: &str, message: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    hex::encode(hmac::sign(&key, message).as_ref())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// How a test request is authenticated.
#[derive(Clone, Copy)]
enum Auth {
    Signed,
    Unsigned,
    WrongKey,
    WrongAppToken,
    /// Signed correctly, but at this many seconds in the past.
    Stale(u64),
    /// Signed over another body than the one sent.
    OtherBody,
}

// ---------------------------------------------------------------------------------------------
// The webhook receiver: records every request, answers 500 to the first `failures` of them.

#[derive(Debug)]
struct Webhook {
    headers: http::HeaderMap,
    body: Bytes,
    json: Value,
    answered: StatusCode,
}

impl Webhook {
    fn kind(&self) -> &str {
        self.json["type"].as_str().unwrap()
    }

    /// Checks the headers Sumsub signs a webhook with, recomputing the digest.
    fn assert_signed(&self) {
        assert_eq!(self.headers["content-type"], "application/json");
        assert_eq!(self.headers["x-payload-digest-alg"], "HMAC_SHA256_HEX");
        assert_eq!(
            self.headers["x-payload-digest"].to_str().unwrap(),
            hmac_sha256_hex(WEBHOOK_SECRET, &self.body),
            "digest of {}",
            String::from_utf8_lossy(&self.body)
        );
    }
}

struct Receiver {
    addr: SocketAddr,
    arrivals: mpsc::UnboundedReceiver<Webhook>,
    task: JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), 0)
    }

    fn start_on(listener: TcpListener, failures: usize) -> Self {
        let addr = listener.local_addr().unwrap();
        let (tx, arrivals) = mpsc::unbounded_channel();
        let failures = Arc::new(AtomicUsize::new(failures));
        let task = tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let tx = tx.clone();
                let failures = failures.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: http::Request<Incoming>| {
                        let tx = tx.clone();
                        let failures = failures.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            assert_eq!(parts.method, http::Method::POST);
                            assert_eq!(parts.uri.path(), "/webhooks/sumsub");
                            let body = body.collect().await.unwrap().to_bytes();
                            let fail = failures
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                    n.checked_sub(1)
                                })
                                .is_ok();
                            let answered = if fail {
                                StatusCode::INTERNAL_SERVER_ERROR
                            } else {
                                StatusCode::OK
                            };
                            let json = serde_json::from_slice(&body).unwrap();
                            let _ = tx.send(Webhook {
                                headers: parts.headers,
                                body,
                                json,
                                answered,
                            });
                            let mut reply = http::Response::new(Full::new(Bytes::new()));
                            *reply.status_mut() = answered;
                            Ok::<_, std::convert::Infallible>(reply)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            arrivals,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/webhooks/sumsub", self.addr)
    }

    async fn next(&mut self, within: Duration) -> Webhook {
        timeout(within, self.arrivals.recv())
            .await
            .expect("no webhook arrived in time")
            .unwrap()
    }

    async fn assert_quiet(&mut self, for_: Duration) {
        if let Ok(Some(extra)) = timeout(for_, self.arrivals.recv()).await {
            panic!("unexpected webhook: {}", extra.json);
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// The sandbox and a signing client.

struct Sandbox {
    base: String,
    http: Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Sandbox {
    async fn start(webhook_url: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = SandboxConfig {
            app_token: APP_TOKEN.into(),
            secret_key: SECRET_KEY.into(),
            webhook_url,
            webhook_secret: WEBHOOK_SECRET.into(),
            review_delay: DELAY,
            state_file: None,
        };
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, config, async {
            let _ = rx.await;
        }));
        Self {
            base,
            http: Client::new(),
            shutdown: Some(tx),
            task,
        }
    }

    async fn request(
        &self,
        auth: Auth,
        method: Method,
        path_with_query: &str,
        body: Option<&Value>,
    ) -> Response {
        let body = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        let mut ts = unix_now();
        let (mut key, mut token, mut signed_body) = (SECRET_KEY, APP_TOKEN, body.clone());
        match auth {
            Auth::Signed | Auth::Unsigned => {}
            Auth::WrongKey => key = "not-the-secret-key",
            Auth::WrongAppToken => token = "sbx:someone-else",
            Auth::Stale(seconds) => ts -= seconds,
            Auth::OtherBody => signed_body = b"{}".to_vec(),
        }
        let mut message = format!("{ts}{}{path_with_query}", method.as_str()).into_bytes();
        message.extend_from_slice(&signed_body);
        let mut request = self
            .http
            .request(method, format!("{}{path_with_query}", self.base))
            .header(header::ACCEPT, "application/json");
        if !matches!(auth, Auth::Unsigned) {
            request = request
                .header("X-App-Token", token)
                .header("X-App-Access-Ts", ts.to_string())
                .header("X-App-Access-Sig", hmac_sha256_hex(key, &message));
        }
        if !body.is_empty() {
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        request.send().await.unwrap()
    }

    async fn post(&self, path_with_query: &str, body: &Value) -> Response {
        self.request(Auth::Signed, Method::POST, path_with_query, Some(body))
            .await
    }

    async fn get(&self, path: &str) -> Response {
        self.request(Auth::Signed, Method::GET, path, None).await
    }

    async fn create_as(
        &self,
        auth: Auth,
        external_user_id: &str,
        first: &str,
        last: &str,
    ) -> Response {
        let body = json!({
            "externalUserId": external_user_id,
            "fixedInfo": { "firstName": first, "lastName": last, "dob": "1990-01-31" },
        });
        self.request(
            auth,
            Method::POST,
            &format!("/resources/applicants?levelName={LEVEL}"),
            Some(&body),
        )
        .await
    }

    /// Creates an applicant and returns it.
    async fn create(&self, external_user_id: &str, first: &str, last: &str) -> Value {
        let resp = self
            .create_as(Auth::Signed, external_user_id, first, last)
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json().await.unwrap()
    }

    async fn sdk_token(&self, external_user_id: &str) -> Response {
        let body = json!({ "userId": external_user_id, "levelName": LEVEL, "ttlInSecs": 600 });
        self.post("/resources/accessTokens/sdk", &body).await
    }

    async fn applicant(&self, id: &str) -> Value {
        let resp = self.get(&format!("/resources/applicants/{id}/one")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        timeout(Duration::from_secs(5), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

async fn error_body(resp: Response, status: StatusCode) -> Value {
    assert_eq!(resp.status(), status);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], status.as_u16(), "{body}");
    assert!(body["description"].is_string(), "{body}");
    body
}

fn by_external_path(external_user_id: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(external_user_id.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("/resources/applicants/-;externalUserId={encoded}/one")
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn refuses_missing_or_bad_signatures_and_changes_nothing() {
    let sb = Sandbox::start("http://127.0.0.1:9/webhooks/sumsub".into()).await;
    for auth in [
        Auth::Unsigned,
        Auth::WrongKey,
        Auth::WrongAppToken,
        Auth::Stale(301),
        Auth::OtherBody,
    ] {
        let resp = sb.create_as(auth, "user-1", "Kari", "Nordmann").await;
        error_body(resp, StatusCode::UNAUTHORIZED).await;
    }
    // Nothing was created: a signed lookup finds no one, and a signed create succeeds.
    let resp = sb.get(&by_external_path("user-1")).await;
    error_body(resp, StatusCode::NOT_FOUND).await;
    // A timestamp inside the window is fine.
    let resp = sb
        .create_as(Auth::Stale(250), "user-1", "Kari", "Nordmann")
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    // Every endpoint needs the signature, even unknown ones.
    let resp = sb
        .request(Auth::Unsigned, Method::GET, "/resources/nothing", None)
        .await;
    error_body(resp, StatusCode::UNAUTHORIZED).await;
    let resp = sb.get("/resources/nothing").await;
    error_body(resp, StatusCode::NOT_FOUND).await;
    sb.stop().await;
}

#[tokio::test]
async fn creates_refuses_duplicates_and_looks_up() {
    let sb = Sandbox::start("http://127.0.0.1:9/webhooks/sumsub".into()).await;
    let external_user_id = "0190d2b4-7c1e-7000-8000-000000000001 æøå@x";
    let created = sb.create(external_user_id, "Kari", "Nordmann").await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(id.len(), 24);
    assert!(
        id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{id}"
    );
    assert_eq!(created["externalUserId"], external_user_id);
    assert_eq!(created["levelName"], LEVEL);
    assert_eq!(created["review"]["reviewStatus"], "init");
    assert_eq!(created["fixedInfo"]["firstName"], "Kari");
    assert_eq!(created["fixedInfo"]["dob"], "1990-01-31");
    assert_eq!(created["createdAt"].as_str().unwrap().len(), 19);

    let resp = sb
        .create_as(Auth::Signed, external_user_id, "Ola", "Nordmann")
        .await;
    let body = error_body(resp, StatusCode::CONFLICT).await;
    assert_eq!(
        body["description"],
        format!("Applicant with external user id '{external_user_id}' already exists")
    );

    let resp = sb.get(&by_external_path(external_user_id)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let found: Value = resp.json().await.unwrap();
    assert_eq!(found["id"], id);
    assert_eq!(
        found["fixedInfo"]["firstName"], "Kari",
        "the duplicate changed nothing"
    );
    assert_eq!(sb.applicant(id).await, found);

    let resp = sb
        .get("/resources/applicants/5cb56e8e0a975a35f333cb83/one")
        .await;
    error_body(resp, StatusCode::NOT_FOUND).await;
    let resp = sb.get(&by_external_path("nobody")).await;
    error_body(resp, StatusCode::NOT_FOUND).await;
    let resp = sb
        .post("/resources/applicants", &json!({ "externalUserId": "x" }))
        .await;
    error_body(resp, StatusCode::BAD_REQUEST).await;
    let resp = sb
        .post(
            &format!("/resources/applicants?levelName={LEVEL}"),
            &json!({ "fixedInfo": {} }),
        )
        .await;
    error_body(resp, StatusCode::BAD_REQUEST).await;
    let resp = sb.get("/resources/applicants").await;
    error_body(resp, StatusCode::METHOD_NOT_ALLOWED).await;
    sb.stop().await;
}

#[tokio::test]
async fn an_sdk_token_starts_a_review_announced_by_signed_webhooks() {
    let mut receiver = Receiver::start().await;
    let sb = Sandbox::start(receiver.url()).await;
    let applicant = sb.create("user-green", "Kari", "Nordmann").await;
    let id = applicant["id"].as_str().unwrap();

    let resp = sb.sdk_token("nobody").await;
    error_body(resp, StatusCode::NOT_FOUND).await;

    let issued = Instant::now();
    let resp = sb.sdk_token("user-green").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let token: Value = resp.json().await.unwrap();
    assert!(
        token["token"].as_str().unwrap().starts_with("_act-sbx-"),
        "{token}"
    );
    assert_eq!(token["userId"], "user-green");
    // A second token while the review is pending starts no second review.
    assert_eq!(sb.sdk_token("user-green").await.status(), StatusCode::OK);

    let pending = receiver.next(MARGIN).await;
    pending.assert_signed();
    assert_eq!(pending.kind(), "applicantPending");
    assert_eq!(pending.json["reviewStatus"], "pending");
    assert_eq!(pending.json["applicantId"], id);
    assert_eq!(pending.json["externalUserId"], "user-green");

    let reviewed = receiver.next(DELAY + MARGIN).await;
    let elapsed = issued.elapsed();
    assert!(elapsed >= DELAY, "reviewed after {elapsed:?}");
    reviewed.assert_signed();
    let event = &reviewed.json;
    assert_eq!(event["type"], "applicantReviewed");
    assert_eq!(event["applicantId"], id);
    assert_eq!(event["inspectionId"], applicant["inspectionId"]);
    assert!(event["correlationId"].as_str().unwrap().starts_with("req-"));
    assert_eq!(event["externalUserId"], "user-green");
    assert_eq!(event["levelName"], LEVEL);
    assert_eq!(event["reviewStatus"], "completed");
    assert_eq!(event["createdAtMs"].as_str().unwrap().len(), 23);
    assert_eq!(event["reviewResult"], json!({ "reviewAnswer": "GREEN" }));
    receiver.assert_quiet(DELAY * 2).await;

    let now = sb.applicant(id).await;
    assert_eq!(now["review"]["reviewStatus"], "completed");
    assert_eq!(now["review"]["reviewResult"]["reviewAnswer"], "GREEN");
    sb.stop().await;
}

#[tokio::test]
async fn named_test_persons_get_their_outcomes() {
    let mut receiver = Receiver::start().await;
    let sb = Sandbox::start(receiver.url()).await;
    let persons = [
        ("user-retry", "Red Retry", "Nordmann"),
        ("user-final", "Ola", "RED FINAL"),
        ("user-pep", "Pep", "Hansen"),
    ];
    for (user, first, last) in persons {
        sb.create(user, first, last).await;
        assert_eq!(sb.sdk_token(user).await.status(), StatusCode::OK);
    }
    let mut last_event: HashMap<String, Value> = HashMap::new();
    for _ in 0..persons.len() * 2 {
        let webhook = receiver.next(DELAY + MARGIN).await;
        webhook.assert_signed();
        let user = webhook.json["externalUserId"].as_str().unwrap().to_owned();
        if let Some(previous) = last_event.get(&user) {
            assert_eq!(previous["type"], "applicantPending", "pending comes first");
        }
        last_event.insert(user, webhook.json);
    }

    let retry = &last_event["user-retry"];
    assert_eq!(retry["type"], "applicantReviewed");
    assert_eq!(retry["reviewStatus"], "completed");
    assert_eq!(
        retry["reviewResult"],
        json!({
            "reviewAnswer": "RED",
            "reviewRejectType": "RETRY",
            "moderationComment": "We could not verify your identity document. Please upload a clearer photo.",
            "clientComment": "Blurry document",
            "rejectLabels": ["BAD_PROOF_OF_IDENTITY"],
        })
    );
    let final_ = &last_event["user-final"];
    assert_eq!(final_["type"], "applicantReviewed");
    assert_eq!(final_["reviewResult"]["reviewAnswer"], "RED");
    assert_eq!(final_["reviewResult"]["reviewRejectType"], "FINAL");
    assert_eq!(final_["reviewResult"]["rejectLabels"], json!(["FORGERY"]));
    assert!(final_["reviewResult"]["moderationComment"].is_string());
    let pep = &last_event["user-pep"];
    assert_eq!(pep["type"], "applicantOnHold");
    assert_eq!(pep["reviewStatus"], "onHold");
    assert_eq!(pep["reviewResult"]["reviewAnswer"], "RED");
    assert_eq!(pep["reviewResult"]["reviewRejectType"], "RETRY");
    assert_eq!(pep["reviewResult"]["rejectLabels"], json!(["PEP"]));

    // The API tells the same story.
    for (user, event) in &last_event {
        let resp = sb.get(&by_external_path(user)).await;
        let applicant: Value = resp.json().await.unwrap();
        assert_eq!(
            applicant["review"]["reviewStatus"], event["reviewStatus"],
            "{user}"
        );
        assert_eq!(
            applicant["review"]["reviewResult"], event["reviewResult"],
            "{user}"
        );
    }
    sb.stop().await;
}

#[tokio::test]
async fn a_receiver_that_is_down_at_first_gets_the_webhooks_by_retry() {
    // A port with nothing listening on it, for now.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let sb = Sandbox::start(format!("http://{addr}/webhooks/sumsub")).await;
    sb.create("user-late", "Kari", "Nordmann").await;
    let issued = Instant::now();
    assert_eq!(sb.sdk_token("user-late").await.status(), StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut receiver = Receiver::start_on(TcpListener::bind(addr).await.unwrap(), 0);
    let pending = receiver.next(MARGIN).await;
    assert_eq!(pending.kind(), "applicantPending");
    assert!(
        issued.elapsed() >= Duration::from_millis(900),
        "came by the retry after 1 s"
    );
    pending.assert_signed();
    let reviewed = receiver.next(DELAY + MARGIN).await;
    assert_eq!(reviewed.kind(), "applicantReviewed");
    assert_eq!(reviewed.json["reviewResult"]["reviewAnswer"], "GREEN");
    reviewed.assert_signed();
    sb.stop().await;
}

#[tokio::test]
async fn a_5xx_answer_is_retried_with_the_same_body() {
    let mut receiver = Receiver::start_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), 1);
    let sb = Sandbox::start(receiver.url()).await;
    sb.create("user-5xx", "Kari", "Nordmann").await;
    assert_eq!(sb.sdk_token("user-5xx").await.status(), StatusCode::OK);

    let failed = receiver.next(MARGIN).await;
    assert_eq!(failed.answered, StatusCode::INTERNAL_SERVER_ERROR);
    let retried = receiver.next(MARGIN).await;
    assert_eq!(retried.answered, StatusCode::OK);
    assert_eq!(retried.kind(), "applicantPending");
    assert_eq!(retried.body, failed.body);
    retried.assert_signed();
    let reviewed = receiver.next(DELAY + MARGIN).await;
    assert_eq!(reviewed.kind(), "applicantReviewed");
    receiver.assert_quiet(DELAY).await;
    sb.stop().await;
}

#[tokio::test]
async fn the_sandbox_review_endpoint_sends_the_chosen_webhook_now() {
    let mut receiver = Receiver::start().await;
    let sb = Sandbox::start(receiver.url()).await;
    let applicant = sb.create("user-chosen", "Kari", "Nordmann").await;
    let id = applicant["id"].as_str().unwrap();
    let path = format!("/sandbox/applicants/{id}/review");
    let chosen = json!({
        "reviewAnswer": "RED",
        "reviewRejectType": "FINAL",
        "rejectLabels": ["FRAUDULENT_PATTERNS"],
    });

    // Signed like every other request.
    let resp = sb
        .request(Auth::Unsigned, Method::POST, &path, Some(&chosen))
        .await;
    error_body(resp, StatusCode::UNAUTHORIZED).await;
    receiver.assert_quiet(Duration::from_millis(300)).await;
    let impossible = json!({ "reviewAnswer": "GREEN", "reviewRejectType": "FINAL" });
    error_body(sb.post(&path, &impossible).await, StatusCode::BAD_REQUEST).await;
    let unknown = sb
        .post(
            "/sandbox/applicants/5cb56e8e0a975a35f333cb83/review",
            &chosen,
        )
        .await;
    error_body(unknown, StatusCode::NOT_FOUND).await;

    let resp = sb.post(&path, &chosen).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let answered: Value = resp.json().await.unwrap();
    assert_eq!(answered["review"]["reviewStatus"], "completed");

    let webhook = receiver.next(Duration::from_secs(1)).await;
    webhook.assert_signed();
    assert_eq!(webhook.kind(), "applicantReviewed");
    assert_eq!(webhook.json["applicantId"], id);
    assert_eq!(webhook.json["reviewStatus"], "completed");
    assert_eq!(
        webhook.json["reviewResult"],
        json!({ "reviewAnswer": "RED", "reviewRejectType": "FINAL", "rejectLabels": ["FRAUDULENT_PATTERNS"] })
    );
    let now = sb.applicant(id).await;
    assert_eq!(now["review"]["reviewResult"], webhook.json["reviewResult"]);

    // A compliance officer clears the person: GREEN.
    let green = sb.post(&path, &json!({ "reviewAnswer": "GREEN" })).await;
    assert_eq!(green.status(), StatusCode::OK);
    let webhook = receiver.next(Duration::from_secs(1)).await;
    assert_eq!(
        webhook.json["reviewResult"],
        json!({ "reviewAnswer": "GREEN" })
    );
    sb.stop().await;
}

#[tokio::test]
async fn a_chosen_review_supersedes_the_simulated_one() {
    let mut receiver = Receiver::start().await;
    let sb = Sandbox::start(receiver.url()).await;
    let applicant = sb.create("user-superseded", "Kari", "Nordmann").await;
    let id = applicant["id"].as_str().unwrap();
    assert_eq!(
        sb.sdk_token("user-superseded").await.status(),
        StatusCode::OK
    );
    let chosen = json!({ "reviewAnswer": "RED", "reviewRejectType": "RETRY", "rejectLabels": ["SCREENSHOTS"] });
    let resp = sb
        .post(&format!("/sandbox/applicants/{id}/review"), &chosen)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    let mut kinds = Vec::new();
    for _ in 0..2 {
        let webhook = receiver.next(MARGIN).await;
        if webhook.kind() == "applicantReviewed" {
            assert_eq!(webhook.json["reviewResult"]["reviewRejectType"], "RETRY");
        }
        kinds.push(webhook.kind().to_owned());
    }
    kinds.sort();
    assert_eq!(kinds, ["applicantPending", "applicantReviewed"]);
    // The simulated GREEN never comes.
    receiver.assert_quiet(DELAY * 3).await;
    let now = sb.applicant(id).await;
    assert_eq!(
        now["review"]["reviewResult"]["rejectLabels"],
        json!(["SCREENSHOTS"])
    );
    sb.stop().await;
}

#[tokio::test]
async fn refuses_to_serve_without_credentials() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = SandboxConfig {
        webhook_url: "http://127.0.0.1:9/".into(),
        ..SandboxConfig::default()
    };
    // Returns at once instead of serving.
    timeout(
        Duration::from_secs(1),
        serve(listener, config, std::future::pending()),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn lists_what_it_was_sent_to_a_signed_reader_only() {
    let sb = Sandbox::start("http://127.0.0.1:9/webhooks/sumsub".into()).await;
    sb.create("user-1", "Kari", "Nordmann").await;
    let resp = sb
        .request(Auth::Unsigned, Method::GET, "/sandbox/requests", None)
        .await;
    error_body(resp, StatusCode::UNAUTHORIZED).await;
    let resp = sb.post("/sandbox/requests", &json!({})).await;
    error_body(resp, StatusCode::METHOD_NOT_ALLOWED).await;

    let resp = sb.get("/sandbox/requests").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let log: Value = resp.json().await.unwrap();
    let requests = log["requests"].as_array().unwrap();
    // The create as sent; requests for the list itself are not listed.
    assert_eq!(requests.len(), 1, "{log}");
    assert_eq!(requests[0]["method"], "POST");
    assert_eq!(
        requests[0]["path"],
        format!("/resources/applicants?levelName={LEVEL}")
    );
    let body: Value = serde_json::from_str(requests[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({
            "externalUserId": "user-1",
            "fixedInfo": { "firstName": "Kari", "lastName": "Nordmann", "dob": "1990-01-31" },
        })
    );
    sb.stop().await;
}
