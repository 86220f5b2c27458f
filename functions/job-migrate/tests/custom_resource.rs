//! The handler end to end: a real HTTP server on 127.0.0.1 stands in for CloudFormation's
//! pre-signed S3 URL, and the database is either a closed port or a fresh database on the
//! PostgreSQL cluster `cargo xtask test` starts (`DROP_TEST_DATABASE_URL`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed step must stop the test loudly

use bytes::Bytes;
use drop_shared::aws::Aws;
use drop_shared::config::Config;
use drop_shared::edge::Base;
use drop_testkit::ScratchDatabase;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use job_migrate::{
    handle, CustomResourceResponse, HandlerError, Invocation, Migrator, RequestType,
    ResponseSender, ResponseStatus,
};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const PASSWORD: &str = "s3cr3t-pw-never-in-a-reason";
const LOG_GROUP: &str = "/drop/dev/job-migrate";
const LOG_STREAM: &str = "2025/11/22/[$LATEST]0123456789abcdef0123456789abcdef";
const INVOCATION_ID: &str = "5f0e9c1a-7b2d-4e3f-8a9b-0c1d2e3f4a5b";

fn event(name: &str) -> Value {
    let path = format!(
        "{}/../../events/job-migrate/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// What the stand-in for S3 received.
#[derive(Debug)]
struct Received {
    method: http::Method,
    path_and_query: String,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

/// A local HTTP server answering each request with the next status in `statuses` (the last
/// one repeats), reporting every request it gets.
struct FakeResponseUrl {
    base: String,
    received: mpsc::UnboundedReceiver<Received>,
    hits: Arc<AtomicUsize>,
}

impl FakeResponseUrl {
    async fn start(statuses: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, received) = mpsc::unbounded_channel();
        let statuses: Arc<Vec<u16>> = Arc::new(statuses.to_vec());
        let hits = Arc::new(AtomicUsize::new(0));
        let server_hits = hits.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (tx, statuses, hits) = (tx.clone(), statuses.clone(), server_hits.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: http::Request<Incoming>| {
                        let (tx, statuses, hits) = (tx.clone(), statuses.clone(), hits.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes().to_vec())
                                .unwrap_or_default();
                            let _ = tx.send(Received {
                                method: parts.method,
                                path_and_query: parts
                                    .uri
                                    .path_and_query()
                                    .map(|p| p.to_string())
                                    .unwrap_or_default(),
                                headers: parts.headers,
                                body,
                            });
                            let n = hits.fetch_add(1, Ordering::SeqCst);
                            let status = statuses[n.min(statuses.len() - 1)];
                            Ok::<_, std::convert::Infallible>(
                                http::Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::new()))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            base,
            received,
            hits,
        }
    }

    /// `event` with its ResponseURL moved to this server, keeping the real path and query.
    fn point(&self, mut event: Value) -> (Value, String) {
        let real = event["ResponseURL"].as_str().unwrap().to_owned();
        let uri: http::Uri = real.parse().unwrap();
        let path_and_query = uri.path_and_query().unwrap().to_string();
        event["ResponseURL"] = Value::String(format!("{}{}", self.base, path_and_query));
        (event, path_and_query)
    }

    async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(10), self.received.recv())
            .await
            .unwrap()
            .unwrap()
    }
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

fn migrator_for(database_url: &str) -> Migrator {
    let vars = HashMap::from([
        ("DATABASE_URL".to_owned(), database_url.to_owned()),
        ("DROP_STAGE".to_owned(), "local".to_owned()),
    ]);
    let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let state = Base::new(config, Aws::default(), 1);
    let sender =
        ResponseSender::allowing_plain_http().with_first_backoff(Duration::from_millis(10));
    Migrator::new(state.db.clone(), sender)
}

async fn unreachable_migrator() -> Migrator {
    migrator_for(&format!(
        "postgres://drop:{PASSWORD}@127.0.0.1:{}/drop?connect_timeout=2",
        closed_port().await
    ))
}

fn context() -> Context {
    let mut ctx = Context::default();
    ctx.request_id = INVOCATION_ID.to_owned();
    ctx.env_config = Arc::new(lambda_runtime::Config {
        function_name: "drop-dev-MigrateFunction-Xq2B8fLk3TzA".to_owned(),
        memory: 256,
        version: "$LATEST".to_owned(),
        log_stream: LOG_STREAM.to_owned(),
        log_group: LOG_GROUP.to_owned(),
    });
    ctx
}

fn response_of(received: &Received) -> CustomResourceResponse {
    serde_json::from_slice(&received.body).unwrap()
}

/// The PUT is what CloudFormation's pre-signed URL accepts: no Content-Type (the URL is signed
/// without one), an exact Content-Length, the path and query untouched.
fn assert_is_presigned_put(received: &Received, path_and_query: &str) {
    assert_eq!(received.method, http::Method::PUT);
    assert_eq!(received.path_and_query, path_and_query);
    assert!(
        received.headers.get(http::header::CONTENT_TYPE).is_none(),
        "{:?}",
        received.headers
    );
    let length: usize = received.headers[http::header::CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(length, received.body.len());
    assert!(received.body.len() <= 4096);
}

#[test]
fn real_shaped_events_parse() {
    let Invocation::CustomResource(create) =
        Invocation::from_value(event("cloudformation-create.json")).unwrap()
    else {
        panic!("not a custom-resource request")
    };
    assert_eq!(create.request_type, RequestType::Create);
    assert_eq!(create.logical_resource_id, "DatabaseMigrations");
    assert_eq!(create.resource_type, "Custom::DatabaseMigrations");
    assert_eq!(create.physical_resource_id, None);
    assert!(create
        .response_url
        .starts_with("https://cloudformation-custom-resource-response-eunorth1.s3."));
    assert_eq!(
        create.resource_properties.migrations_version.as_deref(),
        Some("0001")
    );

    let Invocation::CustomResource(update) =
        Invocation::from_value(event("cloudformation-update.json")).unwrap()
    else {
        panic!("not a custom-resource request")
    };
    assert_eq!(update.request_type, RequestType::Update);
    assert_eq!(
        update
            .old_resource_properties
            .unwrap()
            .migrations_version
            .as_deref(),
        Some("0001")
    );

    let Invocation::CustomResource(delete) =
        Invocation::from_value(event("cloudformation-delete.json")).unwrap()
    else {
        panic!("not a custom-resource request")
    };
    assert_eq!(delete.request_type, RequestType::Delete);
    assert!(delete.physical_resource_id.is_some());

    assert!(matches!(
        Invocation::from_value(event("direct-migrate.json")).unwrap(),
        Invocation::Direct(_)
    ));

    // Debug never shows the pre-signed URL's signature.
    assert!(!format!("{create:?}").contains("X-Amz-Signature"));
}

#[test]
fn the_aws_documented_shape_parses_too() {
    // The shape in the CloudFormation documentation, with properties this resource ignores and
    // numbers CloudFormation sends as strings.
    let value: Value = serde_json::from_str(
        r#"{
          "RequestType": "Update",
          "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=00",
          "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/MyStack/guid",
          "RequestId": "unique id for this create request",
          "ResourceType": "Custom::TestResource",
          "LogicalResourceId": "MyTestResource",
          "PhysicalResourceId": "MyTestResourceId",
          "ResourceProperties": {"StackName": "MyStack", "List": ["1", "2", "3"], "MigrationsVersion": "12"},
          "OldResourceProperties": {"StackName": "MyStack", "List": ["1"]}
        }"#,
    )
    .unwrap();
    let Invocation::CustomResource(req) = Invocation::from_value(value).unwrap() else {
        panic!("not parsed")
    };
    assert_eq!(
        req.resource_properties.migrations_version.as_deref(),
        Some("12")
    );
    assert_eq!(
        req.old_resource_properties.unwrap().migrations_version,
        None
    );

    let unknown: Value = serde_json::from_str(
        r#"{"RequestType":"Rotate","ResponseURL":"https://x/y","StackId":"s","RequestId":"r","LogicalResourceId":"l"}"#,
    )
    .unwrap();
    let Invocation::CustomResource(req) = Invocation::from_value(unknown).unwrap() else {
        panic!("not parsed")
    };
    assert_eq!(req.request_type, RequestType::Unknown);

    assert!(Invocation::from_value(serde_json::json!({"action": "drop-everything"})).is_err());
    assert!(Invocation::from_value(serde_json::json!({"action": "migrate", "extra": 1})).is_err());
}

/// The custom resource re-runs only when `MigrationsVersion` changes, so the template's default
/// must follow `migrations/`: adding a migration without bumping it would deploy new code over
/// an old schema.
#[test]
fn the_template_migrations_version_is_the_newest_migration() {
    let path = format!("{}/../../infra/template.yaml", env!("CARGO_MANIFEST_DIR"));
    let template: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let declared = template["Parameters"]["MigrationsVersion"]["Default"]
        .as_str()
        .unwrap();
    let newest = drop_shared::store::migrate::embedded().last().unwrap();
    assert_eq!(
        declared,
        format!("{:04}", newest.version()),
        "set Parameters.MigrationsVersion.Default in infra/template.yaml to {:04} ({})",
        newest.version(),
        newest.file()
    );
}

#[tokio::test]
async fn delete_succeeds_without_touching_the_database() {
    let mut s3 = FakeResponseUrl::start(&[200]).await;
    let (payload, path_and_query) = s3.point(event("cloudformation-delete.json"));
    // The database is a closed port: touching it would fail the request.
    let migrator = unreachable_migrator().await;

    let returned = handle(&migrator, LambdaEvent::new(payload, context()))
        .await
        .unwrap();

    let received = s3.next().await;
    assert_is_presigned_put(&received, &path_and_query);
    let response = response_of(&received);
    assert_eq!(
        response,
        CustomResourceResponse {
            status: ResponseStatus::Success,
            reason: "Nothing to do on delete: the schema stays with the database.".to_owned(),
            physical_resource_id: "DatabaseMigrations-5b0e7a40-c74f-11f0-9d1e-0a1b2c3d4e5f".to_owned(),
            stack_id: "arn:aws:cloudformation:eu-north-1:123456789012:stack/drop-dev/5b0e7a40-c74f-11f0-9d1e-0a1b2c3d4e5f"
                .to_owned(),
            request_id: "c4d5e6f7-8a9b-4c0d-8e1f-2a3b4c5d6e7f".to_owned(),
            logical_resource_id: "DatabaseMigrations".to_owned(),
            no_echo: false,
            data: Default::default(),
        }
    );
    // The raw JSON has exactly CloudFormation's field names.
    let raw: Value = serde_json::from_slice(&received.body).unwrap();
    let mut keys: Vec<&str> = raw
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "Data",
            "LogicalResourceId",
            "NoEcho",
            "PhysicalResourceId",
            "Reason",
            "RequestId",
            "StackId",
            "Status"
        ]
    );
    assert_eq!(raw["Status"], "SUCCESS");
    assert_eq!(returned, raw);
}

#[tokio::test]
async fn create_against_an_unreachable_database_reports_failed_with_the_log_location() {
    let mut s3 = FakeResponseUrl::start(&[200]).await;
    let (payload, path_and_query) = s3.point(event("cloudformation-create.json"));
    let migrator = unreachable_migrator().await;

    // The migration failed, but the response was delivered: the invocation itself succeeds
    // (an error would make Lambda retry the asynchronous invocation).
    handle(&migrator, LambdaEvent::new(payload, context()))
        .await
        .unwrap();

    let received = s3.next().await;
    assert_is_presigned_put(&received, &path_and_query);
    let response = response_of(&received);
    assert_eq!(response.status, ResponseStatus::Failed);
    assert_eq!(
        response.reason,
        format!(
            "Migrations failed: could not connect to the database. See CloudWatch Logs group {LOG_GROUP} stream \
             {LOG_STREAM} (request {INVOCATION_ID})."
        )
    );
    assert!(!String::from_utf8_lossy(&received.body).contains(PASSWORD));
    // Create has no physical id yet: one is made from the logical id and the stack.
    assert_eq!(
        response.physical_resource_id,
        "DatabaseMigrations-5b0e7a40-c74f-11f0-9d1e-0a1b2c3d4e5f"
    );
    assert_eq!(response.request_id, "8f1c6d2e-3b4a-4c5d-9e6f-7a8b9c0d1e2f");
    assert!(response.data.is_empty());
}

#[tokio::test]
async fn an_update_that_lowers_the_version_is_a_rollback_and_leaves_the_schema() {
    let mut s3 = FakeResponseUrl::start(&[200]).await;
    let mut rollback = event("cloudformation-update.json");
    rollback["ResourceProperties"]["MigrationsVersion"] = "0001".into();
    rollback["OldResourceProperties"]["MigrationsVersion"] = "0002".into();
    let (payload, _) = s3.point(rollback);
    let migrator = unreachable_migrator().await;

    handle(&migrator, LambdaEvent::new(payload, context()))
        .await
        .unwrap();

    let response = response_of(&s3.next().await);
    assert_eq!(
        response.status,
        ResponseStatus::Success,
        "{}",
        response.reason
    );
    assert!(
        response.reason.contains("from 0002 to 0001"),
        "{}",
        response.reason
    );
    // Update keeps the physical id CloudFormation sent (a new one would mean replacement).
    assert_eq!(
        response.physical_resource_id,
        "DatabaseMigrations-5b0e7a40-c74f-11f0-9d1e-0a1b2c3d4e5f"
    );
}

#[tokio::test]
async fn an_unknown_request_type_is_answered_failed() {
    let mut s3 = FakeResponseUrl::start(&[200]).await;
    let mut unknown = event("cloudformation-update.json");
    unknown["RequestType"] = "Rotate".into();
    let (payload, _) = s3.point(unknown);

    handle(
        &unreachable_migrator().await,
        LambdaEvent::new(payload, context()),
    )
    .await
    .unwrap();

    let response = response_of(&s3.next().await);
    assert_eq!(response.status, ResponseStatus::Failed);
    assert!(
        response
            .reason
            .starts_with("Unsupported RequestType. See CloudWatch Logs group"),
        "{}",
        response.reason
    );
}

#[tokio::test]
async fn the_response_is_retried_until_delivered() {
    let mut s3 = FakeResponseUrl::start(&[503, 500, 200]).await;
    let (payload, path_and_query) = s3.point(event("cloudformation-delete.json"));

    handle(
        &unreachable_migrator().await,
        LambdaEvent::new(payload, context()),
    )
    .await
    .unwrap();

    for _ in 0..3 {
        let received = s3.next().await;
        assert_is_presigned_put(&received, &path_and_query);
        assert_eq!(response_of(&received).status, ResponseStatus::Success);
    }
    assert_eq!(s3.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_undeliverable_response_fails_the_invocation() {
    // A URL that keeps failing is tried once and retried three times; a 4xx is an answer
    // (the pre-signed URL expired or was refused) and is not retried.
    for (status, hits) in [(503, 4), (403, 1)] {
        let s3 = FakeResponseUrl::start(&[status]).await;
        let (payload, _) = s3.point(event("cloudformation-delete.json"));

        let err = handle(
            &unreachable_migrator().await,
            LambdaEvent::new(payload, context()),
        )
        .await
        .unwrap_err();

        assert!(
            matches!(err, HandlerError::ResponseNotDelivered(_)),
            "{status}: {err}"
        );
        assert_eq!(s3.hits.load(Ordering::SeqCst), hits, "answered {status}");
    }
}

#[tokio::test]
async fn the_production_sender_only_speaks_https() {
    let s3 = FakeResponseUrl::start(&[200]).await;
    let (payload, _) = s3.point(event("cloudformation-delete.json"));
    let vars = HashMap::from([(
        "DATABASE_URL".to_owned(),
        format!("postgres://x@127.0.0.1:{}/x", closed_port().await),
    )]);
    let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let migrator = Migrator::new(
        Base::new(config, Aws::default(), 1).db.clone(),
        ResponseSender::new(),
    );

    let err = handle(&migrator, LambdaEvent::new(payload, context()))
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            HandlerError::ResponseNotDelivered(job_migrate::ResponseError::NotHttps)
        ),
        "{err}"
    );
    assert_eq!(s3.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn direct_invoke_against_an_unreachable_database_fails_without_secrets() {
    let migrator = unreachable_migrator().await;

    let err = handle(
        &migrator,
        LambdaEvent::new(event("direct-migrate.json"), context()),
    )
    .await
    .unwrap_err();

    let message = err.to_string();
    assert!(
        matches!(err, HandlerError::MigrationFailed { .. }),
        "{message}"
    );
    assert!(
        message.starts_with("could not connect to the database. See CloudWatch Logs group"),
        "{message}"
    );
    assert!(message.contains(LOG_STREAM), "{message}");
    assert!(!message.contains(PASSWORD), "{message}");
    let diagnostic: lambda_runtime::Diagnostic = err.into();
    assert_eq!(diagnostic.error_type, "MigrationFailed");
}

#[tokio::test]
async fn an_unreadable_event_is_an_error() {
    let err = handle(
        &unreachable_migrator().await,
        LambdaEvent::new(serde_json::json!({"hello": 1}), context()),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, HandlerError::BadEvent(_)), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Against a real PostgreSQL (`cargo xtask test` sets DROP_TEST_DATABASE_URL to an admin connection).

#[tokio::test]
async fn create_then_update_then_direct_against_a_real_database() {
    let scratch = ScratchDatabase::create().await;
    let database_url = &scratch.url;
    let migrator = migrator_for(database_url);
    let newest = drop_shared::store::migrate::embedded()
        .last()
        .unwrap()
        .version();

    // Create applies everything.
    let mut s3 = FakeResponseUrl::start(&[200]).await;
    let mut create = event("cloudformation-create.json");
    create["ResourceProperties"]["MigrationsVersion"] = format!("{newest:04}").into();
    let (payload, _) = s3.point(create);
    handle(&migrator, LambdaEvent::new(payload, context()))
        .await
        .unwrap();
    let response = response_of(&s3.next().await);
    assert_eq!(
        response.status,
        ResponseStatus::Success,
        "{}",
        response.reason
    );
    let count = drop_shared::store::migrate::embedded().len().to_string();
    assert_eq!(response.data["Applied"], count);
    assert_eq!(response.data["AlreadyApplied"], "0");
    assert_eq!(response.data["SchemaVersion"], format!("{newest:04}"));
    assert!(
        response.reason.starts_with("Applied 0001_"),
        "{}",
        response.reason
    );

    // The connection was closed, not pooled: no session holds the migration lock.
    let (check, conn) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let locks: i64 = check
        .query_one("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(locks, 0);

    // An update re-runs and finds nothing to do.
    let mut update = event("cloudformation-update.json");
    update["ResourceProperties"]["MigrationsVersion"] = format!("{newest:04}").into();
    let (payload, _) = s3.point(update);
    handle(&migrator, LambdaEvent::new(payload, context()))
        .await
        .unwrap();
    let response = response_of(&s3.next().await);
    assert_eq!(
        response.status,
        ResponseStatus::Success,
        "{}",
        response.reason
    );
    assert_eq!(response.data["Applied"], "0");
    assert_eq!(response.data["AlreadyApplied"], count);

    // A direct invocation returns the report.
    let report = handle(
        &migrator,
        LambdaEvent::new(event("direct-migrate.json"), context()),
    )
    .await
    .unwrap();
    assert_eq!(report["applied"], serde_json::json!([]));
    assert_eq!(
        report["already_applied"],
        drop_shared::store::migrate::embedded().len()
    );
    assert_eq!(report["schema_version"], newest);
}
