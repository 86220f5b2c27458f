//! The local API server over real HTTP, PostgreSQL and moto, as `cargo xtask dev` runs it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use drop_local::LocalApi;
use drop_testkit::TestApp;
use serde_json::{json, Value};

async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let api = LocalApi::new(app.base.clone());
    tokio::spawn(api.run(listener, std::future::pending()));
    base
}

async fn send(method: &str, url: &str, body: Option<Value>) -> (u16, http::HeaderMap, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(v) = body {
        req = req
            .header("content-type", "application/json")
            .body(v.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = res.bytes().await.unwrap();
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn a_client_reads_the_price_list_and_gets_a_quote_over_http() {
    let app = TestApp::new().await;
    let base = serve(&app).await;

    let (status, _, health) = send("GET", &format!("{base}/v1/health"), None).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));

    let (status, _, corridors) = send("GET", &format!("{base}/v1/corridors"), None).await;
    assert_eq!(status, 200);
    let pakistan = corridors["corridors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["country"] == "PK")
        .unwrap()
        .clone();

    let (status, headers, quote) = send(
        "POST",
        &format!("{base}/v1/quotes"),
        Some(json!({"destination_country": "PK", "send_amount": "2500.50"})),
    )
    .await;
    assert_eq!(status, 201, "{quote}");
    assert!(headers.contains_key("x-request-id"));
    assert_eq!(quote["receive"]["currency"], pakistan["currency"]);
    assert_eq!(
        quote["total_charged"],
        json!({"amount": "2513.00", "currency": "NOK"})
    );

    let (status, _, doc) = send("GET", &format!("{base}/v1/openapi.json"), None).await;
    assert_eq!(status, 200);
    assert!(doc["paths"]["/v1/quotes"]["post"].is_object());

    let (status, _, err) = send("GET", &format!("{base}/v1/transactions"), None).await;
    assert_eq!((status, err["error"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_over_http() {
    let app = TestApp::new().await;
    let base = serve(&app).await;
    let big =
        json!({"destination_country": "PL", "send_amount": "500", "pad": "x".repeat(2 << 20)});
    let (status, _, err) = send("POST", &format!("{base}/v1/quotes"), Some(big)).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (413, Some("payload_too_large"))
    );
    assert_eq!(app.count("quotes").await, 0);
}

/// A body over the limit gets its 413 envelope over HTTP, however large (up to API Gateway's
/// own 10 MB), and the connection stays usable: the local server reads the whole body first,
/// as API Gateway does, rather than answering mid-upload and closing.
#[tokio::test]
async fn a_one_megabyte_body_gets_the_413_envelope_and_the_connection_is_kept() {
    let app = TestApp::new().await;
    let base = serve(&app).await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let res = client
            .post(format!("{base}/v1/quotes"))
            .header("content-type", "application/json")
            .body(vec![b' '; 1024 * 1024])
            .send()
            .await
            .expect("an answer, not a closed connection");
        assert_eq!(res.status().as_u16(), 413);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "payload_too_large", "{body}");
    }
    let (status, _, _) = send("GET", &format!("{base}/v1/corridors"), None).await;
    assert_eq!(status, 200);
}
