//! The state file: consents and payments outlive a restart.

use super::*;

#[tokio::test]
async fn the_state_file_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("bank-sandbox-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bank-state.json");
    let with_file = || SandboxConfig {
        state_file: Some(file.clone()),
        status_step: Duration::from_millis(50),
        ..config()
    };

    let first = Sandbox::start_with(with_file()).await;
    let consent = first.consent("dnb").await;
    first.authorise(&consent, "PSU-Successful", "approve").await;
    let pending = first.consent("nordea").await;
    let payment = first.payment("sparebank1").await;
    first.authorise(&payment, "PSU-Successful", "approve").await;
    first.stop().await;
    assert!(file.exists());

    // Another sandbox on another port, same file. The links of the first still name the old
    // port, so the paths are rebuilt here.
    let second = Sandbox::start_with(with_file()).await;
    let path = |href: &Value| {
        let href = href.as_str().unwrap();
        href[href
            .find("/dnb/")
            .or(href.find("/nordea/"))
            .or(href.find("/sparebank1/"))
            .unwrap()..]
            .to_owned()
    };
    let consent_id = consent["consentId"].as_str().unwrap();
    let status = second
        .call(Method::GET, &path(&consent["_links"]["status"]["href"]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.json::<Value>().await.unwrap(),
        json!({ "consentStatus": "valid" })
    );
    let accounts = second.read("/dnb/v1/accounts", consent_id, true).await;
    assert_eq!(accounts.status(), StatusCode::OK);
    let accounts: Value = accounts.json().await.unwrap();
    assert_eq!(accounts["accounts"][0]["iban"], DNB_SUCCESSFUL[0].2);

    let status = second
        .call(Method::GET, &path(&pending["_links"]["status"]["href"]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.json::<Value>().await.unwrap()["consentStatus"],
        "received"
    );
    // The approved payment goes on settling from its stored timestamps.
    let status_path = path(&payment["_links"]["status"]["href"]);
    let (s, p) = (&second, &status_path);
    eventually(Duration::from_secs(5), || async move {
        let status: Value = s
            .call(Method::GET, p)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (status["transactionStatus"] == "ACSC").then_some(())
    })
    .await;
    second.stop().await;
    std::fs::remove_dir_all(dir).unwrap();
}
