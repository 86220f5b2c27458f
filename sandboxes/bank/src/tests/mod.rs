//! The sandbox over real HTTP on 127.0.0.1, as Drop's Berlin Group client and a browser would
//! meet it. Expected values come from the contract and the spec; account numbers and
//! signatures are checked here by their formulas, apart from the sandbox's own code.

use crate::{serve, SandboxConfig};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

mod ais;
mod faults;
mod notifications;
mod pis;
mod sca;
mod state;

pub(super) const SECRET: &str = "drop-local-notification-secret";
pub(super) const OK_URI: &str = "https://tpp.example/return/ok?flow=42";
pub(super) const NOK_URI: &str = "https://tpp.example/return/nok?flow=42";
pub(super) const PSU_IP: &str = "192.0.2.10";

/// PSU-Successful's accounts at DNB, as the contract promises: (resource id, BBAN, IBAN,
/// name, balance). The numbers were worked out by hand with the formulas that
/// [`valid_bban`] and [`valid_iban`] check.
pub(super) const DNB_SUCCESSFUL: [(&str, &str, &str, &str, &str); 2] = [
    (
        "acc-12021000017",
        "12021000017",
        "NO9812021000017",
        "Brukskonto",
        "12345.67",
    ),
    (
        "acc-12021000025",
        "12021000025",
        "NO7612021000025",
        "Sparekonto",
        "250000.00",
    ),
];

/// A Norwegian account number: 11 digits, the last the mod-11 check digit of the first ten
/// with weights 5, 4, 3, 2, 7, 6, 5, 4, 3, 2 (a remainder of 0 gives 0; one needing 10 is no
/// number).
pub(super) fn valid_bban(bban: &str) -> bool {
    let digits: Vec<u32> = bban.chars().map(|c| c.to_digit(10).unwrap_or(99)).collect();
    if digits.len() != 11 || digits.iter().any(|d| *d > 9) {
        return false;
    }
    let weights = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    let check = (11 - sum % 11) % 11;
    check != 10 && check == digits[10]
}

/// An IBAN: moved four characters to the end, letters as 10..35, the number mod 97 is 1.
pub(super) fn valid_iban(iban: &str) -> bool {
    let moved: String = iban[4..].chars().chain(iban[..4].chars()).collect();
    let digits: String = moved
        .chars()
        .map(|c| c.to_digit(36).unwrap().to_string())
        .collect();
    let remainder = digits
        .bytes()
        .fold(0u64, |r, b| (r * 10 + u64::from(b - b'0')) % 97);
    remainder == 1
}

#[test]
fn the_formulas_accept_known_numbers_and_refuse_others() {
    // 8601 11 17947: 40+24+0+2+7+6+5+28+27+8 = 147, 147 mod 11 = 4, 11 − 4 = 7.
    assert!(valid_bban("86011117947"));
    assert!(!valid_bban("86011117940"));
    assert!(valid_iban("NO9386011117947"));
    assert!(valid_iban("GB29NWBK60161331926819"));
    assert!(!valid_iban("NO9386011117940"));
    // 1202 10 00017: 5+8+0+4+7+0+0+0+0+2 = 26, 26 mod 11 = 4, 11 − 4 = 7.
    // 1202 10 00025: 5+8+0+4+7+0+0+0+0+4 = 28, 28 mod 11 = 6, 11 − 6 = 5.
    for (_, bban, iban, _, _) in DNB_SUCCESSFUL {
        assert!(valid_bban(bban), "{bban}");
        assert!(valid_iban(iban), "{iban}");
        assert_eq!(&iban[4..], bban);
    }
}

pub(super) fn today() -> time::Date {
    OffsetDateTime::now_utc().date()
}

pub(super) fn date(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

pub(super) fn days_ahead(days: i64) -> String {
    date(today() + time::Duration::days(days))
}

/// A plain-HTTP test client that does not follow redirects.
pub(super) fn client() -> Client {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// The test configuration: a short status step, long enough for a read right after the SCA
/// (and a poll every 20 ms) to see each status even on a busy machine.
pub(super) fn config() -> SandboxConfig {
    SandboxConfig {
        notification_secret: SECRET.into(),
        status_step: Duration::from_secs(1),
        sca_expiry: Duration::from_secs(900),
        slow_delay: Duration::from_millis(400),
        timeout_hold: Duration::from_secs(60),
        ..SandboxConfig::default()
    }
}

/// The sandbox served on an ephemeral port.
pub(super) struct Sandbox {
    pub url: String,
    pub client: Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Sandbox {
    pub(super) async fn start() -> Self {
        Self::start_with(config()).await
    }

    pub(super) async fn start_with(mut config: SandboxConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        config.public_url = url.clone();
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, config, async move {
            let _ = stop.await;
        }));
        Self {
            url,
            client: client(),
            shutdown: Some(shutdown),
            task,
        }
    }

    /// Stops the sandbox and waits (at most 10 s) until it has.
    pub(super) async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("the sandbox stops")
            .unwrap();
    }

    /// A Berlin Group request with a fresh `X-Request-ID`.
    pub(super) fn call(&self, method: Method, path: &str) -> RequestBuilder {
        self.raw(method, path)
            .header("x-request-id", uuid::Uuid::new_v4().to_string())
    }

    /// A request without any header.
    pub(super) fn raw(&self, method: Method, path: &str) -> RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.url)
        };
        self.client.request(method, url)
    }

    /// `POST /{bank}/v1/consents` with everything an initiation needs.
    pub(super) async fn post_consent(&self, bank: &str, body: &Value) -> Response {
        self.call(Method::POST, &format!("/{bank}/v1/consents"))
            .header("psu-ip-address", PSU_IP)
            .header("tpp-redirect-uri", OK_URI)
            .header("tpp-nok-redirect-uri", NOK_URI)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// [`Self::post_consent`] with a client-side timeout.
    pub(super) async fn post_consent_with_timeout(
        &self,
        bank: &str,
        timeout: Duration,
    ) -> reqwest::Result<Response> {
        self.call(Method::POST, &format!("/{bank}/v1/consents"))
            .header("psu-ip-address", PSU_IP)
            .header("tpp-redirect-uri", OK_URI)
            .json(&consent_body(&days_ahead(30), 4))
            .timeout(timeout)
            .send()
            .await
    }

    /// A bank-offered consent (accounts and balances), its 201 body.
    pub(super) async fn consent(&self, bank: &str) -> Value {
        let response = self
            .post_consent(bank, &consent_body(&days_ahead(30), 4))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// `POST /{bank}/v1/payments/{product}` with everything an initiation needs.
    pub(super) async fn post_payment(
        &self,
        bank: &str,
        product: &str,
        body: &Value,
        notification: Option<&str>,
    ) -> Response {
        let mut request = self
            .call(Method::POST, &format!("/{bank}/v1/payments/{product}"))
            .header("psu-ip-address", PSU_IP)
            .header("tpp-redirect-uri", OK_URI)
            .header("tpp-nok-redirect-uri", NOK_URI);
        if let Some(uri) = notification {
            request = request.header("tpp-notification-uri", uri);
        }
        request.json(body).send().await.unwrap()
    }

    /// A SEPA payment at `bank`, its 201 body.
    pub(super) async fn payment(&self, bank: &str) -> Value {
        let response = self
            .post_payment(bank, "sepa-credit-transfers", &sepa_body(), None)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// The SCA page of a 201: its `scaRedirect`, or (explicit authorisation) the one that
    /// starting an authorisation answers.
    pub(super) async fn sca_url(&self, created: &Value) -> String {
        if let Some(href) = created["_links"]["scaRedirect"]["href"].as_str() {
            return href.to_owned();
        }
        let start = created["_links"]["startAuthorisation"]["href"]
            .as_str()
            .expect("scaRedirect or startAuthorisation");
        let response = self
            .call(Method::POST, start)
            .header("tpp-redirect-uri", OK_URI)
            .header("tpp-nok-redirect-uri", NOK_URI)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        body["_links"]["scaRedirect"]["href"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Submits the SCA form; the 303's `Location`.
    pub(super) async fn submit(&self, sca_url: &str, psu: &str, action: &str) -> String {
        let response = self
            .raw(Method::POST, sca_url)
            .form(&[("psu", psu), ("action", action)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{sca_url}");
        response.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Authorises a 201's consent or payment on its SCA page.
    pub(super) async fn authorise(&self, created: &Value, psu: &str, action: &str) -> String {
        let url = self.sca_url(created).await;
        self.submit(&url, psu, action).await
    }

    /// GET of a link in a 201 (`self`, `status`), as JSON.
    pub(super) async fn follow(&self, created: &Value, link: &str) -> Value {
        let href = created["_links"][link]["href"].as_str().unwrap();
        let response = self.call(Method::GET, href).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{href}");
        response.json().await.unwrap()
    }

    /// An account read with the consent, by the PSU (`PSU-IP-Address`) or in the background.
    pub(super) async fn read(&self, path: &str, consent_id: &str, psu_present: bool) -> Response {
        let mut request = self
            .call(Method::GET, path)
            .header("consent-id", consent_id);
        if psu_present {
            request = request.header("psu-ip-address", PSU_IP);
        }
        request.send().await.unwrap()
    }

    pub(super) async fn fault(&self, bank: &str, kind: &str, count: u32) {
        let response = self
            .raw(Method::POST, "/sandbox/faults")
            .json(&json!({ "bank": bank, "kind": kind, "count": count }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }

    pub(super) async fn requests(&self) -> Vec<Value> {
        let response = self
            .raw(Method::GET, "/sandbox/requests")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

/// A bank-offered consent request.
pub(super) fn consent_body(valid_until: &str, frequency: u32) -> Value {
    json!({
        "access": { "accounts": [], "balances": [] },
        "recurringIndicator": true,
        "validUntil": valid_until,
        "frequencyPerDay": frequency,
        "combinedServiceIndicator": false
    })
}

/// A SEPA credit transfer request (the spec's example, from PSU-Successful's account).
pub(super) fn sepa_body() -> Value {
    json!({
        "instructedAmount": { "currency": "EUR", "amount": "123.50" },
        "debtorAccount": { "iban": "NO9812021000017" },
        "creditorName": "Merchant123",
        "creditorAccount": { "iban": "DE02100100109307118603" },
        "remittanceInformationUnstructured": "Ref Number Merchant"
    })
}

/// The first `tppMessages` code of an error answer.
pub(super) async fn error_code(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["tppMessages"][0]["category"], "ERROR", "{body}");
    (
        status,
        body["tppMessages"][0]["code"].as_str().unwrap().to_owned(),
    )
}

/// Polls `probe` until it gives `Some`, for at most `limit`.
pub(super) async fn eventually<T, F, Fut>(limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn serve_refuses_to_run_without_a_notification_secret() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = SandboxConfig {
        notification_secret: String::new(),
        ..config()
    };
    // Returns at once instead of serving until the (never-resolving) shutdown.
    tokio::time::timeout(
        Duration::from_secs(5),
        serve(listener, config, std::future::pending()),
    )
    .await
    .expect("serve returns without serving");
}

#[tokio::test]
async fn banks_are_listed() {
    let sandbox = Sandbox::start().await;
    let response = sandbox
        .raw(Method::GET, "/sandbox/banks")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let banks: Value = response.json().await.unwrap();
    let all = [
        "sepa-credit-transfers",
        "instant-sepa-credit-transfers",
        "cross-border-credit-transfers",
        "norwegian-domestic-credit-transfers",
    ];
    assert_eq!(
        banks,
        json!([
            {"id": "dnb", "name": "DNB (sandbox)", "bic": "DNBANOKK",
             "products": all, "explicitAuthorisation": false},
            {"id": "sparebank1", "name": "SpareBank 1 (sandbox)", "bic": "SPRONO22",
             "products": ["sepa-credit-transfers", "cross-border-credit-transfers",
                          "norwegian-domestic-credit-transfers"],
             "explicitAuthorisation": false},
            {"id": "nordea", "name": "Nordea (sandbox)", "bic": "NDEANOKK",
             "products": all, "explicitAuthorisation": true},
        ])
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn the_in_process_router_answers_without_a_listener() {
    use tower::ServiceExt as _;
    let app = crate::router(SandboxConfig {
        public_url: "http://bank.test".into(),
        ..config()
    });
    let request = http::Request::post("/dnb/v1/consents")
        .header("x-request-id", "99391c7e-ad88-49ec-a2ad-99ddcb1f7721")
        .header("psu-ip-address", PSU_IP)
        .header("tpp-redirect-uri", OK_URI)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            consent_body(&days_ahead(10), 4).to_string(),
        ))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("http://bank.test/dnb/v1/consents/"));
}
