//! A test app over the real services `cargo xtask test` starts: a fresh PostgreSQL database
//! per test with the project's migrations and demo rates, and its own DynamoDB table in moto.
//! Requests go through a function's router behind the edge's layers, as a Lambda invocation
//! from API Gateway would.
#![allow(clippy::expect_used, clippy::panic)] // test support: a broken setup must stop the test loudly

pub mod browser;
pub mod oidc_provider;
pub mod prism;

use axum::Router;
use drop_shared::aws::provision;
use drop_shared::aws::Aws;
use drop_shared::config::Config;
use drop_shared::domain::ids::Fodselsnummer;
use drop_shared::domain::session::SessionKind;
use drop_shared::edge::Base;
use drop_shared::store::audit::Origin;
use drop_shared::store::users::{self, BankIdPerson};
use drop_shared::store::{migrate, rates, roles};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;
use tower::ServiceExt;

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests with `cargo xtask test`"))
}

/// The AWS SDK configuration for the local emulator (`AWS_ENDPOINT_URL` from the environment).
pub async fn sdk_config() -> aws_config::SdkConfig {
    env("AWS_ENDPOINT_URL");
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// Builds what one function's Lambda serves from the instance's base (`api_rates::app`, …).
pub type RouterFn = fn(&Base) -> Router;

pub struct TestApp {
    pub base: Base,
    /// Each function's router, built once, so instance state (caches) lives across calls.
    routers: Mutex<HashMap<usize, Router>>,
    /// The URL the functions connect with: the test's application role.
    pub database_url: String,
    /// A connection as the schema's owner (for seeding and for reading back what happened).
    pub db: tokio_postgres::Client,
    /// The test's database, dropped with the app.
    _database: ScratchDatabase,
}

/// An empty database of the test cluster's (`DROP_TEST_DATABASE_URL`), dropped — with its
/// application role, if one was made — when this is dropped, also when a test fails half-way.
pub struct ScratchDatabase {
    admin_url: String,
    pub name: String,
    /// The database's URL, as the cluster's owner.
    pub url: String,
}

impl ScratchDatabase {
    pub async fn create() -> Self {
        let admin_url = env("DROP_TEST_DATABASE_URL");
        let name = format!("drop_test_{}", uuid::Uuid::new_v4().simple());
        let (admin, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test cluster");
        tokio::spawn(conn);
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let url = with_dbname(&admin_url, &name);
        Self {
            admin_url,
            name,
            url,
        }
    }
}

impl Drop for ScratchDatabase {
    /// Drops the database (closing any connection still open to it). Runs on its own thread
    /// and runtime because a destructor cannot await on the test's runtime.
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let (admin, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                tokio::spawn(conn);
                // Two statements, not one batch: a batch is one transaction, and DROP DATABASE
                // refuses to run inside one.
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()?;
                admin
                    .batch_execute(&format!("DROP ROLE IF EXISTS {}", app_role_of(&name)))
                    .await
                    .ok()
            })
        });
        let _ = dropped.join();
    }
}

impl TestApp {
    /// A fresh database (migrated, demo rates seeded) and a fresh rate-limit table.
    pub async fn new() -> Self {
        Self::with_env(&[]).await
    }

    /// As [`TestApp::new`], with extra configuration variables.
    pub async fn with_env(extra: &[(&str, &str)]) -> Self {
        let database = ScratchDatabase::create().await;
        let name = database.name.clone();
        // Migrations run as the cluster's owner; the functions connect as this test's own
        // application role, with the grants job-migrate gives it in the cloud.
        let owner_url = database.url.clone();
        let (mut db, conn) = tokio_postgres::connect(&owner_url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        migrate::migrate(&mut db).await.expect("migrations apply");
        let app_role = roles::AppRole {
            name: app_role_of(&name),
            password: None,
        };
        roles::grant_app_role(&mut db, &app_role)
            .await
            .expect("application role");
        let database_url = with_user(&owner_url, &app_role.name);
        for rate in rates::demo_rates(OffsetDateTime::now_utc()) {
            rates::insert_rate_if_missing(&db, &rate)
                .await
                .expect("seed rates");
        }

        let sdk = sdk_config().await;
        // A table of its own per test, for each table a function uses.
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let mut tables = Vec::new();
        for (var, prefix) in [
            ("DROP_RATE_LIMIT_TABLE", "rl"),
            ("DROP_LOGIN_TABLE", "login"),
            ("DROP_WEBHOOK_TABLE", "webhooks"),
            ("DROP_BALANCE_CACHE_TABLE", "balances"),
            ("DROP_BANK_BREAKER_TABLE", "breakers"),
        ] {
            let table = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
            provision::ensure_table(&dynamo, &table)
                .await
                .unwrap_or_else(|e| panic!("{var}: {e}"));
            tables.push((var.to_owned(), table));
        }
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let provider_secrets = provision::PROVIDER_SECRETS.map(|(name, _)| name);
        for secret in provision::GENERATED_SECRETS
            .iter()
            .chain(provider_secrets.iter())
        {
            let value = provision::random_key_hex().expect("random key");
            provision::ensure_secret(&secrets, &format!("test/{name}/{secret}"), &value)
                .await
                .expect("secret");
        }
        let mut vars: HashMap<String, String> = HashMap::from([
            ("DATABASE_URL".into(), database_url.clone()),
            ("DROP_STAGE".into(), "local".into()),
            ("DROP_SECRETS_PREFIX".into(), format!("test/{name}/")),
        ]);
        vars.extend(tables);
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::from_lookup(|k| vars.get(k).cloned()).expect("test configuration");
        Self {
            base: Base::new(config, Aws::from_sdk(&sdk), 2),
            routers: Mutex::default(),
            database_url,
            db,
            _database: database,
        }
    }

    /// This test's instance of the router `function` builds.
    pub fn router(&self, function: RouterFn) -> Router {
        let mut routers = self.routers.lock().unwrap_or_else(|p| p.into_inner());
        routers
            .entry(function as usize)
            .or_insert_with(|| function(&self.base))
            .clone()
    }

    /// Sends `req` to the function's router as a Lambda invocation from API Gateway would
    /// arrive.
    pub async fn call(&self, function: RouterFn, req: TestRequest) -> TestResponse {
        let response = self
            .router(function)
            .oneshot(req.into_http())
            .await
            .expect("routers are infallible");
        TestResponse::from_response(response).await
    }

    /// Rows in `table` (for asserting that a refused request changed nothing).
    /// Sets one of this test's secrets (read lazily, so before first use is in time).
    pub async fn set_secret(&self, name: &str, value: &str) {
        let sdk = sdk_config().await;
        let id = self.base.secrets.secret_id(name);
        provision::set_secret(&aws_sdk_secretsmanager::Client::new(&sdk), &id, value)
            .await
            .expect("set secret");
    }

    /// Registers an adult (as a BankID sign-in would) and opens a session of `kind` for them;
    /// returns the user id and the session token.
    pub async fn signed_in_user(&self, kind: SessionKind) -> (uuid::Uuid, String) {
        self.signed_in_person(kind, "Kari", "Nordmann").await
    }

    /// As [`TestApp::signed_in_user`], with the person's names (the Sumsub sandbox decides
    /// its review by them).
    pub async fn signed_in_person(
        &self,
        kind: SessionKind,
        given_name: &str,
        family_name: &str,
    ) -> (uuid::Uuid, String) {
        let person = BankIdPerson {
            altsub: format!("altsub-{}", uuid::Uuid::new_v4().simple()),
            fnr: random_adult_fnr(),
            birth_date: time::macros::date!(1986 - 10 - 15),
            given_name: given_name.into(),
            family_name: family_name.into(),
        };
        let origin = Origin {
            request_id: "testkit".into(),
            client_request_id: None,
            ip: None,
        };
        let vault = self.base.secrets.fnr_vault().await.expect("vault");
        let (user, _) = users::sign_in_with_bankid(&self.db, &vault, &person, &origin)
            .await
            .expect("register");
        let claims = users::open_session(
            &self.db,
            user,
            kind,
            &origin,
            None,
            &users::Assurance {
                acr: "urn:bankid:bid".into(),
                auth_time: OffsetDateTime::now_utc(),
            },
            OffsetDateTime::now_utc(),
        )
        .await
        .expect("session");
        let token = self
            .base
            .secrets
            .session_keys()
            .await
            .expect("keys")
            .issue(&claims)
            .expect("token");
        (user, token)
    }

    pub async fn count(&self, table: &str) -> i64 {
        let row = self
            .db
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count");
        row.get(0)
    }
}

/// The application role of the test database `db` (roles are per cluster, so one per test).
fn app_role_of(db: &str) -> String {
    format!("{db}_app")
}

/// `url` connecting as `user` instead (the URLs here carry no password: the cluster trusts).
fn with_user(url: &str, user: &str) -> String {
    match url
        .split_once("://")
        .and_then(|(scheme, rest)| Some((scheme, rest.split_once('@')?.1)))
    {
        Some((scheme, host_and_db)) => format!("{scheme}://{user}@{host_and_db}"),
        None => panic!("DROP_TEST_DATABASE_URL must be postgres://USER@HOST:PORT/DBNAME"),
    }
}

fn with_dbname(url: &str, name: &str) -> String {
    match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("DROP_TEST_DATABASE_URL must end in /DBNAME"),
    }
}

/// A request as API Gateway would hand it to a function.
pub struct TestRequest {
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Vec<u8>,
    source_ip: String,
}

impl TestRequest {
    pub fn new(method: Method, uri: &str) -> Self {
        Self {
            method,
            uri: uri.to_owned(),
            headers: HeaderMap::new(),
            body: Vec::new(),
            source_ip: "198.51.100.10".into(),
        }
    }

    pub fn get(uri: &str) -> Self {
        Self::new(Method::GET, uri)
    }

    /// A POST with a JSON body and `content-type: application/json`.
    pub fn post_json(uri: &str, body: serde_json::Value) -> Self {
        Self::new(Method::POST, uri)
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers
            .insert(name, HeaderValue::from_str(value).expect("header value"));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn from_ip(mut self, ip: &str) -> Self {
        self.source_ip = ip.to_owned();
        self
    }

    /// The request with the API Gateway v2 context a Lambda request carries.
    pub fn into_http(self) -> http::Request<axum::body::Body> {
        let mut req = http::Request::builder()
            .method(self.method.clone())
            .uri(&self.uri)
            .body(axum::body::Body::from(self.body))
            .expect("request");
        *req.headers_mut() = self.headers;
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some(self.source_ip);
        context.http.method = self.method;
        context.request_id = Some(format!("test-{}", uuid::Uuid::new_v4().simple()));
        req.with_request_context(RequestContext::ApiGatewayV2(context))
    }
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub async fn from_response(response: axum::response::Response) -> Self {
        use http_body_util::BodyExt;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .expect("response body")
            .to_bytes()
            .to_vec();
        Self {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the error envelope: status, stable code, a message, a details array.
    pub fn assert_error(&self, status: StatusCode, code: &str) -> serde_json::Value {
        let body = self.json();
        assert_eq!(self.status, status, "body: {body}");
        assert_eq!(body["error"], code, "body: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "body: {body}"
        );
        assert!(body["details"].is_array(), "body: {body}");
        assert!(self.header("x-request-id").is_some());
        body
    }
}

/// A valid fødselsnummer for someone born 15.10.1986 with a random individual number, so each
/// test user is a different person.
pub fn random_adult_fnr() -> Fodselsnummer {
    const W1: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
    const W2: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    let check = |digits: &[u32], weights: &[u32]| {
        let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
        match 11 - sum % 11 {
            11 => Some(0),
            10 => None,
            k => Some(k),
        }
    };
    loop {
        let individual = uuid::Uuid::new_v4().as_u128() % 500;
        let text = format!("151086{individual:03}");
        let mut digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
        let Some(k1) = check(&digits, &W1) else {
            continue;
        };
        digits.push(k1);
        let Some(k2) = check(&digits, &W2) else {
            continue;
        };
        if let Ok(fnr) = format!("{text}{k1}{k2}").parse() {
            return fnr;
        }
    }
}
