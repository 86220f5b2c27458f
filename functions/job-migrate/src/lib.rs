//! `job-migrate`: brings the database up to the schema in `migrations/` (embedded in this
//! binary by `drop_shared::store::migrate`).
//!
//! Two ways in:
//!
//! - **CloudFormation custom resource** `Custom::DatabaseMigrations`. `Create` and `Update` run
//!   the migrations; `Delete` succeeds without touching the database (the schema outlives the
//!   stack). The outcome is always PUT to the request's pre-signed `ResponseURL` — on failure
//!   too, so a stack never waits for a response that will not come. A failure's `Reason` names
//!   what failed in fixed words and where the log is; it never carries an error's text.
//!   An `Update` whose `MigrationsVersion` goes *down* (CloudFormation rolling back, or a
//!   deliberate downgrade) succeeds without touching the forward-only schema: the newer schema
//!   stays, and re-running the newer runner would only fail the rollback.
//! - **Direct invoke** `{"action":"migrate"}` returns the report as JSON.
//!
//! [`handle`] is a plain async function of `(migrator, event)`: tests call it without the
//! Lambda runtime.

use bytes::Bytes;
use drop_shared::aws::secrets::{SecretError, SecretStore};
use drop_shared::providers::outbound::{self, OutboundError, RetryPolicy};
use drop_shared::store::migrate::{self, MigrationError, MigrationReport};
use drop_shared::store::pool::{Connection, Db, DbError};
use drop_shared::store::roles::{self, AppRole, RoleError};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------------
// CloudFormation custom-resource types

/// What CloudFormation asks of the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
    /// Anything else: answered `FAILED`.
    #[serde(other)]
    Unknown,
}

/// A CloudFormation custom-resource request (the fields this function reads).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceRequest {
    pub request_type: RequestType,
    pub request_id: String,
    /// Pre-signed S3 URL the response is PUT to. It grants write access to one object: it is
    /// never logged (and `Debug` shows only its host).
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub logical_resource_id: String,
    #[serde(default)]
    pub resource_type: String,
    /// Absent on `Create`.
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub resource_properties: MigrationProperties,
    /// Present on `Update` only.
    #[serde(default)]
    pub old_resource_properties: Option<MigrationProperties>,
}

impl fmt::Debug for CustomResourceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomResourceRequest")
            .field("request_type", &self.request_type)
            .field("request_id", &self.request_id)
            .field("response_url_host", &url_host(&self.response_url))
            .field("stack_id", &self.stack_id)
            .field("logical_resource_id", &self.logical_resource_id)
            .field("resource_type", &self.resource_type)
            .field("physical_resource_id", &self.physical_resource_id)
            .field("resource_properties", &self.resource_properties)
            .field("old_resource_properties", &self.old_resource_properties)
            .finish()
    }
}

/// The resource's properties in the template (CloudFormation passes every value as a string).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MigrationProperties {
    /// Number of the newest migration the deploy expects, e.g. `"0004"`.
    #[serde(rename = "MigrationsVersion", default)]
    pub migrations_version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ResponseStatus {
    Success,
    Failed,
}

/// The body PUT to `ResponseURL` (at most 4 KiB).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceResponse {
    pub status: ResponseStatus,
    pub reason: String,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub no_echo: bool,
    /// Readable with `Fn::GetAtt` on success: `Applied`, `AlreadyApplied`, `SchemaVersion`.
    pub data: BTreeMap<String, String>,
}

/// `{"action":"migrate"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectInvocation {
    pub action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Migrate,
}

/// What the function was invoked with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    CustomResource(CustomResourceRequest),
    Direct(DirectInvocation),
}

impl Invocation {
    /// A payload with a `RequestType` is a CloudFormation request; anything else must be a
    /// direct invocation.
    pub fn from_value(payload: Value) -> Result<Self, serde_json::Error> {
        if payload.get("RequestType").is_some() {
            serde_json::from_value(payload).map(Self::CustomResource)
        } else {
            serde_json::from_value(payload).map(Self::Direct)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Why a migration run failed. `Display` is a fixed, secret-free summary (file names and
/// numbers only) that may go into a CloudFormation `Reason`; the causes go to the log only.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("could not connect to the database")]
    Connect(#[source] DbError),
    #[error("{}", migration_summary(.0))]
    Migrate(#[source] MigrationError),
    #[error("could not read the application role's secret")]
    AppRoleSecret(#[source] SecretError),
    #[error("creating or granting the application role failed")]
    AppRole(#[source] RoleError),
    #[error("migrations did not finish within {} s", .0.as_secs())]
    TimedOut(Duration),
}

fn migration_summary(e: &MigrationError) -> String {
    match e {
        MigrationError::Apply { file, .. } => format!("applying migration {file} failed"),
        MigrationError::ChecksumMismatch { file, .. } => {
            format!("migration {file} has changed since it was applied")
        }
        MigrationError::UnknownVersion { version, .. } => {
            format!("the database has migration {version:04}, which this build does not know")
        }
        MigrationError::OutOfOrder { file, .. } => {
            format!("migration {file} is numbered below the newest applied migration")
        }
        MigrationError::Lock(_) | MigrationError::Unlock(_) => {
            "the migration lock failed".to_owned()
        }
        MigrationError::Bookkeeping(_) => "reading or creating schema_migrations failed".to_owned(),
    }
}

pub use drop_shared::error::log_chain;

/// What an invocation can fail with, as the Lambda runtime reports it.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("the event is neither a CloudFormation custom-resource request nor {{\"action\":\"migrate\"}}")]
    BadEvent(#[source] serde_json::Error),
    #[error("the CloudFormation response could not be delivered")]
    ResponseNotDelivered(#[source] ResponseError),
    #[error("{summary}. {logs}")]
    MigrationFailed { summary: String, logs: String },
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match e {
            HandlerError::BadEvent(_) => "BadEvent",
            HandlerError::ResponseNotDelivered(_) => "ResponseNotDelivered",
            HandlerError::MigrationFailed { .. } => "MigrationFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The handler

/// Time kept back from the invocation's deadline to deliver the CloudFormation response.
pub const RESPONSE_RESERVE: Duration = Duration::from_secs(30);

/// Migration budget when the invocation has no deadline (tests, local runs).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(240);

/// What `main` builds once: the database handle (as the migration role, which owns the
/// schema), the response client, and where the application role's secret is.
pub struct Migrator {
    db: Db,
    responder: ResponseSender,
    app_role: Option<(SecretStore, String)>,
}

impl Migrator {
    pub fn new(db: Db, responder: ResponseSender) -> Self {
        Self {
            db,
            responder,
            app_role: None,
        }
    }

    /// After migrating, also create or update the application role the functions connect as
    /// (name and password from the RDS-shaped secret `secret_id`) and re-apply its grants.
    pub fn with_app_role(mut self, secrets: SecretStore, secret_id: impl Into<String>) -> Self {
        self.app_role = Some((secrets, secret_id.into()));
        self
    }

    /// Runs the migrations within `budget`, then (re)grants the application role. The
    /// connection is taken out of the pool first: the runner's advisory lock belongs to the
    /// session, so a connection given up half-way (timeout) must close rather than go back to
    /// the pool still holding it.
    pub async fn run(&self, budget: Duration) -> Result<MigrationReport, JobError> {
        let work = async {
            // Read first: a missing secret should fail before the schema changes.
            let app_role = match &self.app_role {
                Some((secrets, id)) => {
                    let raw = secrets
                        .read_by_id(id.clone())
                        .await
                        .map_err(JobError::AppRoleSecret)?;
                    Some(AppRole::from_secret(&raw).map_err(JobError::AppRole)?)
                }
                None => None,
            };
            let conn = self.db.conn().await.map_err(JobError::Connect)?;
            let mut client = Connection::take(conn);
            let report = migrate::migrate(&mut client)
                .await
                .map_err(JobError::Migrate)?;
            if let Some(role) = &app_role {
                roles::grant_app_role(&mut client, role)
                    .await
                    .map_err(JobError::AppRole)?;
                tracing::info!(role = %role.name, "application role granted");
            }
            Ok(report)
        };
        tokio::time::timeout(budget, work)
            .await
            .map_err(|_| JobError::TimedOut(budget))?
    }

    /// Decides the response to a custom-resource request, running migrations when asked to.
    pub async fn respond_to(
        &self,
        request: &CustomResourceRequest,
        context: &Context,
    ) -> CustomResourceResponse {
        let physical_resource_id = request
            .physical_resource_id
            .clone()
            .unwrap_or_else(|| default_physical_resource_id(request));
        let outcome: Result<(String, BTreeMap<String, String>), String> = match request.request_type
        {
            RequestType::Delete => Ok((
                "Nothing to do on delete: the schema stays with the database.".to_owned(),
                BTreeMap::new(),
            )),
            RequestType::Unknown => {
                tracing::error!(request_id = %request.request_id, "unsupported custom-resource RequestType");
                Err(format!(
                    "Unsupported RequestType. {}",
                    log_location(context)
                ))
            }
            RequestType::Create | RequestType::Update => {
                if let Some((from, to)) = downgrade(request) {
                    tracing::warn!(
                        from,
                        to,
                        "MigrationsVersion went down: leaving the schema as it is"
                    );
                    Ok((
                        format!(
                            "MigrationsVersion went from {from:04} to {to:04} (a rollback or a downgrade); the schema \
                             is forward-only and was left as it is."
                        ),
                        BTreeMap::new(),
                    ))
                } else {
                    warn_if_version_differs(request);
                    match self.run(budget(context)).await {
                        Ok(report) => {
                            log_report(&report);
                            Ok((summary(&report), report_data(&report)))
                        }
                        Err(err) => {
                            tracing::error!(error = %log_chain(&err), "migrations failed");
                            Err(format!(
                                "Migrations failed: {err}. {}",
                                log_location(context)
                            ))
                        }
                    }
                }
            }
        };
        let (status, reason, data) = match outcome {
            Ok((reason, data)) => (ResponseStatus::Success, reason, data),
            Err(reason) => (ResponseStatus::Failed, reason, BTreeMap::new()),
        };
        CustomResourceResponse {
            status,
            reason,
            physical_resource_id,
            stack_id: request.stack_id.clone(),
            request_id: request.request_id.clone(),
            logical_resource_id: request.logical_resource_id.clone(),
            no_echo: false,
            data,
        }
    }
}

/// Handles one invocation. For a CloudFormation request, returns the response it delivered;
/// for a direct invocation, the migration report.
pub async fn handle(migrator: &Migrator, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
    let (payload, context) = event.into_parts();
    let invocation = Invocation::from_value(payload).map_err(|e| {
        // The payload may hold a pre-signed URL: log the kind of error, not the payload.
        tracing::error!(category = ?e.classify(), line = e.line(), column = e.column(), "unreadable event");
        HandlerError::BadEvent(e)
    })?;
    match invocation {
        Invocation::CustomResource(request) => {
            tracing::info!(
                request_type = ?request.request_type,
                request_id = %request.request_id,
                logical_resource_id = %request.logical_resource_id,
                "custom-resource request"
            );
            let response = migrator.respond_to(&request, &context).await;
            migrator.responder.send(&request.response_url, &response).await.map_err(|e| {
                tracing::error!(error = %log_chain(&e), host = url_host(&request.response_url), "response not delivered");
                HandlerError::ResponseNotDelivered(e)
            })?;
            tracing::info!(status = ?response.status, "response delivered");
            Ok(serde_json::to_value(&response).unwrap_or(Value::Null))
        }
        Invocation::Direct(DirectInvocation {
            action: Action::Migrate,
        }) => match migrator.run(budget(&context)).await {
            Ok(report) => {
                log_report(&report);
                Ok(report_json(&report))
            }
            Err(err) => {
                tracing::error!(error = %log_chain(&err), "migrations failed");
                Err(HandlerError::MigrationFailed {
                    summary: err.to_string(),
                    logs: log_location(&context),
                })
            }
        },
    }
}

/// Where this invocation's log lines are, for a `Reason` or an error message.
pub fn log_location(context: &Context) -> String {
    format!(
        "See CloudWatch Logs group {} stream {} (request {}).",
        or_unknown(&context.env_config.log_group),
        or_unknown(&context.env_config.log_stream),
        or_unknown(&context.request_id)
    )
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "(unknown)"
    } else {
        s
    }
}

fn default_physical_resource_id(request: &CustomResourceRequest) -> String {
    let stack = request.stack_id.rsplit('/').next().unwrap_or_default();
    format!("{}-{}", request.logical_resource_id, stack)
}

fn version_of(props: &MigrationProperties) -> Option<u32> {
    props
        .migrations_version
        .as_deref()
        .and_then(|v| v.trim().parse().ok())
}

/// `(old, new)` when an update lowers `MigrationsVersion`.
fn downgrade(request: &CustomResourceRequest) -> Option<(u32, u32)> {
    if request.request_type != RequestType::Update {
        return None;
    }
    let old = version_of(request.old_resource_properties.as_ref()?)?;
    let new = version_of(&request.resource_properties)?;
    (new < old).then_some((old, new))
}

fn newest_embedded() -> i32 {
    migrate::embedded().last().map(|m| m.version()).unwrap_or(0)
}

fn warn_if_version_differs(request: &CustomResourceRequest) {
    let embedded = newest_embedded();
    match version_of(&request.resource_properties) {
        Some(v) if i64::from(v) == i64::from(embedded) => {}
        declared => tracing::warn!(
            declared = ?declared,
            embedded,
            "MigrationsVersion differs from this build's newest migration; bump it with migrations/ so \
             updates re-run the migrations"
        ),
    }
}

fn budget(context: &Context) -> Duration {
    if context.deadline == 0 {
        return DEFAULT_BUDGET;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let left_ms = u128::from(context.deadline).saturating_sub(now_ms);
    Duration::from_millis(u64::try_from(left_ms).unwrap_or(u64::MAX))
        .saturating_sub(RESPONSE_RESERVE)
}

fn log_report(report: &MigrationReport) {
    let applied: Vec<i32> = report.applied.iter().map(|m| m.version).collect();
    tracing::info!(
        ?applied,
        already_applied = report.already_applied,
        schema_version = newest_embedded(),
        "migrations done"
    );
}

fn summary(report: &MigrationReport) -> String {
    if report.is_noop() {
        format!(
            "Schema up to date at {:04} ({} migrations already applied).",
            newest_embedded(),
            report.already_applied
        )
    } else {
        let files: Vec<String> = report
            .applied
            .iter()
            .map(|m| format!("{:04}_{}", m.version, m.name))
            .collect();
        format!(
            "Applied {}; schema now at {:04}.",
            files.join(", "),
            newest_embedded()
        )
    }
}

fn report_data(report: &MigrationReport) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("Applied".to_owned(), report.applied.len().to_string()),
        (
            "AlreadyApplied".to_owned(),
            report.already_applied.to_string(),
        ),
        (
            "SchemaVersion".to_owned(),
            format!("{:04}", newest_embedded()),
        ),
    ])
}

/// The direct invocation's answer.
pub fn report_json(report: &MigrationReport) -> Value {
    json!({
        "applied": report.applied.iter().map(|m| json!({ "version": m.version, "name": m.name })).collect::<Vec<_>>(),
        "already_applied": report.already_applied,
        "schema_version": newest_embedded(),
    })
}

fn url_host(url: &str) -> String {
    url.parse::<http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_owned))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Delivering the response

#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    #[error("the ResponseURL is not a valid URL")]
    BadUrl,
    #[error("the ResponseURL is not https")]
    NotHttps,
    #[error("sending the response")]
    Delivery(#[source] OutboundError),
    #[error("the response URL answered {0}")]
    Status(http::StatusCode),
}

/// PUTs custom-resource responses to CloudFormation's pre-signed S3 URLs through the instance's
/// one outbound client (`drop_shared::providers::outbound`): timeouts and 5xx retried after
/// 1 s, 2 s, 4 s; any other answer is final.
#[derive(Clone)]
pub struct ResponseSender {
    https_only: bool,
    policy: RetryPolicy,
}

impl Default for ResponseSender {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseSender {
    /// The production sender: `https` URLs only.
    pub fn new() -> Self {
        Self::build(true)
    }

    /// Also accepts `http` URLs (tests and local runs, where a local server stands in for S3).
    pub fn allowing_plain_http() -> Self {
        Self::build(false)
    }

    fn build(https_only: bool) -> Self {
        Self {
            https_only,
            // S3 answers the PUT with an empty body.
            policy: RetryPolicy {
                max_body_bytes: 64 * 1024,
                ..RetryPolicy::default()
            },
        }
    }

    /// Changes the first retry delay (doubling after each attempt); tests shorten it.
    pub fn with_first_backoff(mut self, first_backoff: Duration) -> Self {
        self.policy.base_delay = first_backoff;
        self
    }

    /// PUTs `response` as JSON to `url`. No `Content-Type`: the URL is signed without one.
    pub async fn send(
        &self,
        url: &str,
        response: &CustomResourceResponse,
    ) -> Result<(), ResponseError> {
        let uri: http::Uri = url.parse().map_err(|_| ResponseError::BadUrl)?;
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if !self.https_only => {}
            _ => return Err(ResponseError::NotHttps),
        }
        let body = Bytes::from(serde_json::to_vec(response).unwrap_or_default());
        let answer = outbound::send_with_retry(
            || {
                http::Request::put(uri.clone())
                    .header(http::header::CONTENT_LENGTH, body.len())
                    .body(body.clone())
            },
            &self.policy,
        )
        .await
        .map_err(ResponseError::Delivery)?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(ResponseError::Status(answer.status))
        }
    }
}
