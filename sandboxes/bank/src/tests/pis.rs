//! Payments: products, checks, status progression, the test persons, cancellation.

use super::*;

async fn status(sandbox: &Sandbox, created: &Value) -> Value {
    sandbox.follow(created, "status").await
}

fn cross_border_body(currency: &str, amount: &str) -> Value {
    json!({
        "debtorAccount": { "iban": "NO9812021000017" },
        "instructedAmount": { "currency": currency, "amount": amount },
        "creditorAccount": { "iban": "GB29NWBK60161331926819" },
        "creditorAgent": "NWBKGB2L",
        "creditorName": "Jane Doe",
        "creditorAddress": { "streetName": "High Street", "buildingNumber": "1",
                             "townName": "London", "postCode": "E1 6AN", "country": "GB" },
        "chargeBearer": "SHAR",
        "remittanceInformationUnstructured": "Family support"
    })
}

fn domestic_body() -> Value {
    json!({
        "debtorAccount": { "bban": "12021000017" },
        "instructedAmount": { "currency": "NOK", "amount": "249.90" },
        "creditorAccount": { "bban": "86011117947" },
        "creditorName": "Kaffebaren AS",
        "remittanceInformationUnstructured": "QR 4711"
    })
}

#[tokio::test]
async fn a_payment_moves_from_rcvd_through_actc_and_acsp_to_acsc() {
    let sandbox = Sandbox::start().await;
    let request_id = uuid::Uuid::new_v4().to_string();
    let response = sandbox
        .raw(Method::POST, "/dnb/v1/payments/sepa-credit-transfers")
        .header("x-request-id", &request_id)
        .header("psu-ip-address", PSU_IP)
        .header("tpp-redirect-uri", OK_URI)
        .json(&sepa_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["x-request-id"], request_id.as_str());
    assert_eq!(response.headers()["aspsp-sca-approach"], "REDIRECT");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let payment_id = created["paymentId"].as_str().unwrap();
    assert_eq!(created["transactionStatus"], "RCVD");
    assert_eq!(
        location,
        format!(
            "{}/dnb/v1/payments/sepa-credit-transfers/{payment_id}",
            sandbox.url
        )
    );
    assert_eq!(created["_links"]["self"]["href"], location.as_str());
    assert_eq!(
        created["_links"]["status"]["href"],
        format!("{location}/status")
    );
    assert!(created.get("transactionFees").is_none());

    // The payment as initiated, with its status.
    let mut shown = sepa_body();
    shown["transactionStatus"] = json!("RCVD");
    assert_eq!(sandbox.follow(&created, "self").await, shown);
    assert_eq!(
        status(&sandbox, &created).await,
        json!({"transactionStatus": "RCVD"})
    );

    let step = config().status_step;
    let url = sandbox.sca_url(&created).await;
    let approved_at = Instant::now();
    assert_eq!(
        sandbox.submit(&url, "PSU-Successful", "approve").await,
        OK_URI
    );
    // Polled until settled, noting each status as it first shows.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen: Vec<String> = vec![];
    let mut acsp_at = None;
    loop {
        let now = status(&sandbox, &created).await;
        let code = now["transactionStatus"].as_str().unwrap().to_owned();
        assert!(now.get("psuMessage").is_none(), "{now}");
        if seen.last() != Some(&code) {
            if code == "ACSP" {
                acsp_at = Some(Instant::now());
            }
            seen.push(code.clone());
        }
        if code == "ACSC" {
            break;
        }
        assert!(Instant::now() < deadline, "{seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, ["ACTC", "ACSP", "ACSC"]);
    assert!(acsp_at.unwrap() - approved_at >= step);
    let mut shown = sepa_body();
    shown["transactionStatus"] = json!("ACSC");
    assert_eq!(sandbox.follow(&created, "self").await, shown);
    sandbox.stop().await;
}

/// Polls a payment's status until it is `code`; its body.
async fn until_status(sandbox: &Sandbox, created: &Value, code: &str) -> Value {
    eventually(Duration::from_secs(10), || async move {
        let now = status(sandbox, created).await;
        (now["transactionStatus"] == code).then_some(now)
    })
    .await
}

#[tokio::test]
async fn each_product_as_each_bank_offers_it() {
    let sandbox = Sandbox::start().await;
    let mut instant = sepa_body();
    instant["instructedAmount"]["amount"] = json!("10");
    for (bank, product, body) in [
        ("dnb", "instant-sepa-credit-transfers", instant.clone()),
        ("nordea", "instant-sepa-credit-transfers", instant.clone()),
        ("sparebank1", "sepa-credit-transfers", sepa_body()),
        (
            "sparebank1",
            "norwegian-domestic-credit-transfers",
            domestic_body(),
        ),
        (
            "dnb",
            "norwegian-domestic-credit-transfers",
            domestic_body(),
        ),
    ] {
        let response = sandbox.post_payment(bank, product, &body, None).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{bank} {product}");
        let created: Value = response.json().await.unwrap();
        assert_eq!(created["transactionStatus"], "RCVD");
        let mut shown = body.clone();
        shown["transactionStatus"] = json!("RCVD");
        assert_eq!(
            sandbox.follow(&created, "self").await,
            shown,
            "{bank} {product}"
        );
    }
    // SpareBank 1 offers no instant SEPA.
    let response = sandbox
        .post_payment(
            "sparebank1",
            "instant-sepa-credit-transfers",
            &instant,
            None,
        )
        .await;
    assert_eq!(
        error_code(response).await,
        (StatusCode::NOT_FOUND, "PRODUCT_UNKNOWN".into())
    );
    for product in [
        "target-2-payments",
        "pain.001-sepa-credit-transfers",
        "gold-bars",
    ] {
        let response = sandbox
            .post_payment("dnb", product, &sepa_body(), None)
            .await;
        assert_eq!(
            error_code(response).await,
            (StatusCode::NOT_FOUND, "PRODUCT_UNKNOWN".into()),
            "{product}"
        );
    }
    for service in ["bulk-payments", "periodic-payments"] {
        let response = sandbox
            .call(
                Method::POST,
                &format!("/dnb/v1/{service}/sepa-credit-transfers"),
            )
            .header("psu-ip-address", PSU_IP)
            .header("tpp-redirect-uri", OK_URI)
            .json(&sepa_body())
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(response).await,
            (StatusCode::BAD_REQUEST, "SERVICE_INVALID".into()),
            "{service}"
        );
    }
    sandbox.stop().await;
}

#[tokio::test]
async fn cross_border_payments_need_bic_and_address_and_carry_fees() {
    let sandbox = Sandbox::start().await;
    let response = sandbox
        .post_payment(
            "dnb",
            "cross-border-credit-transfers",
            &cross_border_body("NOK", "1000.00"),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    // The contract's fees: NOK 25.00 flat, 0.5 % of the amount, total = amount + fees.
    assert_eq!(
        created["transactionFees"],
        json!({"currency": "NOK", "amount": "25.00"})
    );
    assert_eq!(
        created["currencyConversionFee"],
        json!({"currency": "NOK", "amount": "5.00"})
    );
    assert_eq!(
        created["estimatedTotalAmount"],
        json!({"currency": "NOK", "amount": "1030.00"})
    );
    let mut shown = cross_border_body("NOK", "1000.00");
    shown["transactionStatus"] = json!("RCVD");
    assert_eq!(sandbox.follow(&created, "self").await, shown);

    // Another currency is converted to NOK at the sandbox's rate first (USD: 10.60):
    // 250.00 × 10.60 = 2650.00; 0.5 % = 13.25; 2650.00 + 25.00 + 13.25 = 2688.25.
    let response = sandbox
        .post_payment(
            "nordea",
            "cross-border-credit-transfers",
            &cross_border_body("USD", "250.00"),
            None,
        )
        .await;
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["currencyConversionFee"]["amount"], "13.25");
    assert_eq!(created["estimatedTotalAmount"]["amount"], "2688.25");

    for field in ["creditorAgent", "creditorAddress"] {
        let mut body = cross_border_body("NOK", "1000.00");
        body.as_object_mut().unwrap().remove(field);
        let response = sandbox
            .post_payment("dnb", "cross-border-credit-transfers", &body, None)
            .await;
        assert_eq!(
            error_code(response).await,
            (StatusCode::BAD_REQUEST, "FORMAT_ERROR".into()),
            "without {field}"
        );
    }
    let mut no_country = cross_border_body("NOK", "1000.00");
    no_country["creditorAddress"]
        .as_object_mut()
        .unwrap()
        .remove("country");
    let response = sandbox
        .post_payment("dnb", "cross-border-credit-transfers", &no_country, None)
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    sandbox.stop().await;
}

#[tokio::test]
async fn payment_requests_are_checked_as_the_spec_says() {
    let sandbox = Sandbox::start().await;
    let mut bad = vec![];
    for field in [
        "debtorAccount",
        "instructedAmount",
        "creditorAccount",
        "creditorName",
    ] {
        let mut body = sepa_body();
        body.as_object_mut().unwrap().remove(field);
        bad.push(("sepa-credit-transfers", body));
    }
    for (field, value) in [
        (
            "instructedAmount",
            json!({"currency": "EUR", "amount": "123,50"}),
        ),
        (
            "instructedAmount",
            json!({"currency": "EUR", "amount": 123.5}),
        ),
        (
            "instructedAmount",
            json!({"currency": "EUR", "amount": "12.345"}),
        ),
        (
            "instructedAmount",
            json!({"currency": "NOK", "amount": "100.00"}),
        ),
        ("creditorAccount", json!({"iban": "DE02100100109307118604"})),
        ("debtorAccount", json!({"iban": "DE02100100109307118603"})),
        ("creditorName", json!("")),
    ] {
        let mut body = sepa_body();
        body[field] = value;
        bad.push(("sepa-credit-transfers", body));
    }
    let mut wrong_account = domestic_body();
    wrong_account["creditorAccount"] = json!({"bban": "86011117940"});
    bad.push(("norwegian-domestic-credit-transfers", wrong_account));
    let mut by_iban = domestic_body();
    by_iban["creditorAccount"] = json!({"iban": "NO9386011117947"});
    bad.push(("norwegian-domestic-credit-transfers", by_iban));
    let mut euros = domestic_body();
    euros["instructedAmount"]["currency"] = json!("EUR");
    bad.push(("norwegian-domestic-credit-transfers", euros));
    for (product, body) in bad {
        let response = sandbox.post_payment("dnb", product, &body, None).await;
        assert_eq!(
            error_code(response).await,
            (StatusCode::BAD_REQUEST, "FORMAT_ERROR".into()),
            "{product} {body}"
        );
    }
    let without_ip = sandbox
        .call(Method::POST, "/dnb/v1/payments/sepa-credit-transfers")
        .header("tpp-redirect-uri", OK_URI)
        .json(&sepa_body())
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(without_ip).await,
        (StatusCode::BAD_REQUEST, "FORMAT_ERROR".into())
    );
    let without_request_id = sandbox
        .raw(Method::POST, "/dnb/v1/payments/sepa-credit-transfers")
        .header("psu-ip-address", PSU_IP)
        .header("tpp-redirect-uri", OK_URI)
        .json(&sepa_body())
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(without_request_id).await,
        (StatusCode::BAD_REQUEST, "FORMAT_ERROR".into())
    );
    let bad_notification = sandbox
        .post_payment(
            "dnb",
            "sepa-credit-transfers",
            &sepa_body(),
            Some("not a uri"),
        )
        .await;
    assert_eq!(bad_notification.status(), StatusCode::BAD_REQUEST);
    let unknown = sandbox
        .call(
            Method::GET,
            "/dnb/v1/payments/sepa-credit-transfers/no-such-payment/status",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(unknown).await,
        (StatusCode::NOT_FOUND, "RESOURCE_UNKNOWN".into())
    );
    // A payment is found under its own bank and product only.
    let created = sandbox.payment("dnb").await;
    let id = created["paymentId"].as_str().unwrap();
    for path in [
        format!("/dnb/v1/payments/instant-sepa-credit-transfers/{id}"),
        format!("/nordea/v1/payments/sepa-credit-transfers/{id}"),
    ] {
        let response = sandbox.call(Method::GET, &path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    sandbox.stop().await;
}

#[tokio::test]
async fn each_test_persons_payment() {
    let sandbox = Sandbox::start_with(SandboxConfig {
        // Long enough that an approved payment is still ACTC when it is read.
        status_step: Duration::from_secs(60),
        ..config()
    })
    .await;
    for (person, location, code, message) in [
        ("PSU-ScaFailed", NOK_URI, "RJCT", Some("authentication")),
        ("PSU-Blocked", NOK_URI, "RJCT", Some("blocked")),
        ("PSU-ConsentExpired", OK_URI, "ACTC", None),
        ("PSU-CancellationRefused", OK_URI, "ACTC", None),
    ] {
        let created = sandbox.payment("dnb").await;
        assert_eq!(
            sandbox.authorise(&created, person, "approve").await,
            location,
            "{person}"
        );
        let now = status(&sandbox, &created).await;
        assert_eq!(now["transactionStatus"], code, "{person}");
        match message {
            Some(word) => assert!(
                now["psuMessage"].as_str().unwrap().contains(word),
                "{person}: {now}"
            ),
            None => assert!(now.get("psuMessage").is_none(), "{person}"),
        }
    }
    let rejected = sandbox.payment("dnb").await;
    assert_eq!(
        sandbox
            .authorise(&rejected, "PSU-Successful", "reject")
            .await,
        NOK_URI
    );
    assert_eq!(
        status(&sandbox, &rejected).await["transactionStatus"],
        "RJCT"
    );
    assert_eq!(
        sandbox.follow(&rejected, "scaStatus").await["scaStatus"],
        "failed"
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn the_bank_rejects_a_payment_over_the_limit_after_accepting_it() {
    let sandbox = Sandbox::start().await;
    let created = sandbox.payment("sparebank1").await;
    sandbox
        .authorise(&created, "PSU-LimitExceeded", "approve")
        .await;
    assert_eq!(
        status(&sandbox, &created).await["transactionStatus"],
        "ACTC"
    );
    let rejected = until_status(&sandbox, &created, "RJCT").await;
    assert!(
        rejected["psuMessage"].as_str().unwrap().contains("limit"),
        "{rejected}"
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn cancelling_depends_on_the_status() {
    let sandbox = Sandbox::start_with(SandboxConfig {
        // Long enough that an approved payment is still ACTC when it is cancelled.
        status_step: Duration::from_secs(60),
        ..config()
    })
    .await;
    // Before SCA: cancelled at once.
    let created = sandbox.payment("dnb").await;
    let url = created["_links"]["self"]["href"].as_str().unwrap();
    let response = sandbox.call(Method::DELETE, url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(
        status(&sandbox, &created).await["transactionStatus"],
        "CANC"
    );
    let sca = sandbox.sca_url(&created).await;
    let late = sandbox
        .raw(Method::POST, &sca)
        .form(&[("psu", "PSU-Successful"), ("action", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), StatusCode::CONFLICT);
    // Final: nothing to cancel.
    let again = sandbox.call(Method::DELETE, url).send().await.unwrap();
    assert_eq!(
        error_code(again).await,
        (StatusCode::CONFLICT, "STATUS_INVALID".into())
    );

    // After SCA: a cancellation authorisation is needed.
    let created = sandbox.payment("nordea").await;
    sandbox
        .authorise(&created, "PSU-Successful", "approve")
        .await;
    let url = created["_links"]["self"]["href"].as_str().unwrap();
    let response = sandbox.call(Method::DELETE, url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["transactionStatus"], "ACTC");
    assert_eq!(
        body["_links"]["startAuthorisation"]["href"],
        format!("{url}/cancellation-authorisations")
    );
    assert_eq!(
        status(&sandbox, &created).await["transactionStatus"],
        "ACTC"
    );

    // PSU-CancellationRefused: refused.
    let created = sandbox.payment("dnb").await;
    sandbox
        .authorise(&created, "PSU-CancellationRefused", "approve")
        .await;
    let url = created["_links"]["self"]["href"].as_str().unwrap();
    let response = sandbox.call(Method::DELETE, url).send().await.unwrap();
    assert_eq!(
        error_code(response).await,
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "CANCELLATION_INVALID".into()
        )
    );
    assert_eq!(
        status(&sandbox, &created).await["transactionStatus"],
        "ACTC"
    );
    sandbox.stop().await;
}
