//! The SAM template, the local server and the OpenAPI document declare the same routes, each
//! owned by one function; every sample event parses as Lambda would parse it and is served.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use drop_testkit::{TestApp, TestResponse};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tower::ServiceExt;

type RouteSet = BTreeSet<(String, String, String)>; // (function, METHOD, path)

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// (function binary, method, path) of every HttpApi event in the template.
fn template_routes() -> RouteSet {
    let text = std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut routes = RouteSet::new();
    for (_, resource) in doc["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"] == "HttpApi" && !event["Properties"]["Path"].is_null() {
                let p = &event["Properties"];
                let method = p["Method"].as_str().unwrap().to_uppercase();
                routes.insert((
                    binary.clone(),
                    method,
                    p["Path"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    routes
}

/// (function, METHOD, path) of every route each function's `utoipa-axum` router declares.
fn local_routes() -> RouteSet {
    drop_local::functions()
        .iter()
        .flat_map(|f| {
            routes_of(&serde_json::to_value((f.openapi)()).unwrap())
                .into_iter()
                .map(|(method, path)| (f.name.to_owned(), method, path))
        })
        .collect()
}

/// The routes api-meta serves in its embedded document.
fn openapi_routes() -> BTreeSet<(String, String)> {
    routes_of(&serde_json::from_str(api_meta::OPENAPI_JSON).unwrap())
}

fn routes_of(doc: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    routes
}

/// `cargo xtask openapi` writes the document api-meta embeds; it must be the one the routers
/// declare today.
#[test]
fn the_embedded_openapi_document_is_fresh() {
    assert!(
        api_meta::OPENAPI_JSON == drop_local::openapi_json(),
        "functions/api-meta/openapi.json is stale: run `cargo xtask openapi`"
    );
}

#[test]
fn template_local_server_and_openapi_declare_the_same_routes() {
    let template = template_routes();
    let local = local_routes();
    assert!(!local.is_empty());
    assert_eq!(
        template, local,
        "template (left) and local server (right) differ"
    );
    let without_owner: BTreeSet<_> = local
        .iter()
        .map(|(_, m, p)| (m.clone(), p.clone()))
        .collect();
    assert_eq!(
        openapi_routes(),
        without_owner,
        "OpenAPI (left) and local server (right) differ"
    );
}

/// The function that answers API Gateway's `$default` route (an HttpApi event without a path).
fn template_default_route_owners() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut owners = Vec::new();
    for (_, resource) in doc["Resources"].as_mapping().unwrap() {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"] == "HttpApi" && event["Properties"]["Path"].is_null() {
                owners.push(
                    resource["Metadata"]["BuildProperties"]["Binary"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
        }
    }
    owners
}

#[test]
fn unmatched_requests_reach_exactly_one_function_that_answers_them() {
    assert_eq!(template_default_route_owners(), vec!["api-meta".to_owned()]);
}

#[tokio::test]
async fn the_default_route_answers_404_or_405_with_the_envelope() {
    let app = TestApp::new().await;
    let res = app
        .call(api_meta::app, drop_testkit::TestRequest::get("/v1/nowhere"))
        .await;
    res.assert_error(http::StatusCode::NOT_FOUND, "not_found");
    let res = app
        .call(
            api_meta::app,
            drop_testkit::TestRequest::new(http::Method::DELETE, "/v1/quotes"),
        )
        .await;
    res.assert_error(http::StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(
        res.header("allow"),
        Some("POST"),
        "RFC 9110: a 405 says what is allowed"
    );
    let res = app
        .call(
            api_meta::app,
            drop_testkit::TestRequest::new(http::Method::PUT, "/v1/me"),
        )
        .await;
    res.assert_error(http::StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let mut allowed: Vec<_> = res.header("allow").unwrap().split(',').collect();
    allowed.sort_unstable();
    assert_eq!(allowed, ["GET", "PATCH"]);
    let res = app
        .call(api_meta::app, drop_testkit::TestRequest::get("/v1/health"))
        .await;
    assert_eq!(res.status, http::StatusCode::OK);
}

#[test]
fn every_route_has_exactly_one_owner() {
    let mut owners: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (function, method, path) in local_routes() {
        owners.entry((method, path)).or_default().push(function);
    }
    let shared: Vec<_> = owners.iter().filter(|(_, fs)| fs.len() > 1).collect();
    assert!(shared.is_empty(), "{shared:?}");
}

#[test]
fn every_function_binary_in_the_template_is_a_workspace_binary_with_a_unique_name() {
    let text = std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut binaries = Vec::new();
    for (_, resource) in doc["Resources"].as_mapping().unwrap() {
        if resource["Type"] == "AWS::Serverless::Function" {
            assert_eq!(resource["Metadata"]["BuildMethod"], "rust-cargolambda");
            binaries.push(
                resource["Metadata"]["BuildProperties"]["Binary"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    let unique: BTreeSet<_> = binaries.iter().collect();
    assert_eq!(unique.len(), binaries.len(), "{binaries:?}");
    for function in drop_local::functions() {
        assert!(
            binaries.iter().any(|b| b == function.name),
            "{} is not deployed",
            function.name
        );
    }
}

/// Every API Gateway event under `events/<function>/` goes through lambda_http's own event
/// parsing and that function's router, and gets its expected answer.
#[tokio::test]
async fn every_sample_event_is_parsed_as_lambda_parses_it_and_served() {
    let app = TestApp::new().await;
    let mut served = 0;
    for function in drop_local::functions() {
        let dir = repo().join("events").join(function.name);
        let lambda = (function.app)(&app.base);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no events for {}", function.name);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let request = lambda_http::request::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let response = lambda.clone().oneshot(request).await.unwrap();
            let response = TestResponse::from_response(response).await;
            // `NAME.expect-401.json` names the status a sample without a session or provider gets.
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let body = String::from_utf8_lossy(&response.body);
            match name
                .split(".expect-")
                .nth(1)
                .and_then(|rest| rest.split('.').next())
            {
                Some(code) => {
                    assert_eq!(response.status.as_u16().to_string(), code, "{name}: {body}")
                }
                None => assert!(
                    response.status.is_success(),
                    "{name}: {} {body}",
                    response.status
                ),
            }
            let event: serde_json::Value = serde_json::from_str(&text).unwrap();
            let gateway_id = event["requestContext"]["requestId"].as_str().unwrap();
            assert_eq!(
                response.header("x-request-id"),
                Some(gateway_id),
                "{}: API Gateway's id is kept",
                file.display()
            );
            served += 1;
        }
    }
    assert!(served >= 20);
}

/// The tables, queues and secrets local provisioning creates are the ones the template declares.
#[test]
fn local_provisioning_creates_what_the_template_declares() {
    use drop_shared::aws::provision::{GENERATED_SECRETS, PROVIDER_SECRETS, QUEUES, TABLES};
    let text = std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let sub = |v: &serde_yaml::Value| match v {
        serde_yaml::Value::Tagged(t) => t.value.as_str().unwrap_or_default().to_owned(),
        other => other.as_str().unwrap_or_default().to_owned(),
    };
    let (mut tables, mut queues, mut secrets) = (BTreeSet::new(), BTreeMap::new(), BTreeSet::new());
    for (_, r) in doc["Resources"].as_mapping().unwrap() {
        let p = &r["Properties"];
        match r["Type"].as_str().unwrap_or_default() {
            "AWS::DynamoDB::Table" => {
                tables.insert(sub(&p["TableName"]));
            }
            "AWS::SQS::Queue" => {
                let visibility = p["VisibilityTimeout"].as_u64();
                let receives = p["RedrivePolicy"]["maxReceiveCount"].as_u64();
                queues.insert(sub(&p["QueueName"]), (visibility, receives));
            }
            "AWS::SecretsManager::Secret" => {
                secrets.insert(sub(&p["Name"]));
            }
            _ => {}
        }
    }
    let expected_tables: BTreeSet<_> = TABLES
        .iter()
        .map(|t| format!("drop-${{Stage}}-{t}"))
        .collect();
    assert_eq!(tables, expected_tables);
    for q in QUEUES {
        let name = format!("drop-${{Stage}}-{}", q.name);
        assert_eq!(
            queues.get(&name),
            Some(&(
                Some(u64::from(q.visibility_timeout_secs)),
                Some(u64::from(q.max_receives))
            )),
            "{name}"
        );
        assert!(queues.contains_key(&format!("{name}-dlq")), "{name}-dlq");
    }
    assert_eq!(queues.len(), 2 * QUEUES.len());
    // The application role's database secret, which locally is the user in DATABASE_URL.
    let expected_secrets: BTreeSet<_> = GENERATED_SECRETS
        .iter()
        .chain(PROVIDER_SECRETS.iter().map(|(name, _)| name))
        .chain(&["database-app"])
        .map(|s| format!("drop/${{Stage}}/{s}"))
        .collect();
    assert_eq!(secrets, expected_secrets);
}

/// Each function may do on DynamoDB and Secrets Manager only what its code calls: the DynamoDB
/// actions of shared/src/aws on the table it names, and GetSecretValue on the secrets it reads.
#[test]
fn function_policies_name_only_the_actions_and_resources_the_code_uses() {
    let text = std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let reference = |v: &serde_yaml::Value| match v {
        serde_yaml::Value::Tagged(t) => t.value.as_str().unwrap_or_default().to_owned(),
        other => other.as_str().unwrap_or_default().to_owned(),
    };
    // What each function reads and calls (see shared/src/aws and the functions' state use).
    let expected: BTreeMap<&str, BTreeSet<String>> = BTreeMap::from([
        (
            "ApiAuthFunction",
            [
                "RateLimitTable.Arn UpdateItem",
                "OidcStateTable.Arn PutItem",
                "OidcStateTable.Arn DeleteItem",
                "DatabaseAppSecret",
                "JwtSigningKeySecret",
                "FnrEncryptionKeySecret",
                "FnrHmacKeySecret",
                "BankIdClientSecret",
            ]
            .as_slice(),
        ),
        (
            "ApiMeFunction",
            ["DatabaseAppSecret", "JwtSigningKeySecret"].as_slice(),
        ),
        (
            "ApiAccountsFunction",
            [
                "BalanceCacheTable.Arn GetItem",
                "BalanceCacheTable.Arn PutItem",
                "BankBreakerTable.Arn GetItem",
                "BankBreakerTable.Arn PutItem",
                "DatabaseAppSecret",
                "JwtSigningKeySecret",
                "AccountEncryptionKeySecret",
                "AccountHmacKeySecret",
            ]
            .as_slice(),
        ),
        (
            "ApiKycFunction",
            [
                "DatabaseAppSecret",
                "JwtSigningKeySecret",
                "SumsubAppTokenSecret",
                "SumsubSecretKeySecret",
            ]
            .as_slice(),
        ),
        (
            "WebhookSumsubFunction",
            [
                "WebhookDedupTable.Arn GetItem",
                "WebhookDedupTable.Arn PutItem",
                "DatabaseAppSecret",
                "SumsubWebhookSecret",
            ]
            .as_slice(),
        ),
        (
            "ApiRatesFunction",
            ["RateLimitTable.Arn UpdateItem", "DatabaseAppSecret"].as_slice(),
        ),
        (
            "ApiMetaFunction",
            ["RateLimitTable.Arn UpdateItem", "DatabaseAppSecret"].as_slice(),
        ),
        (
            "MigrateFunction",
            ["DatabaseSecretArn", "DatabaseAppSecret"].as_slice(),
        ),
    ])
    .into_iter()
    .map(|(f, grants)| (f, grants.iter().map(|g| g.to_string()).collect()))
    .collect();
    let resources = doc["Resources"].as_mapping().unwrap();
    let mut functions = 0;
    for (name, r) in resources {
        if r["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        functions += 1;
        let name = name.as_str().unwrap();
        let mut grants = BTreeSet::new();
        for policy in r["Properties"]["Policies"].as_sequence().unwrap() {
            let policy = policy.as_mapping().unwrap();
            assert_eq!(policy.len(), 1, "{name}: {policy:?}");
            let (kind, body) = policy.iter().next().unwrap();
            match kind.as_str().unwrap() {
                "AWSSecretsManagerGetSecretValuePolicy" => {
                    grants.insert(reference(&body["SecretArn"]));
                }
                "Statement" => {
                    for s in body.as_sequence().unwrap() {
                        assert_eq!(s["Effect"].as_str(), Some("Allow"));
                        for action in s["Action"].as_sequence().unwrap() {
                            let action = action.as_str().unwrap();
                            let item = action
                                .strip_prefix("dynamodb:")
                                .unwrap_or_else(|| panic!("{name}: {action}"));
                            grants.insert(format!("{} {item}", reference(&s["Resource"])));
                        }
                    }
                }
                other => panic!("{name}: policy {other} grants more than the code uses"),
            }
        }
        assert_eq!(Some(&grants), expected.get(name), "{name}");
    }
    assert_eq!(functions, expected.len());
}
