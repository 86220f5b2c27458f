//! What reaches the log about a failure: enough to act on, never the personal data in it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use drop_shared::ApiError;
use drop_testkit::TestApp;

#[tokio::test]
async fn a_database_error_is_logged_without_the_row_values_it_quotes() {
    let app = TestApp::new().await;
    app.db
        .batch_execute("CREATE TABLE t (v text UNIQUE); INSERT INTO t VALUES ('15108695088')")
        .await
        .unwrap();
    let err = app
        .db
        .execute("INSERT INTO t VALUES ('15108695088')", &[])
        .await
        .unwrap_err();
    let detail = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        detail.contains("15108695088"),
        "the driver's own text quotes the row: {detail}"
    );

    let chain = ApiError::from(err).cause_chain().join(" | ");
    assert!(chain.contains("SQLSTATE 23505"), "{chain}");
    assert!(chain.contains("constraint t_v_key"), "{chain}");
    assert!(!chain.contains("15108695088"), "{chain}");
}
