//! The Berlin Group client against the project's sandbox bank over HTTP.
//!
//! The calls that should succeed go through Prism (`prism proxy --errors`, see
//! `drop_testkit::prism`), so every request the client sends is checked against the
//! NextGenPSD2 1.3.12 document, and so is every answer of the sandbox; each such test ends by
//! asserting Prism reported no violation. The fault tests talk to the sandbox directly: a
//! fault is the sandbox breaking the spec on purpose (an HTML page, a body without its fields),
//! which Prism would turn into a 500 before the client could see it.
//!
//! What the sandbox received is read back from its `/sandbox/requests`. Each test has its own
//! sandbox, its own breaker table in moto, and millisecond backoff.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use bank_sandbox::SandboxConfig;
use drop_shared::aws::bank_breaker::{BankBreaker, BreakerPolicy, BreakerState};
use drop_shared::aws::provision::ensure_table;
use drop_shared::aws::Aws;
use drop_shared::clock::ManualClock;
use drop_shared::domain::bank::{BankId, ConsentStatus, PaymentProduct, TransactionStatus};
use drop_shared::domain::ids::Iban;
use drop_shared::domain::money::{Currency, Money};
use drop_shared::providers::bank::{
    Balance, BalanceType, Bank, BankError, BerlinGroupClient, Cancellation, CreditorAccount,
    PaymentOrder, PaymentStarted, PostalAddress, Psu, Redirects,
};
use drop_shared::providers::outbound::RetryPolicy;
use drop_testkit::prism::Prism;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use time::{Date, OffsetDateTime};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;
use uuid::Uuid;

const OK_URI: &str = "https://drop.example/v1/accounts/consents/return?flow=ok";
const NOK_URI: &str = "https://drop.example/v1/accounts/consents/return?flow=nok";
const NOTIFY_URI: &str = "https://drop.example/v1/webhooks/pisp";
const USER_IP: &str = "192.0.2.44";
/// PSU-Successful's current account at DNB, as the sandbox's contract names it.
const DNB_CURRENT_IBAN: &str = "NO9812021000017";
const DNB_CURRENT_RESOURCE: &str = "acc-12021000017";

/// The sandbox's SCA step and timings for these tests.
const STATUS_STEP: Duration = Duration::from_millis(1_500);
const TIMEOUT_HOLD: Duration = Duration::from_secs(3);
const SLOW_DELAY: Duration = Duration::from_millis(400);

/// A sandbox bank on an ephemeral port, a fresh breaker table, and a plain HTTP client for the
/// sandbox's control API. The sandbox stops when this is dropped.
struct World {
    /// Where the tests reach the sandbox.
    sandbox: String,
    /// The host its links and `Location` headers name (see [`World::new`]).
    public_url: String,
    http: reqwest::Client,
    aws: Aws,
    table: String,
    _stop: oneshot::Sender<()>,
}

impl World {
    async fn new() -> World {
        if std::env::var("AWS_ENDPOINT_URL").is_err() {
            panic!("AWS_ENDPOINT_URL is not set: run the tests with `cargo xtask test` (moto)");
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sandbox = format!("http://{addr}");
        // The links and `Location` headers the sandbox answers name this host, not 127.0.0.1:
        // Prism checks `Location` against the format `url`, whose pattern (ajv-formats)
        // refuses loopback and private addresses and wants a host name with a top-level
        // domain. Nothing follows those links here (the SCA is decided through the control API,
        // and the client calls `startAuthorisation` under its own base URL).
        let public_url = format!("http://bank.localhost:{}", addr.port());
        let config = SandboxConfig {
            public_url: public_url.clone(),
            notification_secret: "bank-client-test-secret".into(),
            status_step: STATUS_STEP,
            timeout_hold: TIMEOUT_HOLD,
            slow_delay: SLOW_DELAY,
            ..SandboxConfig::default()
        };
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(bank_sandbox::serve(listener, config, async {
            let _ = stopped.await;
        }));
        let sdk = drop_testkit::sdk_config().await;
        let aws = Aws::from_sdk(&sdk);
        let table = format!("bank-breaker-{}", Uuid::new_v4().simple());
        ensure_table(&aws.clients().await.dynamo, &table)
            .await
            .unwrap();
        World {
            sandbox,
            public_url,
            http: reqwest::Client::new(),
            aws,
            table,
            _stop: stop,
        }
    }

    fn breaker(&self) -> BankBreaker {
        BankBreaker::new(self.aws.clone(), self.table.clone())
    }

    /// A breaker that never opens, for tests that fail one call after another on purpose.
    fn patient_breaker(&self) -> BankBreaker {
        self.breaker().with_policy(BreakerPolicy {
            failures: 1_000,
            ..BreakerPolicy::default()
        })
    }

    /// A client talking to the sandbox directly, whose breaker never opens, with `timeout`
    /// per attempt.
    fn patient(&self, bank: &str, timeout: Duration) -> BerlinGroupClient {
        self.client_at(
            bank,
            &format!("{}/{bank}", self.sandbox),
            self.patient_breaker(),
            timeout,
        )
    }

    /// A client for `bank` at `base_url`, with millisecond backoff and `timeout` per attempt.
    fn client_at(
        &self,
        bank: &str,
        base_url: &str,
        breaker: BankBreaker,
        timeout: Duration,
    ) -> BerlinGroupClient {
        BerlinGroupClient::new(bank.parse().unwrap(), base_url, breaker).with_retry_policy(
            RetryPolicy {
                max_retries: 3,
                base_delay: Duration::from_millis(5),
                timeout,
                ..RetryPolicy::default()
            },
        )
    }

    /// A client talking to the sandbox directly.
    fn direct(&self, bank: &str) -> BerlinGroupClient {
        self.client_at(
            bank,
            &format!("{}/{bank}", self.sandbox),
            self.breaker(),
            Duration::from_secs(5),
        )
    }

    /// Prism in front of `bank`, and a client talking through it.
    async fn through_prism(&self, bank: &str) -> (Prism, BerlinGroupClient) {
        let upstream = format!("{}/{bank}", self.sandbox);
        let prism = tokio::task::spawn_blocking(move || Prism::proxy(&upstream))
            .await
            .unwrap();
        let client = self.client_at(bank, &prism.url, self.breaker(), Duration::from_secs(10));
        (prism, client)
    }

    async fn requests(&self) -> Vec<Value> {
        let answer = self
            .http
            .get(format!("{}/sandbox/requests", self.sandbox))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        answer.json::<Vec<Value>>().await.unwrap()
    }

    async fn clear_requests(&self) {
        let answer = self
            .http
            .delete(format!("{}/sandbox/requests", self.sandbox))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }

    async fn fault(&self, bank: &str, kind: &str, count: u32) {
        let answer = self
            .http
            .post(format!("{}/sandbox/faults", self.sandbox))
            .json(&json!({"bank": bank, "kind": kind, "count": count}))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
    }

    async fn clear_faults(&self) {
        let answer = self
            .http
            .delete(format!("{}/sandbox/faults", self.sandbox))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }

    /// Decides the SCA the redirect leads to, as `psu` on the bank's page would; returns where
    /// the bank sends the browser.
    async fn sca(&self, sca_redirect: &Url, psu: &str, action: &str) -> String {
        assert!(
            sca_redirect.as_str().starts_with(&self.public_url),
            "the SCA page is the bank's: {sca_redirect}"
        );
        let authorisation = sca_redirect.path_segments().unwrap().next_back().unwrap();
        let answer = self
            .http
            .post(format!("{}/sandbox/sca/{authorisation}", self.sandbox))
            .json(&json!({"psu": psu, "action": action}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        answer.json::<Value>().await.unwrap()["location"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn user() -> Psu {
    Psu::present(USER_IP.parse::<IpAddr>().unwrap())
}

fn redirects() -> Redirects {
    Redirects {
        ok: OK_URI.into(),
        nok: NOK_URI.into(),
        notification: None,
    }
}

fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// The Berlin Group requests the sandbox received for `method` and a path ending in `suffix`.
fn matching<'a>(requests: &'a [Value], method: &str, suffix: &str) -> Vec<&'a Value> {
    requests
        .iter()
        .filter(|r| r["method"] == method && r["path"].as_str().unwrap().ends_with(suffix))
        .collect()
}

fn header<'a>(request: &'a Value, name: &str) -> Option<&'a str> {
    request["headers"][name].as_str()
}

/// Polls `read` until it gives what `done` accepts, for at most `within`.
async fn eventually<T: std::fmt::Debug, F, Fut>(
    within: Duration,
    mut read: F,
    done: impl Fn(&T) -> bool,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let value = read().await;
        if done(&value) || tokio::time::Instant::now() >= deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A consent at `bank`, authorised by `psu`: its id.
async fn consented(world: &World, bank: &BerlinGroupClient, psu: &str, per_day: u8) -> String {
    let started = bank
        .create_consent(
            today() + time::Duration::days(90),
            per_day,
            &user(),
            &redirects(),
        )
        .await
        .unwrap();
    assert_eq!(started.status, ConsentStatus::Received);
    let location = world.sca(&started.sca_redirect, psu, "approve").await;
    assert_eq!(location, OK_URI);
    started.consent_id
}

#[tokio::test]
async fn an_ais_consent_from_creation_to_deletion_through_prism() {
    let world = World::new().await;
    let (prism, dnb) = world.through_prism("dnb").await;
    let valid_until = today() + time::Duration::days(180);

    let started = dnb
        .create_consent(valid_until, 4, &user(), &redirects())
        .await
        .unwrap();
    assert_eq!(started.status, ConsentStatus::Received);
    assert!(!started.consent_id.is_empty());
    // The redirect is a hint: until the user approves, the bank says received.
    let before = dnb.consent(&started.consent_id, &user()).await.unwrap();
    assert_eq!(before.status, ConsentStatus::Received);

    let location = world
        .sca(&started.sca_redirect, "PSU-Successful", "approve")
        .await;
    assert_eq!(location, OK_URI);
    let consent = dnb
        .consent(&started.consent_id, &Psu::absent())
        .await
        .unwrap();
    assert_eq!(consent.status, ConsentStatus::Valid);
    assert_eq!(consent.valid_until, valid_until, "DNB grants 180 days");
    assert_eq!(consent.frequency_per_day, 4);
    assert!(consent.recurring);

    let accounts = dnb.accounts(&started.consent_id, &user()).await.unwrap();
    let names: Vec<_> = accounts
        .iter()
        .map(|a| a.name.as_ref().unwrap().expose().as_str())
        .collect();
    assert_eq!(names, ["Brukskonto", "Sparekonto"]);
    let current = &accounts[0];
    assert_eq!(current.resource_id, DNB_CURRENT_RESOURCE);
    assert_eq!(current.iban.expose().as_str(), DNB_CURRENT_IBAN);
    assert_eq!(current.currency, Currency::NOK);

    let balances = dnb
        .balances(&started.consent_id, &current.resource_id, &user())
        .await
        .unwrap();
    let closing: Vec<&Balance> = balances
        .iter()
        .filter(|b| b.balance_type == BalanceType::ClosingBooked)
        .collect();
    assert_eq!(closing.len(), 1);
    assert_eq!(closing[0].amount, "12345.67".parse().unwrap());
    assert_eq!(closing[0].currency, Currency::NOK);
    assert!(balances
        .iter()
        .any(|b| b.balance_type == BalanceType::InterimAvailable));

    dnb.delete_consent(&started.consent_id, &user())
        .await
        .unwrap();
    let ended = dnb.consent(&started.consent_id, &user()).await.unwrap();
    assert_eq!(ended.status, ConsentStatus::TerminatedByTpp);
    assert!(matches!(
        dnb.accounts(&started.consent_id, &user()).await,
        Err(BankError::ConsentNotValid { expired: false, .. })
    ));

    // What was sent: a fresh uuid per call, the headers the spec requires, the body it asks for.
    let requests = world.requests().await;
    let ids: Vec<&str> = requests
        .iter()
        .map(|r| header(r, "x-request-id").unwrap())
        .collect();
    for id in &ids {
        Uuid::parse_str(id).unwrap();
    }
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        ids.len(),
        "one X-Request-ID per call: {ids:?}"
    );
    let create = matching(&requests, "POST", "/v1/consents");
    assert_eq!(create.len(), 1);
    let create = create[0];
    assert_eq!(create["path"], "/dnb/v1/consents");
    assert_eq!(header(create, "psu-ip-address"), Some(USER_IP));
    assert_eq!(header(create, "tpp-redirect-uri"), Some(OK_URI));
    assert_eq!(header(create, "tpp-nok-redirect-uri"), Some(NOK_URI));
    assert_eq!(
        create["body"],
        json!({
            "access": {"accounts": [], "balances": []},
            "recurringIndicator": true,
            "validUntil": valid_until.to_string(),
            "frequencyPerDay": 4,
            "combinedServiceIndicator": false
        })
    );
    let reads = matching(&requests, "GET", "/v1/accounts");
    assert!(reads
        .iter()
        .all(|r| header(r, "consent-id") == Some(started.consent_id.as_str())));
    let read_without_user = matching(
        &requests,
        "GET",
        &format!("/v1/consents/{}", started.consent_id),
    );
    assert_eq!(header(read_without_user[1], "psu-ip-address"), None);
    assert_eq!(
        matching(
            &requests,
            "DELETE",
            &format!("/v1/consents/{}", started.consent_id)
        )
        .len(),
        1
    );
    prism.assert_no_violations();
}

#[tokio::test]
async fn background_reads_send_no_psu_ip_and_stop_at_the_daily_frequency() {
    let world = World::new().await;
    let (prism, dnb) = world.through_prism("dnb").await;
    let consent = consented(&world, &dnb, "PSU-Successful", 2).await;
    world.clear_requests().await;

    // Reads with the user present are not counted; two without are allowed, the third is not.
    for _ in 0..3 {
        dnb.accounts(&consent, &user()).await.unwrap();
    }
    dnb.accounts(&consent, &Psu::absent()).await.unwrap();
    dnb.balances(&consent, DNB_CURRENT_RESOURCE, &Psu::absent())
        .await
        .unwrap();
    assert!(matches!(
        dnb.accounts(&consent, &Psu::absent()).await,
        Err(BankError::AccessExceeded { .. })
    ));
    // The user present still gets through.
    dnb.balances(&consent, DNB_CURRENT_RESOURCE, &user())
        .await
        .unwrap();

    let requests = world.requests().await;
    let with_ip: Vec<_> = requests
        .iter()
        .map(|r| header(r, "psu-ip-address"))
        .collect();
    assert_eq!(
        with_ip,
        [
            Some(USER_IP),
            Some(USER_IP),
            Some(USER_IP),
            None,
            None,
            None,
            Some(USER_IP)
        ]
    );
    prism.assert_no_violations();
}

#[tokio::test]
async fn sparebank1_shortens_the_consent_and_refuses_instant_payments() {
    let world = World::new().await;
    let (prism, sparebank1) = world.through_prism("sparebank1").await;
    let asked = today() + time::Duration::days(180);
    let started = sparebank1
        .create_consent(asked, 4, &user(), &redirects())
        .await
        .unwrap();
    world
        .sca(&started.sca_redirect, "PSU-Successful", "approve")
        .await;
    let consent = sparebank1
        .consent(&started.consent_id, &user())
        .await
        .unwrap();
    assert_eq!(consent.status, ConsentStatus::Valid);
    assert_eq!(
        consent.valid_until,
        today() + time::Duration::days(90),
        "kept as the bank granted it"
    );

    let refused = sparebank1
        .initiate_payment(
            &sepa(PaymentProduct::InstantSepaCreditTransfers),
            &user(),
            &redirects(),
            Uuid::new_v4(),
        )
        .await;
    match refused {
        Err(BankError::Rejected { status, code, .. }) => {
            assert_eq!(status, 404);
            assert_eq!(code.as_deref(), Some("PRODUCT_UNKNOWN"));
        }
        other => panic!("{other:?}"),
    }
    prism.assert_no_violations();
}

fn debtor() -> Iban {
    DNB_CURRENT_IBAN.parse().unwrap()
}

fn sepa(product: PaymentProduct) -> PaymentOrder {
    PaymentOrder {
        product,
        debtor_account: debtor(),
        amount: Money::parse("120.50", Currency::EUR).unwrap(),
        creditor_account: CreditorAccount::Iban("DE89370400440532013000".parse().unwrap()),
        creditor_name: "Anna Schmidt".into(),
        creditor_agent: Some("COBADEFF".parse().unwrap()),
        creditor_address: None,
        remittance_information: Some("Invoice 2030-17".into()),
        end_to_end_id: Some("drop-e2e-1".into()),
    }
}

fn cross_border() -> PaymentOrder {
    PaymentOrder {
        product: PaymentProduct::CrossBorderCreditTransfers,
        debtor_account: debtor(),
        amount: Money::parse("2000.00", Currency::NOK).unwrap(),
        creditor_account: CreditorAccount::Iban("TR330006100519786457841326".parse().unwrap()),
        creditor_name: "Ayşe Yılmaz".into(),
        creditor_agent: Some("TGBATRIS".parse().unwrap()),
        creditor_address: Some(PostalAddress {
            street_name: Some("Atatürk Bulvarı".into()),
            building_number: Some("10".into()),
            town_name: Some("Ankara".into()),
            post_code: Some("06420".into()),
            country: "TR".parse().unwrap(),
        }),
        remittance_information: Some("Family support".into()),
        end_to_end_id: None,
    }
}

fn domestic() -> PaymentOrder {
    PaymentOrder {
        product: PaymentProduct::NorwegianDomesticCreditTransfers,
        debtor_account: debtor(),
        amount: Money::parse("349", Currency::NOK).unwrap(),
        creditor_account: CreditorAccount::NorwegianAccount("86011117947".parse().unwrap()),
        creditor_name: "Kaffebrenneriet AS".into(),
        creditor_agent: None,
        creditor_address: None,
        remittance_information: Some("QR 42".into()),
        end_to_end_id: Some("drop-qr-42".into()),
    }
}

#[tokio::test]
async fn every_payment_product_is_initiated_read_and_cancelled_through_prism() {
    let world = World::new().await;
    let (prism, dnb) = world.through_prism("dnb").await;
    let with_notifications = Redirects {
        notification: Some(NOTIFY_URI.into()),
        ..redirects()
    };
    let mut started: Vec<(PaymentProduct, Uuid, PaymentStarted)> = Vec::new();
    for order in [
        sepa(PaymentProduct::SepaCreditTransfers),
        sepa(PaymentProduct::InstantSepaCreditTransfers),
        cross_border(),
        domestic(),
    ] {
        let request_id = Uuid::new_v4();
        let payment = dnb
            .initiate_payment(&order, &user(), &with_notifications, request_id)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", order.product, prism.output()));
        assert_eq!(payment.status, TransactionStatus::Rcvd);
        started.push((order.product, request_id, payment));
    }

    // The bank's fees, as the sandbox computes them: 25.00 flat, 0.5 % of 2000.00, the sum.
    let (_, _, cross) = &started[2];
    let nok = |s| Some(Money::parse(s, Currency::NOK).unwrap());
    assert_eq!(cross.fees.transaction_fees, nok("25.00"));
    assert_eq!(cross.fees.currency_conversion_fee, nok("10.00"));
    assert_eq!(cross.fees.estimated_total_amount, nok("2035.00"));
    assert_eq!(started[0].2.fees.transaction_fees, None);

    let requests = world.requests().await;
    for (product, request_id, _) in &started {
        let posts = matching(&requests, "POST", &format!("/v1/payments/{product}"));
        assert_eq!(posts.len(), 1, "{product}");
        assert_eq!(
            header(posts[0], "x-request-id"),
            Some(request_id.to_string().as_str())
        );
        assert_eq!(header(posts[0], "psu-ip-address"), Some(USER_IP));
        assert_eq!(header(posts[0], "tpp-notification-uri"), Some(NOTIFY_URI));
    }
    let cross_body = &matching(
        &requests,
        "POST",
        "/v1/payments/cross-border-credit-transfers",
    )[0]["body"];
    assert_eq!(
        *cross_body,
        json!({
            "debtorAccount": {"iban": DNB_CURRENT_IBAN},
            "instructedAmount": {"currency": "NOK", "amount": "2000.00"},
            "creditorAccount": {"iban": "TR330006100519786457841326"},
            "creditorAgent": "TGBATRIS",
            "creditorName": "Ayşe Yılmaz",
            "creditorAddress": {
                "streetName": "Atatürk Bulvarı",
                "buildingNumber": "10",
                "townName": "Ankara",
                "postCode": "06420",
                "country": "TR"
            },
            "remittanceInformationUnstructured": "Family support"
        })
    );
    let domestic_body = &matching(
        &requests,
        "POST",
        "/v1/payments/norwegian-domestic-credit-transfers",
    )[0]["body"];
    assert_eq!(
        domestic_body["creditorAccount"],
        json!({"bban": "86011117947"})
    );
    assert_eq!(
        domestic_body["instructedAmount"],
        json!({"currency": "NOK", "amount": "349.00"})
    );

    // SEPA: approved, then it moves through ACTC and ACSP to ACSC.
    let (product, _, payment) = &started[0];
    assert_eq!(
        dnb.payment_status(*product, &payment.payment_id)
            .await
            .unwrap(),
        TransactionStatus::Rcvd,
        "before SCA"
    );
    assert_eq!(
        world
            .sca(&payment.sca_redirect, "PSU-Successful", "approve")
            .await,
        OK_URI
    );
    let status = dnb
        .payment_status(*product, &payment.payment_id)
        .await
        .unwrap();
    assert!(!status.is_final(), "{status} right after SCA");
    let settled = eventually(
        STATUS_STEP * 5,
        || dnb.payment_status(*product, &payment.payment_id),
        |s| matches!(s, Ok(s) if s.is_final()),
    )
    .await;
    assert_eq!(settled.unwrap(), TransactionStatus::Acsc);

    // Instant SEPA, before SCA: cancelled at once (204).
    let (product, _, payment) = &started[1];
    assert_eq!(
        dnb.cancel_payment(*product, &payment.payment_id)
            .await
            .unwrap(),
        Cancellation::Cancelled
    );
    assert_eq!(
        dnb.payment_status(*product, &payment.payment_id)
            .await
            .unwrap(),
        TransactionStatus::Canc
    );

    // Cross-border, right after SCA: the bank needs a cancellation authorisation (202).
    let (product, _, payment) = &started[2];
    world
        .sca(&payment.sca_redirect, "PSU-Successful", "approve")
        .await;
    match dnb
        .cancel_payment(*product, &payment.payment_id)
        .await
        .unwrap()
    {
        Cancellation::AuthorisationNeeded { status } => {
            assert!(
                matches!(status, TransactionStatus::Actc | TransactionStatus::Acsp),
                "{status}"
            )
        }
        other => panic!("{other:?}"),
    }

    // Domestic, rejected at SCA: NOK redirect, and the bank says RJCT.
    let (product, _, payment) = &started[3];
    assert_eq!(
        world
            .sca(&payment.sca_redirect, "PSU-Successful", "reject")
            .await,
        NOK_URI
    );
    assert_eq!(
        dnb.payment_status(*product, &payment.payment_id)
            .await
            .unwrap(),
        TransactionStatus::Rjct
    );
    prism.assert_no_violations();
}

#[tokio::test]
async fn nordea_asks_for_the_authorisation_to_be_started_explicitly() {
    let world = World::new().await;
    let (prism, nordea) = world.through_prism("nordea").await;
    let started = nordea
        .create_consent(today() + time::Duration::days(30), 4, &user(), &redirects())
        .await
        .unwrap();
    assert_eq!(
        world
            .sca(&started.sca_redirect, "PSU-Successful", "approve")
            .await,
        OK_URI
    );
    assert_eq!(
        nordea
            .consent(&started.consent_id, &user())
            .await
            .unwrap()
            .status,
        ConsentStatus::Valid
    );

    let payment = nordea
        .initiate_payment(&domestic(), &user(), &redirects(), Uuid::new_v4())
        .await
        .unwrap();
    assert_eq!(
        world
            .sca(&payment.sca_redirect, "PSU-Successful", "approve")
            .await,
        OK_URI
    );
    let status = nordea
        .payment_status(
            PaymentProduct::NorwegianDomesticCreditTransfers,
            &payment.payment_id,
        )
        .await
        .unwrap();
    assert!(
        matches!(
            status,
            TransactionStatus::Actc | TransactionStatus::Acsp | TransactionStatus::Acsc
        ),
        "{status}"
    );

    let requests = world.requests().await;
    let consent_start = matching(
        &requests,
        "POST",
        &format!("/v1/consents/{}/authorisations", started.consent_id),
    );
    assert_eq!(consent_start.len(), 1);
    assert_eq!(header(consent_start[0], "tpp-redirect-uri"), Some(OK_URI));
    assert_eq!(header(consent_start[0], "psu-ip-address"), Some(USER_IP));
    let payment_start = matching(
        &requests,
        "POST",
        &format!(
            "/v1/payments/norwegian-domestic-credit-transfers/{}/authorisations",
            payment.payment_id
        ),
    );
    assert_eq!(payment_start.len(), 1);
    assert_ne!(
        header(payment_start[0], "x-request-id"),
        header(
            matching(
                &requests,
                "POST",
                "/v1/payments/norwegian-domestic-credit-transfers"
            )[0],
            "x-request-id"
        ),
        "starting the authorisation is a call of its own"
    );
    prism.assert_no_violations();
}

#[tokio::test]
async fn a_bank_asking_for_embedded_sca_is_refused() {
    let world = World::new().await;
    let (prism, dnb) = world.through_prism("dnb").await;
    world.fault("dnb", "embedded", 1).await;
    match dnb
        .create_consent(today() + time::Duration::days(30), 4, &user(), &redirects())
        .await
    {
        Err(BankError::UnsupportedScaApproach { approach, .. }) => assert_eq!(approach, "EMBEDDED"),
        other => panic!("{other:?}"),
    }
    world.fault("dnb", "embedded", 1).await;
    match dnb
        .initiate_payment(&domestic(), &user(), &redirects(), Uuid::new_v4())
        .await
    {
        Err(BankError::UnsupportedScaApproach { approach, .. }) => assert_eq!(approach, "EMBEDDED"),
        other => panic!("{other:?}"),
    }
    prism.assert_no_violations();
}

#[tokio::test]
async fn a_read_is_retried_with_the_same_request_id() {
    let world = World::new().await;
    let dnb = world.direct("dnb");
    let consent = consented(&world, &dnb, "PSU-Successful", 4).await;
    world.clear_requests().await;
    world.fault("dnb", "status503", 2).await;
    dnb.balances(&consent, DNB_CURRENT_RESOURCE, &Psu::absent())
        .await
        .unwrap();
    world.fault("dnb", "timeout", 1).await;
    let quick = world.patient("dnb", Duration::from_millis(300));
    quick.accounts(&consent, &Psu::absent()).await.unwrap();

    let requests = world.requests().await;
    let balances = matching(&requests, "GET", "/balances");
    assert_eq!(balances.len(), 3, "two 503s, then the answer");
    let ids: Vec<_> = balances.iter().map(|r| header(r, "x-request-id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert!(balances
        .iter()
        .all(|r| header(r, "psu-ip-address").is_none()));
    let accounts = matching(&requests, "GET", "/v1/accounts");
    assert_eq!(accounts.len(), 2, "a timeout, then the answer");
    assert_eq!(
        header(accounts[0], "x-request-id"),
        header(accounts[1], "x-request-id")
    );
    assert_ne!(header(accounts[0], "x-request-id"), ids[0]);
}

#[tokio::test]
async fn a_payment_initiation_is_never_sent_twice() {
    let world = World::new().await;
    let dnb = world.patient("dnb", Duration::from_secs(5));
    for kind in ["status500", "status503"] {
        world.clear_requests().await;
        world.fault("dnb", kind, 1).await;
        let request_id = Uuid::new_v4();
        match dnb
            .initiate_payment(&domestic(), &user(), &redirects(), request_id)
            .await
        {
            Err(BankError::OutcomeUnknown { request_id: id, .. }) => assert_eq!(id, request_id),
            other => panic!("{kind}: {other:?}"),
        }
        let posts = world.requests().await;
        assert_eq!(
            matching(
                &posts,
                "POST",
                "/v1/payments/norwegian-domestic-credit-transfers"
            )
            .len(),
            1,
            "{kind}"
        );
    }
    for kind in ["malformed", "html", "error200"] {
        world.clear_requests().await;
        world.fault("dnb", kind, 1).await;
        let request_id = Uuid::new_v4();
        assert!(
            matches!(
                dnb.initiate_payment(&domestic(), &user(), &redirects(), request_id).await,
                Err(BankError::OutcomeUnknown { request_id: id, .. }) if id == request_id
            ),
            "{kind}"
        );
        assert_eq!(world.requests().await.len(), 1, "{kind}");
    }
    world.clear_requests().await;
    world.fault("dnb", "timeout", 1).await;
    let quick = world.patient("dnb", Duration::from_millis(300));
    let request_id = Uuid::new_v4();
    assert!(matches!(
        quick.initiate_payment(&domestic(), &user(), &redirects(), request_id).await,
        Err(BankError::OutcomeUnknown { request_id: id, .. }) if id == request_id
    ));
    assert_eq!(world.requests().await.len(), 1);

    // Nobody listening: provably not sent, so it is retried and then the bank is unavailable.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = format!("http://{}/dnb", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = world.client_at(
        "dnb",
        &nowhere,
        world.patient_breaker(),
        Duration::from_secs(2),
    );
    assert!(matches!(
        unreachable
            .initiate_payment(&domestic(), &user(), &redirects(), Uuid::new_v4())
            .await,
        Err(BankError::Unavailable {
            source: Some(_),
            ..
        })
    ));
}

#[tokio::test]
async fn each_fault_is_the_right_error() {
    let world = World::new().await;
    let dnb = world.patient("dnb", Duration::from_secs(5));
    let consent = consented(&world, &dnb, "PSU-Successful", 4).await;
    let quick = world.patient("dnb", Duration::from_millis(300));
    // Each fault outlasts the retries (four attempts).
    for (kind, expected) in [
        ("status500", "unavailable"),
        ("status503", "unavailable"),
        ("timeout", "unavailable"),
        ("slow", "unavailable"),
        ("html", "bad"),
        ("malformed", "bad"),
        ("error200", "bad"),
    ] {
        world.clear_faults().await;
        world.fault("dnb", kind, 4).await;
        let result = quick.consent(&consent, &user()).await;
        let got = match &result {
            Err(BankError::Unavailable { .. }) => "unavailable",
            Err(BankError::BadResponse { bank, .. }) => {
                assert_eq!(bank.as_str(), "dnb");
                "bad"
            }
            _ => "other",
        };
        assert_eq!(got, expected, "{kind}: {result:?}");
        // Nothing of the body in the error.
        let text = format!(
            "{:?} {}",
            result.as_ref().err(),
            result
                .as_ref()
                .err()
                .map(ToString::to_string)
                .unwrap_or_default()
        );
        assert!(
            !text.contains("<html") && !text.contains("tppMessages"),
            "{text}"
        );
    }
    world.clear_faults().await;
    // A slow answer within the attempt's time is just an answer.
    world.fault("dnb", "slow", 1).await;
    assert_eq!(
        dnb.consent(&consent, &user()).await.unwrap().status,
        ConsentStatus::Valid
    );

    // The bank's refusals, read from its error bodies.
    let expired = consented(&world, &dnb, "PSU-ConsentExpired", 4).await;
    assert_eq!(
        dnb.consent(&expired, &user()).await.unwrap().status,
        ConsentStatus::Expired
    );
    assert!(matches!(
        dnb.accounts(&expired, &user()).await,
        Err(BankError::ConsentNotValid { expired: true, .. })
    ));
    let payment = dnb
        .initiate_payment(&domestic(), &user(), &redirects(), Uuid::new_v4())
        .await
        .unwrap();
    world
        .sca(&payment.sca_redirect, "PSU-CancellationRefused", "approve")
        .await;
    match dnb
        .cancel_payment(
            PaymentProduct::NorwegianDomesticCreditTransfers,
            &payment.payment_id,
        )
        .await
    {
        Err(BankError::Rejected { status, code, .. }) => {
            assert_eq!(status, 405);
            assert_eq!(code.as_deref(), Some("CANCELLATION_INVALID"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        dnb.consent("no-such-consent", &user()).await,
        Err(BankError::Rejected { .. } | BankError::ConsentNotValid { .. })
    ));
}

#[tokio::test]
async fn the_breaker_opens_for_every_instance_and_no_request_reaches_the_bank() {
    let world = World::new().await;
    let clock = ManualClock::new(OffsetDateTime::now_utc());
    let breaker = || world.breaker().with_clock(Arc::new(clock.clone()));
    let base = format!("{}/dnb", world.sandbox);
    let (a, b) = (
        world.client_at("dnb", &base, breaker(), Duration::from_secs(5)),
        world.client_at("dnb", &base, breaker(), Duration::from_secs(5)),
    );
    let consent = consented(&world, &a, "PSU-Successful", 4).await;
    world.clear_requests().await;
    world.fault("dnb", "status500", 1000).await;

    // Three failed calls (each with its retries), from two instances.
    for client in [&a, &b, &a] {
        assert!(matches!(
            client.accounts(&consent, &user()).await,
            Err(BankError::Unavailable {
                source: Some(_),
                ..
            })
        ));
    }
    assert_eq!(
        world.requests().await.len(),
        12,
        "three calls of four attempts each"
    );
    let dnb: BankId = "dnb".parse().unwrap();
    assert!(matches!(
        breaker().state(&dnb).await.unwrap(),
        BreakerState::Open { .. }
    ));

    // Open: refused at once, on either instance, and nothing reaches the bank.
    for client in [&b, &a] {
        match client
            .balances(&consent, DNB_CURRENT_RESOURCE, &user())
            .await
        {
            Err(BankError::Unavailable {
                retry_after: Some(wait),
                source: None,
                ..
            }) => {
                assert!(
                    wait <= Duration::from_secs(60) && wait >= Duration::from_secs(59),
                    "{wait:?}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        b.initiate_payment(&domestic(), &user(), &redirects(), Uuid::new_v4())
            .await,
        Err(BankError::Unavailable { source: None, .. })
    ));
    assert_eq!(world.requests().await.len(), 12, "no request while open");

    // A minute later the bank is back: one call tries, succeeds, and the breaker closes.
    world.clear_faults().await;
    clock.advance(time::Duration::seconds(60));
    assert_eq!(b.accounts(&consent, &user()).await.unwrap().len(), 2);
    assert_eq!(
        breaker().state(&dnb).await.unwrap(),
        BreakerState::Closed { recent_failures: 0 }
    );
    a.accounts(&consent, &user()).await.unwrap();
    assert_eq!(world.requests().await.len(), 14);

    // Answers that are refusals (4xx) do not count as failures.
    for _ in 0..4 {
        assert!(a.consent("no-such-consent", &user()).await.is_err());
    }
    assert_eq!(
        breaker().state(&dnb).await.unwrap(),
        BreakerState::Closed { recent_failures: 0 }
    );
}

/// The harness checks what it claims to: a request the spec does not allow is refused (422,
/// naming the violation) before it reaches the bank, an answer the spec does not allow becomes
/// a 500, and both are reported.
#[tokio::test]
async fn prism_refuses_requests_and_answers_the_spec_does_not_allow() {
    let world = World::new().await;
    let (prism, _) = world.through_prism("dnb").await;
    // No PSU-IP-Address, no combinedServiceIndicator.
    let answer = world
        .http
        .post(format!("{}/v1/consents", prism.url))
        .header("X-Request-ID", Uuid::new_v4().to_string())
        .header("TPP-Redirect-URI", OK_URI)
        .json(&json!({
            "access": {"accounts": [], "balances": []},
            "recurringIndicator": true,
            "validUntil": (today() + time::Duration::days(30)).to_string(),
            "frequencyPerDay": 4
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 422);
    let problem: Value = answer.json().await.unwrap();
    let problems = problem["validation"].to_string();
    assert!(problems.contains("psu-ip-address"), "{problems}");
    assert!(problems.contains("combinedServiceIndicator"), "{problems}");
    assert!(world.requests().await.is_empty(), "not forwarded");
    assert!(!prism.violations_within(Duration::from_secs(5)).is_empty());

    // A 200 without the fields the spec requires.
    let dnb = world.direct("dnb");
    let consent = consented(&world, &dnb, "PSU-Successful", 4).await;
    world.fault("dnb", "malformed", 1).await;
    let answer = world
        .http
        .get(format!("{}/v1/consents/{consent}", prism.url))
        .header("X-Request-ID", Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 500);
    let problem: Value = answer.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "https://stoplight.io/prism/errors#VIOLATIONS"
    );
    assert!(
        !problem["validation"].as_array().unwrap().is_empty(),
        "{problem}"
    );
}
