//! The SCA page, its JSON twin, explicit authorisation, and the test persons' consents.

use super::*;

/// The consent's status, read through its `status` link.
async fn consent_status(sandbox: &Sandbox, created: &Value) -> String {
    sandbox.follow(created, "status").await["consentStatus"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The scaStatus behind a 201's `scaStatus` link.
async fn sca_status(sandbox: &Sandbox, created: &Value) -> String {
    sandbox.follow(created, "scaStatus").await["scaStatus"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn rejecting_rejects_and_goes_to_the_nok_redirect() {
    let sandbox = Sandbox::start().await;
    let created = sandbox.consent("dnb").await;
    assert_eq!(sca_status(&sandbox, &created).await, "received");
    let location = sandbox
        .authorise(&created, "PSU-Successful", "reject")
        .await;
    assert_eq!(location, NOK_URI);
    assert_eq!(consent_status(&sandbox, &created).await, "rejected");
    assert_eq!(sca_status(&sandbox, &created).await, "failed");

    // Without TPP-Nok-Redirect-URI, a rejection goes to TPP-Redirect-URI.
    let response = sandbox
        .call(Method::POST, "/dnb/v1/consents")
        .header("psu-ip-address", PSU_IP)
        .header("tpp-redirect-uri", OK_URI)
        .json(&consent_body(&days_ahead(30), 4))
        .send()
        .await
        .unwrap();
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        sandbox
            .authorise(&created, "PSU-Successful", "reject")
            .await,
        OK_URI
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn returning_without_finishing_changes_nothing() {
    let sandbox = Sandbox::start().await;
    let created = sandbox.consent("dnb").await;
    let url = sandbox.sca_url(&created).await;
    assert_eq!(
        sandbox.submit(&url, "PSU-Successful", "return").await,
        OK_URI
    );
    assert_eq!(consent_status(&sandbox, &created).await, "received");
    assert_eq!(sca_status(&sandbox, &created).await, "received");
    // The PSU can come back and finish.
    assert_eq!(
        sandbox.submit(&url, "PSU-Successful", "approve").await,
        OK_URI
    );
    assert_eq!(consent_status(&sandbox, &created).await, "valid");
    assert_eq!(sca_status(&sandbox, &created).await, "finalised");

    let payment = sandbox.payment("dnb").await;
    let url = sandbox.sca_url(&payment).await;
    assert_eq!(
        sandbox.submit(&url, "PSU-Successful", "return").await,
        OK_URI
    );
    assert_eq!(
        sandbox.follow(&payment, "status").await["transactionStatus"],
        "RCVD"
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn an_authorisation_is_decided_once() {
    let sandbox = Sandbox::start().await;
    let created = sandbox.consent("sparebank1").await;
    let url = sandbox.sca_url(&created).await;
    sandbox.submit(&url, "PSU-Successful", "approve").await;
    let page = sandbox.raw(Method::GET, &url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::CONFLICT);
    for action in ["approve", "reject", "return"] {
        let again = sandbox
            .raw(Method::POST, &url)
            .form(&[("psu", "PSU-Successful"), ("action", action)])
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::CONFLICT, "{action}");
        assert!(again.text().await.unwrap().contains("decided"));
    }
    assert_eq!(consent_status(&sandbox, &created).await, "valid");

    // Unknown, or at another bank: 404.
    let unknown = sandbox
        .raw(Method::GET, &format!("{}/dnb/sca/nothing", sandbox.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let created = sandbox.consent("sparebank1").await;
    let url = sandbox.sca_url(&created).await;
    let elsewhere = url.replace("/sparebank1/", "/dnb/");
    let wrong_bank = sandbox.raw(Method::GET, &elsewhere).send().await.unwrap();
    assert_eq!(wrong_bank.status(), StatusCode::NOT_FOUND);

    // A form without a person cannot approve; an unknown action is refused.
    for form in [
        vec![("action", "approve")],
        vec![("psu", "PSU-Nobody"), ("action", "approve")],
        vec![("psu", "PSU-Successful"), ("action", "maybe")],
        vec![("psu", "PSU-Successful")],
    ] {
        let response = sandbox
            .raw(Method::POST, &url)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{form:?}");
    }
    assert_eq!(consent_status(&sandbox, &created).await, "received");
    sandbox.stop().await;
}

#[tokio::test]
async fn the_json_twin_decides_like_the_form() {
    let sandbox = Sandbox::start().await;
    let created = sandbox.consent("dnb").await;
    let url = sandbox.sca_url(&created).await;
    let authorisation_id = url.rsplit('/').next().unwrap();
    let twin = format!("/sandbox/sca/{authorisation_id}");
    let decide = |body: Value| sandbox.raw(Method::POST, &twin).json(&body).send();
    let returned = decide(json!({"psu": "PSU-Successful", "action": "return"}))
        .await
        .unwrap();
    assert_eq!(returned.status(), StatusCode::OK);
    assert_eq!(
        returned.json::<Value>().await.unwrap(),
        json!({ "location": OK_URI })
    );
    let approved = decide(json!({"psu": "PSU-Successful", "action": "approve"}))
        .await
        .unwrap();
    assert_eq!(
        approved.json::<Value>().await.unwrap(),
        json!({ "location": OK_URI })
    );
    assert_eq!(consent_status(&sandbox, &created).await, "valid");
    let again = decide(json!({"psu": "PSU-Successful", "action": "reject"}))
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(again.json::<Value>().await.unwrap()["error"].is_string());
    let unknown = sandbox
        .raw(Method::POST, "/sandbox/sca/nothing")
        .json(&json!({"psu": "PSU-Successful", "action": "approve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    sandbox.stop().await;
}

#[tokio::test]
async fn nordea_asks_for_an_explicit_authorisation() {
    let sandbox = Sandbox::start().await;
    let created = sandbox.consent("nordea").await;
    let consent_url = created["_links"]["self"]["href"].as_str().unwrap();
    assert!(created["_links"].get("scaRedirect").is_none(), "{created}");
    assert_eq!(
        created["_links"]["startAuthorisation"]["href"],
        format!("{consent_url}/authorisations")
    );
    let start = created["_links"]["startAuthorisation"]["href"]
        .as_str()
        .unwrap();

    // The redirect URI is needed to start it.
    let without = sandbox.call(Method::POST, start).send().await.unwrap();
    assert_eq!(
        error_code(without).await,
        (StatusCode::BAD_REQUEST, "FORMAT_ERROR".into())
    );
    let response = sandbox
        .call(Method::POST, start)
        .header("tpp-redirect-uri", OK_URI)
        .header("tpp-nok-redirect-uri", NOK_URI)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["aspsp-sca-approach"], "REDIRECT");
    let started: Value = response.json().await.unwrap();
    assert_eq!(started["scaStatus"], "received");
    let authorisation_id = started["authorisationId"].as_str().unwrap();
    assert_eq!(
        started["_links"]["scaRedirect"]["href"],
        format!("{}/nordea/sca/{authorisation_id}", sandbox.url)
    );
    assert_eq!(
        started["_links"]["scaStatus"]["href"],
        format!("{consent_url}/authorisations/{authorisation_id}")
    );
    assert_eq!(sca_status(&sandbox, &started).await, "received");
    let list = sandbox.call(Method::GET, start).send().await.unwrap();
    assert_eq!(
        list.json::<Value>().await.unwrap(),
        json!({ "authorisationIds": [authorisation_id] })
    );
    let url = started["_links"]["scaRedirect"]["href"].as_str().unwrap();
    assert_eq!(
        sandbox.submit(url, "PSU-Successful", "approve").await,
        OK_URI
    );
    assert_eq!(sca_status(&sandbox, &started).await, "finalised");
    assert_eq!(consent_status(&sandbox, &created).await, "valid");
    // Once authorised, no further authorisation can start.
    let late = sandbox
        .call(Method::POST, start)
        .header("tpp-redirect-uri", OK_URI)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(late).await,
        (StatusCode::CONFLICT, "STATUS_INVALID".into())
    );

    // Payments too.
    let payment = sandbox.payment("nordea").await;
    assert!(payment["_links"].get("scaRedirect").is_none());
    let start = payment["_links"]["startAuthorisation"]["href"]
        .as_str()
        .unwrap();
    assert_eq!(
        start,
        format!(
            "{}/nordea/v1/payments/sepa-credit-transfers/{}/authorisations",
            sandbox.url,
            payment["paymentId"].as_str().unwrap()
        )
    );
    assert_eq!(
        sandbox
            .authorise(&payment, "PSU-Successful", "approve")
            .await,
        OK_URI
    );
    assert_eq!(
        sandbox.follow(&payment, "status").await["transactionStatus"],
        "ACTC"
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn each_test_persons_consent() {
    let sandbox = Sandbox::start().await;
    // (person, location, consentStatus, scaStatus, account read)
    let cases = [
        (
            "PSU-Successful",
            OK_URI,
            "valid",
            "finalised",
            StatusCode::OK,
            None,
        ),
        (
            "PSU-ScaFailed",
            NOK_URI,
            "rejected",
            "failed",
            StatusCode::UNAUTHORIZED,
            Some("CONSENT_INVALID"),
        ),
        (
            "PSU-Blocked",
            NOK_URI,
            "rejected",
            "failed",
            StatusCode::UNAUTHORIZED,
            Some("CONSENT_INVALID"),
        ),
        (
            "PSU-ConsentExpired",
            OK_URI,
            "expired",
            "finalised",
            StatusCode::UNAUTHORIZED,
            Some("CONSENT_EXPIRED"),
        ),
        (
            "PSU-LimitExceeded",
            OK_URI,
            "valid",
            "finalised",
            StatusCode::OK,
            None,
        ),
        (
            "PSU-CancellationRefused",
            OK_URI,
            "valid",
            "finalised",
            StatusCode::OK,
            None,
        ),
    ];
    for (person, location, status, sca, read, code) in cases {
        let created = sandbox.consent("dnb").await;
        assert_eq!(
            sandbox.authorise(&created, person, "approve").await,
            location,
            "{person}"
        );
        assert_eq!(consent_status(&sandbox, &created).await, status, "{person}");
        assert_eq!(sca_status(&sandbox, &created).await, sca, "{person}");
        let consent = sandbox.follow(&created, "self").await;
        assert_eq!(consent["consentStatus"], status, "{person}");
        let response = sandbox
            .read(
                "/dnb/v1/accounts",
                created["consentId"].as_str().unwrap(),
                true,
            )
            .await;
        match code {
            None => {
                assert_eq!(response.status(), read, "{person}");
                let accounts: Value = response.json().await.unwrap();
                let ibans: Vec<&str> = accounts["accounts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a["iban"].as_str().unwrap())
                    .collect();
                assert_eq!(ibans.len(), 2, "{person}");
                for iban in ibans {
                    assert!(valid_iban(iban), "{iban}");
                    assert!(valid_bban(&iban[4..]), "{iban}");
                    assert!(iban.starts_with("NO") && iban[4..].starts_with("1202"));
                }
            }
            Some(code) => {
                assert_eq!(error_code(response).await, (read, code.into()), "{person}");
            }
        }
        if person == "PSU-ConsentExpired" {
            assert_eq!(
                consent["validUntil"],
                date(today() - time::Duration::days(1))
            );
        }
    }
    // The persons' accounts differ.
    let first = sandbox.consent("dnb").await;
    sandbox
        .authorise(&first, "PSU-LimitExceeded", "approve")
        .await;
    let accounts: Value = sandbox
        .read(
            "/dnb/v1/accounts",
            first["consentId"].as_str().unwrap(),
            true,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(accounts["accounts"][0]["iban"], DNB_SUCCESSFUL[0].2);
    sandbox.stop().await;
}

#[tokio::test]
async fn a_blocked_psu_named_in_psu_id_is_refused_everywhere() {
    let sandbox = Sandbox::start().await;
    for (method, path) in [
        (Method::POST, "/dnb/v1/consents"),
        (Method::GET, "/nordea/v1/accounts"),
        (
            Method::POST,
            "/sparebank1/v1/payments/sepa-credit-transfers",
        ),
    ] {
        let response = sandbox
            .call(method, path)
            .header("psu-id", "PSU-Blocked")
            .header("psu-ip-address", PSU_IP)
            .header("tpp-redirect-uri", OK_URI)
            .json(&consent_body(&days_ahead(30), 4))
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(response).await,
            (StatusCode::FORBIDDEN, "SERVICE_BLOCKED".into()),
            "{path}"
        );
    }
    // Another PSU-ID is accepted and chosen on the SCA page.
    let response = sandbox
        .call(Method::POST, "/dnb/v1/consents")
        .header("psu-id", "PSU-ConsentExpired")
        .header("psu-ip-address", PSU_IP)
        .header("tpp-redirect-uri", OK_URI)
        .json(&consent_body(&days_ahead(30), 4))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let html = sandbox
        .raw(Method::GET, &sandbox.sca_url(&created).await)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<option value=\"PSU-ConsentExpired\" selected>"),
        "{html}"
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn sca_not_finished_in_time_rejects() {
    let sandbox = Sandbox::start_with(SandboxConfig {
        sca_expiry: Duration::from_millis(300),
        ..config()
    })
    .await;
    let consent = sandbox.consent("dnb").await;
    let payment = sandbox.payment("dnb").await;
    let url = sandbox.sca_url(&payment).await;
    let (s, p) = (&sandbox, &payment);
    eventually(Duration::from_secs(5), || async move {
        let status = s.follow(p, "status").await;
        (status["transactionStatus"] == "RJCT").then_some(status)
    })
    .await;
    assert_eq!(consent_status(&sandbox, &consent).await, "rejected");
    assert_eq!(sca_status(&sandbox, &payment).await, "failed");
    let late = sandbox
        .raw(Method::POST, &url)
        .form(&[("psu", "PSU-Successful"), ("action", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), StatusCode::CONFLICT);
    sandbox.stop().await;
}
