//! Injected faults and the request log.

use super::*;

/// A consent request to `bank` (the probe each fault is seen through).
async fn probe(sandbox: &Sandbox, bank: &str) -> Response {
    sandbox
        .post_consent(bank, &consent_body(&days_ahead(30), 4))
        .await
}

#[tokio::test]
async fn status_faults_hit_the_next_requests_of_one_bank_only() {
    let sandbox = Sandbox::start().await;
    sandbox.fault("dnb", "status500", 2).await;
    sandbox.fault("dnb", "status503", 1).await;
    assert_eq!(
        probe(&sandbox, "sparebank1").await.status(),
        StatusCode::CREATED
    );
    for expected in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::SERVICE_UNAVAILABLE,
    ] {
        let id = uuid::Uuid::new_v4().to_string();
        let response = sandbox
            .raw(Method::GET, "/dnb/v1/consents/whatever/status")
            .header("x-request-id", &id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], id.as_str());
        let (status, code) = error_code(response).await;
        assert_eq!(status, expected);
        assert!(!code.is_empty());
    }
    assert_eq!(probe(&sandbox, "dnb").await.status(), StatusCode::CREATED);

    // Cleared before use: normal again.
    sandbox.fault("nordea", "status500", 5).await;
    let cleared = sandbox
        .raw(Method::DELETE, "/sandbox/faults")
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        probe(&sandbox, "nordea").await.status(),
        StatusCode::CREATED
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn bodies_that_a_client_must_not_trust() {
    let sandbox = Sandbox::start().await;
    sandbox.fault("sparebank1", "html", 1).await;
    sandbox.fault("sparebank1", "malformed", 1).await;
    sandbox.fault("sparebank1", "error200", 1).await;

    let html = probe(&sandbox, "sparebank1").await;
    assert_eq!(html.status(), StatusCode::OK);
    assert!(html.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(html.text().await.unwrap().contains("<html>"));

    let malformed = probe(&sandbox, "sparebank1").await;
    assert_eq!(malformed.status(), StatusCode::OK);
    assert_eq!(malformed.headers()["content-type"], "application/json");
    let body: Value = malformed.json().await.unwrap();
    assert!(body.get("consentId").is_none());
    assert!(!body["consentStatus"].is_string(), "{body}");

    let error = probe(&sandbox, "sparebank1").await;
    assert_eq!(error.status(), StatusCode::OK);
    let body: Value = error.json().await.unwrap();
    assert_eq!(body["tppMessages"][0]["category"], "ERROR");
    assert!(body.get("consentId").is_none());
    sandbox.stop().await;
}

#[tokio::test]
async fn the_embedded_fault_offers_no_redirect() {
    let sandbox = Sandbox::start().await;
    for bank in ["dnb", "nordea"] {
        sandbox.fault(bank, "embedded", 1).await;
        let response = probe(&sandbox, bank).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["aspsp-sca-approach"], "EMBEDDED");
        let body: Value = response.json().await.unwrap();
        assert!(body["consentId"].is_string());
        assert!(body["_links"].get("scaRedirect").is_none(), "{body}");
        assert!(body["_links"].get("startAuthorisation").is_none(), "{body}");
        assert!(body["_links"]["startAuthorisationWithPsuAuthentication"]["href"].is_string());
    }
    sandbox.fault("dnb", "embedded", 1).await;
    let response = sandbox
        .post_payment("dnb", "sepa-credit-transfers", &sepa_body(), None)
        .await;
    assert_eq!(response.headers()["aspsp-sca-approach"], "EMBEDDED");
    let body: Value = response.json().await.unwrap();
    assert!(body["_links"].get("scaRedirect").is_none(), "{body}");
    // Once used up, the bank redirects again.
    let response = probe(&sandbox, "dnb").await;
    assert_eq!(response.headers()["aspsp-sca-approach"], "REDIRECT");
    sandbox.stop().await;
}

#[tokio::test]
async fn a_slow_bank_answers_late_but_normally() {
    let sandbox = Sandbox::start().await;
    sandbox.fault("dnb", "slow", 1).await;
    let started = Instant::now();
    let response = probe(&sandbox, "dnb").await;
    assert!(
        started.elapsed() >= config().slow_delay,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.json::<Value>().await.unwrap()["consentId"].is_string());
    sandbox.stop().await;
}

#[tokio::test]
async fn a_timeout_holds_the_request_until_the_sandbox_stops() {
    let sandbox = Sandbox::start().await;
    sandbox.fault("nordea", "timeout", 2).await;
    // A client with a short timeout gives up: nothing came back.
    let error = sandbox
        .post_consent_with_timeout("nordea", Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    // A patient client is still waiting when the sandbox stops (the hold is 60 s) ...
    let waiting = {
        let request = sandbox
            .call(Method::GET, "/nordea/v1/accounts")
            .header("consent-id", "x");
        tokio::spawn(async move { request.send().await })
    };
    eventually(Duration::from_secs(5), || {
        let sandbox = &sandbox;
        async move {
            let requests = sandbox.requests().await;
            (requests.iter().filter(|r| r["bank"] == "nordea").count() == 2).then_some(())
        }
    })
    .await;
    assert!(!waiting.is_finished());
    // ... and stopping releases it, long before the hold is over.
    let stopping = Instant::now();
    sandbox.stop().await;
    assert!(stopping.elapsed() < Duration::from_secs(10));
    let answered = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("released")
        .unwrap();
    if let Ok(response) = answered {
        assert_ne!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn fault_requests_are_checked() {
    let sandbox = Sandbox::start().await;
    for body in [
        json!({"bank": "dnb", "kind": "explode", "count": 1}),
        json!({"bank": "handelsbanken", "kind": "html", "count": 1}),
        json!({"bank": "dnb", "kind": "html", "count": -1}),
        json!({"bank": "dnb", "kind": "html", "count": 100000}),
        json!({"kind": "html"}),
    ] {
        let response = sandbox
            .raw(Method::POST, "/sandbox/faults")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    // No count: one.
    let response = sandbox
        .raw(Method::POST, "/sandbox/faults")
        .json(&json!({"bank": "dnb", "kind": "status503"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        probe(&sandbox, "dnb").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(probe(&sandbox, "dnb").await.status(), StatusCode::CREATED);
    sandbox.stop().await;
}

#[tokio::test]
async fn the_request_log_shows_what_each_bank_was_sent() {
    let sandbox = Sandbox::start().await;
    let id = uuid::Uuid::new_v4().to_string();
    sandbox.fault("dnb", "status500", 1).await;
    for _ in 0..2 {
        // The same logical call, retried with the same X-Request-ID.
        sandbox
            .raw(Method::POST, "/dnb/v1/consents")
            .header("x-request-id", &id)
            .header("psu-ip-address", PSU_IP)
            .header("tpp-redirect-uri", OK_URI)
            .json(&consent_body(&days_ahead(30), 4))
            .send()
            .await
            .unwrap();
    }
    sandbox
        .call(Method::GET, "/sparebank1/v1/accounts?withBalance=true")
        .header("consent-id", "c-1")
        .send()
        .await
        .unwrap();
    // The SCA page and the control API are not Berlin Group requests.
    let created = sandbox.consent("nordea").await;
    let url = sandbox.sca_url(&created).await;
    sandbox.raw(Method::GET, &url).send().await.unwrap();

    let requests = sandbox.requests().await;
    assert_eq!(requests.len(), 5, "{requests:#?}");
    let (first, second) = (&requests[0], &requests[1]);
    for request in [first, second] {
        assert_eq!(request["bank"], "dnb");
        assert_eq!(request["method"], "POST");
        assert_eq!(request["path"], "/dnb/v1/consents");
        assert_eq!(request["headers"]["x-request-id"], id.as_str());
        assert_eq!(request["headers"]["psu-ip-address"], PSU_IP);
        assert_eq!(request["body"], consent_body(&days_ahead(30), 4));
    }
    let read = &requests[2];
    assert_eq!(read["bank"], "sparebank1");
    assert_eq!(read["path"], "/sparebank1/v1/accounts?withBalance=true");
    assert_eq!(read["headers"]["consent-id"], "c-1");
    assert!(read["headers"].get("psu-ip-address").is_none());
    assert_eq!(read["body"], Value::Null);
    assert_eq!(requests[3]["path"], "/nordea/v1/consents");
    assert!(requests[4]["path"]
        .as_str()
        .unwrap()
        .ends_with("/authorisations"));

    let cleared = sandbox
        .raw(Method::DELETE, "/sandbox/requests")
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    assert!(sandbox.requests().await.is_empty());
    sandbox.stop().await;
}
