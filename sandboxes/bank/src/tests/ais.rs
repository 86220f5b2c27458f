//! Consents, accounts and balances.

use super::*;

#[tokio::test]
async fn consent_approved_on_the_sca_page_opens_accounts_and_balances() {
    let sandbox = Sandbox::start().await;
    let request_id = uuid::Uuid::new_v4().to_string();
    let response = sandbox
        .raw(Method::POST, "/dnb/v1/consents")
        .header("x-request-id", &request_id)
        .header("psu-ip-address", PSU_IP)
        .header("tpp-redirect-uri", OK_URI)
        .header("tpp-nok-redirect-uri", NOK_URI)
        .json(&consent_body(&days_ahead(30), 4))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["x-request-id"], request_id.as_str());
    assert_eq!(response.headers()["aspsp-sca-approach"], "REDIRECT");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["consentStatus"], "received");
    let consent_id = created["consentId"].as_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("{}/dnb/v1/consents/{consent_id}", sandbox.url)
    );
    assert_eq!(created["_links"]["self"]["href"], location.as_str());
    assert_eq!(
        created["_links"]["status"]["href"],
        format!("{location}/status")
    );
    let sca = created["_links"]["scaRedirect"]["href"].as_str().unwrap();
    assert!(
        sca.starts_with(&format!("{}/dnb/sca/", sandbox.url)),
        "{sca}"
    );
    assert!(created["_links"].get("startAuthorisation").is_none());
    assert_eq!(
        sandbox.follow(&created, "status").await["consentStatus"],
        "received"
    );

    // Before SCA: no account reads.
    let before = sandbox.read("/dnb/v1/accounts", &consent_id, true).await;
    assert_eq!(
        error_code(before).await,
        (StatusCode::UNAUTHORIZED, "CONSENT_INVALID".into())
    );

    // The SCA page is a form without script: a person to choose and three buttons.
    let page = sandbox.raw(Method::GET, sca).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("<form method=\"post\""), "{html}");
    assert!(html.contains("<select id=\"psu\" name=\"psu\">"), "{html}");
    for person in [
        "PSU-Successful",
        "PSU-ScaFailed",
        "PSU-Blocked",
        "PSU-ConsentExpired",
        "PSU-LimitExceeded",
        "PSU-CancellationRefused",
    ] {
        assert!(html.contains(&format!("value=\"{person}\"")), "{person}");
    }
    for action in ["approve", "reject", "return"] {
        assert!(
            html.contains(&format!("name=\"action\" value=\"{action}\"")),
            "{action}"
        );
    }
    assert!(!html.contains("<script"));

    assert_eq!(
        sandbox.submit(sca, "PSU-Successful", "approve").await,
        OK_URI
    );
    assert_eq!(
        sandbox.follow(&created, "status").await["consentStatus"],
        "valid"
    );

    let consent = sandbox.follow(&created, "self").await;
    assert_eq!(consent["consentStatus"], "valid");
    assert_eq!(consent["recurringIndicator"], true);
    assert_eq!(consent["validUntil"], days_ahead(30));
    assert_eq!(consent["frequencyPerDay"], 4);
    assert_eq!(consent["lastActionDate"], date(today()));
    let granted = json!([
        {"iban": DNB_SUCCESSFUL[0].2},
        {"iban": DNB_SUCCESSFUL[1].2},
    ]);
    assert_eq!(consent["access"]["accounts"], granted);
    assert_eq!(consent["access"]["balances"], granted);
    assert_eq!(
        consent["_links"]["account"]["href"],
        format!("{}/dnb/v1/accounts", sandbox.url)
    );

    let response = sandbox.read("/dnb/v1/accounts", &consent_id, true).await;
    assert_eq!(response.status(), StatusCode::OK);
    let accounts: Value = response.json().await.unwrap();
    let accounts = accounts["accounts"].as_array().unwrap().clone();
    assert_eq!(accounts.len(), 2);
    for (account, (resource_id, bban, iban, name, balance)) in accounts.iter().zip(DNB_SUCCESSFUL) {
        assert!(valid_bban(account["bban"].as_str().unwrap()));
        assert!(valid_iban(account["iban"].as_str().unwrap()));
        assert_eq!(account["resourceId"], resource_id);
        assert_eq!(account["bban"], bban);
        assert_eq!(account["iban"], iban);
        assert_eq!(account["name"], name);
        assert_eq!(account["currency"], "NOK");
        assert_eq!(account["cashAccountType"], "CACC");
        assert_eq!(account["status"], "enabled");
        assert_eq!(account["bic"], "DNBANOKK");
        assert!(account["product"].as_str().is_some_and(|p| !p.is_empty()));
        let balances_url = format!("{}/dnb/v1/accounts/{resource_id}/balances", sandbox.url);
        assert_eq!(account["_links"]["balances"]["href"], balances_url.as_str());

        let response = sandbox.read(&balances_url, &consent_id, true).await;
        assert_eq!(response.status(), StatusCode::OK);
        let balances: Value = response.json().await.unwrap();
        assert_eq!(balances["account"], json!({ "iban": iban }));
        let list = balances["balances"].as_array().unwrap();
        let types: Vec<&str> = list
            .iter()
            .map(|b| b["balanceType"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["closingBooked", "interimAvailable"]);
        for entry in list {
            assert_eq!(
                entry["balanceAmount"],
                json!({ "currency": "NOK", "amount": balance })
            );
            assert!(entry["referenceDate"].as_str().is_some());
        }
        let details = sandbox
            .read(
                &format!("/dnb/v1/accounts/{resource_id}"),
                &consent_id,
                true,
            )
            .await;
        assert_eq!(details.status(), StatusCode::OK);
        let details: Value = details.json().await.unwrap();
        assert_eq!(details["account"]["iban"], iban);
    }

    // withBalance: the balances come with the list.
    let response = sandbox
        .read("/dnb/v1/accounts?withBalance=true", &consent_id, true)
        .await;
    let with: Value = response.json().await.unwrap();
    assert_eq!(
        with["accounts"][1]["balances"][0]["balanceAmount"]["amount"],
        "250000.00"
    );

    // Another person's account, another bank's, and none at all.
    let other = sandbox
        .read(
            "/dnb/v1/accounts/acc-12021100011/balances",
            &consent_id,
            true,
        )
        .await;
    assert_eq!(
        error_code(other).await,
        (StatusCode::FORBIDDEN, "RESOURCE_UNKNOWN".into())
    );
    let none = sandbox
        .read(
            "/dnb/v1/accounts/acc-00000000000/balances",
            &consent_id,
            true,
        )
        .await;
    assert_eq!(
        error_code(none).await,
        (StatusCode::NOT_FOUND, "RESOURCE_UNKNOWN".into())
    );
    let elsewhere = sandbox.read("/nordea/v1/accounts", &consent_id, true).await;
    assert_eq!(
        error_code(elsewhere).await,
        (StatusCode::FORBIDDEN, "CONSENT_UNKNOWN".into())
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn a_consent_for_named_accounts_covers_only_those() {
    let sandbox = Sandbox::start().await;
    let mut body = consent_body(&days_ahead(10), 4);
    body["access"] = json!({
        "accounts": [{"iban": DNB_SUCCESSFUL[0].2}, {"iban": DNB_SUCCESSFUL[1].2}],
        "balances": [{"iban": DNB_SUCCESSFUL[1].2}],
    });
    let response = sandbox.post_consent("dnb", &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let consent_id = created["consentId"].as_str().unwrap();
    // Before SCA the consent shows the access as asked for.
    assert_eq!(
        sandbox.follow(&created, "self").await["access"],
        body["access"]
    );
    sandbox
        .authorise(&created, "PSU-Successful", "approve")
        .await;
    let consent = sandbox.follow(&created, "self").await;
    assert_eq!(
        consent["access"]["balances"],
        json!([{"iban": DNB_SUCCESSFUL[1].2}])
    );
    let current = format!("/dnb/v1/accounts/{}/balances", DNB_SUCCESSFUL[0].0);
    assert_eq!(
        error_code(sandbox.read(&current, consent_id, true).await).await,
        (StatusCode::UNAUTHORIZED, "CONSENT_INVALID".into())
    );
    let savings = format!("/dnb/v1/accounts/{}/balances", DNB_SUCCESSFUL[1].0);
    assert_eq!(
        sandbox.read(&savings, consent_id, true).await.status(),
        StatusCode::OK
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn validity_is_capped_per_bank_and_a_past_date_refused() {
    let sandbox = Sandbox::start().await;
    for (bank, days) in [("dnb", 180), ("sparebank1", 90), ("nordea", 180)] {
        let response = sandbox
            .post_consent(bank, &consent_body("9999-12-31", 4))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "{bank}");
        let created: Value = response.json().await.unwrap();
        let consent = sandbox.follow(&created, "self").await;
        assert_eq!(consent["validUntil"], days_ahead(days), "{bank}");
        // Shorter than the limit: as asked.
        let response = sandbox
            .post_consent(bank, &consent_body(&days_ahead(60), 4))
            .await;
        let created: Value = response.json().await.unwrap();
        assert_eq!(
            sandbox.follow(&created, "self").await["validUntil"],
            days_ahead(60)
        );
    }
    let response = sandbox
        .post_consent("sparebank1", &consent_body(&days_ahead(-1), 4))
        .await;
    assert_eq!(
        error_code(response).await,
        (StatusCode::BAD_REQUEST, "PERIOD_INVALID".into())
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn consent_requests_are_checked_as_the_spec_says() {
    let sandbox = Sandbox::start().await;
    let good = consent_body(&days_ahead(30), 4);
    let mut missing = good.clone();
    missing
        .as_object_mut()
        .unwrap()
        .remove("combinedServiceIndicator");
    let mut quoted = good.clone();
    quoted["recurringIndicator"] = json!("true");
    let mut zero = good.clone();
    zero["frequencyPerDay"] = json!(0);
    for body in [missing, quoted, zero, json!([]), json!("consent")] {
        let response = sandbox.post_consent("dnb", &body).await;
        assert_eq!(
            error_code(response).await,
            (StatusCode::BAD_REQUEST, "FORMAT_ERROR".into()),
            "{body}"
        );
    }
    let not_json = sandbox
        .call(Method::POST, "/dnb/v1/consents")
        .header("psu-ip-address", PSU_IP)
        .header("tpp-redirect-uri", OK_URI)
        .header("content-type", "application/json")
        .body("{\"access\":")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(not_json).await,
        (StatusCode::BAD_REQUEST, "FORMAT_ERROR".into())
    );
    let form = sandbox
        .call(Method::POST, "/dnb/v1/consents")
        .header("psu-ip-address", PSU_IP)
        .header("tpp-redirect-uri", OK_URI)
        .form(&[("access", "all")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Required headers.
    for (without, code) in [
        ("psu-ip-address", "FORMAT_ERROR"),
        ("tpp-redirect-uri", "FORMAT_ERROR"),
    ] {
        let mut request = sandbox.call(Method::POST, "/dnb/v1/consents");
        for (name, value) in [("psu-ip-address", PSU_IP), ("tpp-redirect-uri", OK_URI)] {
            if name != without {
                request = request.header(name, value);
            }
        }
        let response = request.json(&good).send().await.unwrap();
        assert_eq!(
            error_code(response).await,
            (StatusCode::BAD_REQUEST, code.into()),
            "without {without}"
        );
    }
    let bad_ip = sandbox
        .call(Method::POST, "/dnb/v1/consents")
        .header("psu-ip-address", "the PSU's laptop")
        .header("tpp-redirect-uri", OK_URI)
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_ip.status(), StatusCode::BAD_REQUEST);
    sandbox.stop().await;
}

#[tokio::test]
async fn every_answer_needs_and_echoes_x_request_id() {
    let sandbox = Sandbox::start().await;
    let without = sandbox
        .raw(Method::POST, "/dnb/v1/consents")
        .header("psu-ip-address", PSU_IP)
        .header("tpp-redirect-uri", OK_URI)
        .json(&consent_body(&days_ahead(30), 4))
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), StatusCode::BAD_REQUEST);
    // The answer still carries one (the spec requires it), a UUID of its own.
    let echoed = without.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&echoed).is_ok());
    assert_eq!(
        error_code(without).await,
        (StatusCode::BAD_REQUEST, "FORMAT_ERROR".into())
    );
    let not_uuid = sandbox
        .raw(Method::GET, "/dnb/v1/accounts")
        .header("x-request-id", "42")
        .header("consent-id", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(not_uuid.status(), StatusCode::BAD_REQUEST);
    assert_ne!(not_uuid.headers()["x-request-id"], "42");

    let id = uuid::Uuid::new_v4().to_string();
    for path in [
        "/dnb/v1/consents/unknown",
        "/dnb/v1/nothing-here",
        "/nobank/v1/consents",
    ] {
        let response = sandbox
            .raw(Method::GET, path)
            .header("x-request-id", &id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], id.as_str(), "{path}");
        assert_eq!(
            error_code(response).await,
            (StatusCode::NOT_FOUND, "RESOURCE_UNKNOWN".into()),
            "{path}"
        );
    }
    let wrong_method = sandbox
        .raw(Method::PUT, "/dnb/v1/consents")
        .header("x-request-id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.headers()["x-request-id"], id.as_str());
    assert_eq!(wrong_method.headers()["allow"], "POST");
    assert_eq!(
        error_code(wrong_method).await,
        (StatusCode::METHOD_NOT_ALLOWED, "SERVICE_INVALID".into())
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn account_reads_need_a_known_consent_id() {
    let sandbox = Sandbox::start().await;
    let without = sandbox
        .call(Method::GET, "/dnb/v1/accounts")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(without).await,
        (StatusCode::BAD_REQUEST, "FORMAT_ERROR".into())
    );
    let unknown = sandbox
        .read("/dnb/v1/accounts", "no-such-consent", true)
        .await;
    assert_eq!(
        error_code(unknown).await,
        (StatusCode::FORBIDDEN, "CONSENT_UNKNOWN".into())
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn deleting_a_consent_terminates_it() {
    let sandbox = Sandbox::start().await;
    let created = sandbox.consent("dnb").await;
    sandbox
        .authorise(&created, "PSU-Successful", "approve")
        .await;
    let consent_id = created["consentId"].as_str().unwrap();
    let self_url = created["_links"]["self"]["href"].as_str().unwrap();
    let deleted = sandbox.call(Method::DELETE, self_url).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(deleted.headers().contains_key("x-request-id"));
    assert_eq!(
        sandbox.follow(&created, "status").await["consentStatus"],
        "terminatedByTpp"
    );
    assert_eq!(
        error_code(sandbox.read("/dnb/v1/accounts", consent_id, true).await).await,
        (StatusCode::UNAUTHORIZED, "CONSENT_INVALID".into())
    );
    let unknown = sandbox
        .call(Method::DELETE, "/dnb/v1/consents/no-such-consent")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(unknown).await,
        (StatusCode::NOT_FOUND, "RESOURCE_UNKNOWN".into())
    );
    // A consent belongs to its bank.
    let elsewhere = sandbox
        .call(
            Method::GET,
            &format!("/sparebank1/v1/consents/{consent_id}/status"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    sandbox.stop().await;
}

#[tokio::test]
async fn background_reads_count_against_frequency_per_day() {
    let sandbox = Sandbox::start().await;
    let response = sandbox
        .post_consent("dnb", &consent_body(&days_ahead(30), 2))
        .await;
    let created: Value = response.json().await.unwrap();
    sandbox
        .authorise(&created, "PSU-Successful", "approve")
        .await;
    let consent_id = created["consentId"].as_str().unwrap();
    let balances = format!("/dnb/v1/accounts/{}/balances", DNB_SUCCESSFUL[0].0);
    // Reads with the PSU present do not count.
    for _ in 0..5 {
        assert_eq!(
            sandbox.read(&balances, consent_id, true).await.status(),
            StatusCode::OK
        );
    }
    // Two background reads a day, whichever endpoint.
    assert_eq!(
        sandbox
            .read("/dnb/v1/accounts", consent_id, false)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        sandbox.read(&balances, consent_id, false).await.status(),
        StatusCode::OK
    );
    let third = sandbox.read(&balances, consent_id, false).await;
    assert_eq!(
        error_code(third).await,
        (StatusCode::TOO_MANY_REQUESTS, "ACCESS_EXCEEDED".into())
    );
    // The PSU can still read.
    assert_eq!(
        sandbox.read(&balances, consent_id, true).await.status(),
        StatusCode::OK
    );
    sandbox.stop().await;
}
