//! api-rates through its router, over a fresh PostgreSQL database and moto.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use axum::http::{Method, StatusCode};
use drop_testkit::{TestApp, TestRequest, TestResponse};
use serde_json::{json, Value};

async fn call(app: &TestApp, req: TestRequest) -> TestResponse {
    app.call(api_rates::app, req).await
}

fn quote(body: Value) -> TestRequest {
    TestRequest::post_json("/v1/quotes", body)
}

#[tokio::test]
async fn exchange_rates_list_every_payout_currency_with_the_markup_disclosed() {
    let app = TestApp::new().await;
    let res = call(&app, TestRequest::get("/v1/exchange-rates")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.header("x-request-id").is_some());
    let body = res.json();
    assert_eq!(body["base"], "NOK");
    let rates = body["rates"].as_array().unwrap();
    for currency in drop_shared::domain::corridor::payout_currencies() {
        assert!(
            rates.iter().any(|r| r["currency"] == currency.code()),
            "{currency}"
        );
    }
    let eur = rates.iter().find(|r| r["currency"] == "EUR").unwrap();
    assert_eq!(eur["reference_rate"], "0.085");
    assert_eq!(eur["customer_rate"], "0.08415");
    assert_eq!(eur["markup_percent"], "1.00");
}

#[tokio::test]
async fn exchange_rates_filter_by_currency_and_refuse_an_unknown_one() {
    let app = TestApp::new().await;
    let res = call(&app, TestRequest::get("/v1/exchange-rates?currency=PKR")).await;
    let rates = res.json()["rates"].as_array().unwrap().clone();
    assert_eq!(rates.len(), 1);
    assert_eq!(rates[0]["currency"], "PKR");
    let res = call(&app, TestRequest::get("/v1/exchange-rates?currency=XBT")).await;
    res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "unsupported_currency");
}

#[tokio::test]
async fn corridors_name_rail_currency_and_limits_but_not_the_aml_risk() {
    let app = TestApp::new().await;
    let body = call(&app, TestRequest::get("/v1/corridors")).await.json();
    let corridors = body["corridors"].as_array().unwrap();
    assert!(corridors.len() >= 30);
    let find = |c: &str| {
        corridors
            .iter()
            .find(|x| x["country"] == c)
            .unwrap()
            .clone()
    };
    assert_eq!(find("HR")["rail"], "SEPA");
    assert_eq!(find("RS")["rail"], "SWIFT");
    assert_eq!(find("PK")["currency"], "PKR");
    assert_eq!(
        find("PL")["min_send"],
        json!({"amount": "100.00", "currency": "NOK"})
    );
    assert_eq!(
        find("PL")["max_send"],
        json!({"amount": "50000.00", "currency": "NOK"})
    );
    assert!(corridors.iter().all(|c| c.get("aml_risk").is_none()));
}

#[tokio::test]
async fn a_quote_discloses_every_figure_and_is_stored_as_given() {
    let app = TestApp::new().await;
    let res = call(
        &app,
        quote(json!({"destination_country": "HR", "send_amount": "1000"})),
    )
    .await;
    assert_eq!(
        res.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&res.body)
    );
    let q = res.json();
    assert_eq!(q["send"], json!({"amount": "1000.00", "currency": "NOK"}));
    assert_eq!(q["fee"], json!({"amount": "5.00", "currency": "NOK"}));
    assert_eq!(
        q["total_charged"],
        json!({"amount": "1005.00", "currency": "NOK"})
    );
    assert_eq!(q["reference_rate"], "0.085");
    assert_eq!(q["customer_rate"], "0.08415");
    assert_eq!(q["markup_percent"], "1.00");
    assert_eq!(q["receive"], json!({"amount": "84.15", "currency": "EUR"}));
    assert_eq!(q["rail"], "SEPA");

    let created = time::OffsetDateTime::parse(
        q["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let expires = time::OffsetDateTime::parse(
        q["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(expires - created, time::Duration::minutes(10));

    let id: uuid::Uuid = q["id"].as_str().unwrap().parse().unwrap();
    let row = app
        .db
        .query_one(
            "SELECT send_amount::text, fee::text, total_charged::text, receive_amount::text, receive_currency::text,
                    destination_country::text, customer_rate::text, expires_at - created_at = interval '10 minutes'
             FROM quotes WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let text = |i: usize| {
        row.get::<_, String>(i)
            .parse::<rust_decimal::Decimal>()
            .unwrap()
            .normalize()
            .to_string()
    };
    assert_eq!(text(0), "1000");
    assert_eq!(text(1), "5");
    assert_eq!(text(2), "1005");
    assert_eq!(text(3), "84.15");
    assert_eq!(row.get::<_, String>(4), "EUR");
    assert_eq!(row.get::<_, String>(5), "HR");
    assert_eq!(text(6), "0.08415");
    assert!(row.get::<_, bool>(7));
}

#[tokio::test]
async fn bad_quote_requests_get_a_stable_code_and_store_nothing() {
    let app = TestApp::new().await;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let cases: Vec<(&str, TestRequest, StatusCode, &str)> = vec![
        (
            "malformed JSON",
            TestRequest::new(Method::POST, "/v1/quotes")
                .header("content-type", "application/json")
                .body(r#"{"destination_country":"#),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "empty body",
            TestRequest::new(Method::POST, "/v1/quotes").header("content-type", "application/json"),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "text/plain",
            TestRequest::new(Method::POST, "/v1/quotes")
                .header("content-type", "text/plain")
                .body(r#"{"destination_country":"PL","send_amount":"500"}"#),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "no content type",
            TestRequest::new(Method::POST, "/v1/quotes")
                .body(r#"{"destination_country":"PL","send_amount":"500"}"#),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "a JSON array",
            quote(json!([1, 2])),
            unprocessable,
            "validation_failed",
        ),
        (
            "missing amount",
            quote(json!({"destination_country": "PL"})),
            unprocessable,
            "validation_failed",
        ),
        (
            "unknown field",
            quote(json!({"destination_country": "PL", "send_amount": "500", "fee": "0"})),
            unprocessable,
            "validation_failed",
        ),
        (
            "not a country",
            quote(json!({"destination_country": "XX", "send_amount": "500"})),
            unprocessable,
            "validation_failed",
        ),
        (
            "lower-case country",
            quote(json!({"destination_country": "pl", "send_amount": "500"})),
            unprocessable,
            "validation_failed",
        ),
        (
            "no corridor",
            quote(json!({"destination_country": "KP", "send_amount": "500"})),
            unprocessable,
            "unknown_corridor",
        ),
        (
            "Norway itself",
            quote(json!({"destination_country": "NO", "send_amount": "500"})),
            unprocessable,
            "unknown_corridor",
        ),
        (
            "below 100 NOK",
            quote(json!({"destination_country": "PL", "send_amount": "99.99"})),
            unprocessable,
            "amount_out_of_range",
        ),
        (
            "above 50 000 NOK",
            quote(json!({"destination_country": "PL", "send_amount": "50000.01"})),
            unprocessable,
            "amount_out_of_range",
        ),
        (
            "absurdly large",
            quote(json!({"destination_country": "PL", "send_amount": "9".repeat(100)})),
            unprocessable,
            "amount_out_of_range",
        ),
        (
            "negative",
            quote(json!({"destination_country": "PL", "send_amount": "-500"})),
            unprocessable,
            "invalid_amount",
        ),
        (
            "zero",
            quote(json!({"destination_country": "PL", "send_amount": "0"})),
            unprocessable,
            "amount_out_of_range",
        ),
        (
            "three decimals",
            quote(json!({"destination_country": "PL", "send_amount": "500.001"})),
            unprocessable,
            "invalid_amount",
        ),
        (
            "exponent string",
            quote(json!({"destination_country": "PL", "send_amount": "1e3"})),
            unprocessable,
            "invalid_amount",
        ),
        (
            "a JSON number",
            quote(json!({"destination_country": "PL", "send_amount": 500})),
            unprocessable,
            "invalid_amount",
        ),
        (
            "a float in exponent form",
            TestRequest::new(Method::POST, "/v1/quotes")
                .header("content-type", "application/json")
                .body(r#"{"destination_country":"PL","send_amount":1.5e3}"#),
            unprocessable,
            "invalid_amount",
        ),
        (
            "null amount",
            quote(json!({"destination_country": "PL", "send_amount": null})),
            unprocessable,
            "invalid_amount",
        ),
        (
            "EUR as send currency",
            quote(
                json!({"destination_country": "PL", "send_amount": "500", "send_currency": "EUR"}),
            ),
            unprocessable,
            "unsupported_currency",
        ),
        (
            "unknown send currency",
            quote(
                json!({"destination_country": "PL", "send_amount": "500", "send_currency": "XYZ"}),
            ),
            unprocessable,
            "unsupported_currency",
        ),
        (
            "1 MB body",
            TestRequest::new(Method::POST, "/v1/quotes")
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"destination_country":"PL","send_amount":"500","x":"{}"}}"#,
                    "a".repeat(1 << 20)
                )),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (name, req, status, code) in cases {
        let res = call(&app, req).await;
        let body = String::from_utf8_lossy(&res.body).to_string();
        assert_eq!(
            (res.status, res.json()["error"].as_str().map(str::to_owned)),
            (status, Some(code.to_owned())),
            "{name}: {body}"
        );
        res.assert_error(status, code);
        assert!(
            !body.contains("at line"),
            "{name} leaks parser internals: {body}"
        );
    }
    assert_eq!(app.count("quotes").await, 0);
}

#[tokio::test]
async fn an_invalid_field_is_named_in_the_details() {
    let app = TestApp::new().await;
    let res = call(
        &app,
        quote(json!({"destination_country": "XX", "send_amount": "500"})),
    )
    .await;
    let body = res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["details"][0]["field"], "destination_country");
    let res = call(
        &app,
        quote(json!({"destination_country": 7, "send_amount": "500"})),
    )
    .await;
    let body = res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["details"][0]["field"], "destination_country");
}

#[tokio::test]
async fn a_corridor_without_a_current_rate_is_unavailable_not_mispriced() {
    let app = TestApp::new().await;
    app.db
        .execute(
            "DELETE FROM exchange_rates WHERE quote_currency = 'PLN'",
            &[],
        )
        .await
        .unwrap();
    let res = call(
        &app,
        quote(json!({"destination_country": "PL", "send_amount": "500"})),
    )
    .await;
    res.assert_error(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    assert!(res.header("retry-after").is_some());
    assert_eq!(app.count("quotes").await, 0);
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_envelope_without_internals() {
    let app = TestApp::with_env(&[(
        "DATABASE_URL",
        "postgres://postgres@127.0.0.1:1/none?connect_timeout=1",
    )])
    .await;
    let res = call(&app, TestRequest::get("/v1/exchange-rates")).await;
    let body = res.assert_error(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");
}

#[tokio::test]
async fn unknown_paths_and_methods_get_the_envelope() {
    let app = TestApp::new().await;
    call(&app, TestRequest::get("/v1/nothing"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    call(&app, TestRequest::new(Method::DELETE, "/v1/quotes"))
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    call(&app, TestRequest::get("/v1/corridors/"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_request_id_is_echoed_when_sane_and_replaced_when_not() {
    let app = TestApp::new().await;
    let res = call(
        &app,
        TestRequest::get("/v1/corridors").header("x-request-id", "abc-123"),
    )
    .await;
    assert_eq!(res.header("x-request-id"), Some("abc-123"));
    let hostile = "x".repeat(300);
    let res = call(
        &app,
        TestRequest::get("/v1/corridors").header("x-request-id", &hostile),
    )
    .await;
    let id = res.header("x-request-id").unwrap();
    assert_ne!(id, hostile);
    assert!(
        id.starts_with("test-"),
        "falls back to API Gateway's request id: {id}"
    );
}

#[tokio::test]
async fn the_121st_public_read_in_a_minute_from_one_ip_is_refused_with_retry_after() {
    let app = TestApp::new().await;
    // Start early in a fixed 60 s window so the 121 requests fall inside one window.
    let into_window = time::OffsetDateTime::now_utc()
        .unix_timestamp()
        .rem_euclid(60);
    if into_window > 40 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - into_window) as u64)).await;
    }
    let ip = "192.0.2.44";
    for i in 0..120 {
        let res = call(&app, TestRequest::get("/v1/corridors").from_ip(ip)).await;
        assert_eq!(res.status, StatusCode::OK, "request {i}");
    }
    let res = call(&app, TestRequest::get("/v1/exchange-rates").from_ip(ip)).await;
    res.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let other = call(
        &app,
        TestRequest::get("/v1/corridors").from_ip("192.0.2.45"),
    )
    .await;
    assert_eq!(other.status, StatusCode::OK);
}

#[tokio::test]
async fn the_public_rate_list_is_cached_briefly_but_a_quote_prices_at_the_current_rate() {
    let app = TestApp::new().await;
    let eur = |body: Value| {
        body["rates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["currency"] == "EUR")
            .unwrap()["reference_rate"]
            .clone()
    };
    assert_eq!(
        eur(call(&app, TestRequest::get("/v1/exchange-rates"))
            .await
            .json()),
        "0.085"
    );
    app.db
        .execute(
            "UPDATE exchange_rates SET reference_rate = 0.09 WHERE quote_currency = 'EUR'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        eur(call(&app, TestRequest::get("/v1/exchange-rates"))
            .await
            .json()),
        "0.085"
    );
    let q = call(
        &app,
        quote(json!({"destination_country": "DE", "send_amount": "1000"})),
    )
    .await
    .json();
    assert_eq!(q["reference_rate"], "0.09");
    tokio::time::sleep(api_rates::RATE_BOARD_TTL).await;
    assert_eq!(
        eur(call(&app, TestRequest::get("/v1/exchange-rates"))
            .await
            .json()),
        "0.09"
    );
}
