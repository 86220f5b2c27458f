//! The Sumsub API client: applicants, SDK access tokens and review results.
//!
//! Every request carries `X-App-Token`, `X-App-Access-Ts` (unix seconds) and
//! `X-App-Access-Sig` ([`request_signature`]), signed afresh for each attempt of
//! [`outbound::send_with_retry`] (timeouts, connection errors and 5xx are retried with backoff).
//! Drop sends Sumsub a pseudonymous user id, a name and a date of birth; never a fødselsnummer.
//! Errors and logs carry statuses and Sumsub's error names only: never a token or a body.

use super::signing::request_signature;
use super::webhook::{parse_review, Review};
use crate::providers::outbound::{self, OutboundError, OutboundResponse, RetryPolicy};
use crate::secret::Secret;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode, Uri};
use serde_json::{json, Map, Value};
use std::fmt;
use time::Date;

/// Lifetime asked for an SDK access token, in seconds.
pub const SDK_TOKEN_TTL_SECS: u32 = 600;

/// Why a call to Sumsub failed.
///
/// Suggested mapping: `Unavailable` → 503 `provider_unavailable`; `UnknownApplicant` → 502
/// `provider_error`; `Rejected` with 401/403 and `BadResponse` → 500 (our credentials or
/// Sumsub's contract); other `Rejected` → by case.
#[derive(Debug, thiserror::Error)]
pub enum SumsubError {
    /// Down, timed out, or 5xx after the retries (5xx bodies are not kept).
    #[error("Sumsub is unavailable")]
    Unavailable(#[source] OutboundError),
    /// A 4xx answer; `code` is Sumsub's `errorName` (or `errorCode`) when it sent one.
    #[error("Sumsub refused the request with {status} ({})", code.as_deref().unwrap_or("no error code"))]
    Rejected {
        status: StatusCode,
        code: Option<String>,
    },
    /// A 2xx answer without what the API promises.
    #[error("Sumsub's answer is not valid: {0}")]
    BadResponse(&'static str),
    /// 404 for an applicant Drop holds (by its id or its external user id): Sumsub no longer has
    /// it (deleted there, or a sandbox that started afresh).
    #[error("Sumsub does not know the applicant")]
    UnknownApplicant,
}

/// What Drop tells Sumsub about a new applicant (from BankID). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ApplicantInfo {
    pub first_name: String,
    pub last_name: String,
    pub dob: Date,
}

impl fmt::Debug for ApplicantInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApplicantInfo { .. }")
    }
}

/// A token for Sumsub's Web/Mobile SDK, bound to one user and level.
#[derive(Debug, Clone)]
pub struct SdkToken {
    pub token: Secret<String>,
    pub user_id: String,
}

/// An applicant's review as Sumsub holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicantState {
    /// `review.reviewStatus` (`init`, `pending`, `onHold`, `completed`, ...).
    pub review_status: String,
    /// `review.reviewResult`, once there is one.
    pub review: Option<Review>,
}

/// A client for one Sumsub app token and verification level. Cheap to clone.
#[derive(Clone)]
pub struct SumsubClient {
    base_url: String,
    app_token: Secret<String>,
    secret_key: Secret<String>,
    level_name: String,
    policy: RetryPolicy,
}

impl fmt::Debug for SumsubClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SumsubClient")
            .field("base_url", &self.base_url)
            .field("level_name", &self.level_name)
            .finish_non_exhaustive()
    }
}

impl SumsubClient {
    /// `base_url` is `https://api.sumsub.com` (or a sandbox), without a trailing path.
    pub fn new(
        base_url: String,
        app_token: Secret<String>,
        secret_key: Secret<String>,
        level_name: String,
    ) -> Self {
        Self {
            base_url,
            app_token,
            secret_key,
            level_name,
            policy: RetryPolicy::default(),
        }
    }

    /// Timeouts and retries of every call (tests use millisecond backoff).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn level_name(&self) -> &str {
        &self.level_name
    }

    /// Creates the applicant for `external_user_id` at our level and returns its id. If Sumsub
    /// already has one for that id (409: e.g. an earlier call succeeded but its answer was lost),
    /// returns that one's id instead, so a repeated start never makes a second applicant.
    pub async fn create_applicant(
        &self,
        external_user_id: &str,
        fixed_info: &ApplicantInfo,
    ) -> Result<String, SumsubError> {
        let path = format!(
            "/resources/applicants?levelName={}",
            encode(&self.level_name)
        );
        let dob = fixed_info.dob;
        let body = json!({
            "externalUserId": external_user_id,
            "fixedInfo": {
                "firstName": fixed_info.first_name,
                "lastName": fixed_info.last_name,
                "dob": format!("{:04}-{:02}-{:02}", dob.year(), u8::from(dob.month()), dob.day()),
            },
        });
        let response = self.call(Method::POST, &path, Some(&body)).await?;
        if response.status == StatusCode::CONFLICT {
            return self.applicant_id_by_external_id(external_user_id).await;
        }
        applicant_id(&success(response)?)
    }

    /// An SDK access token for `external_user_id` at our level, valid [`SDK_TOKEN_TTL_SECS`].
    /// [`SumsubError::UnknownApplicant`] if Sumsub has no applicant for that id.
    pub async fn sdk_access_token(&self, external_user_id: &str) -> Result<SdkToken, SumsubError> {
        let body = json!({
            "userId": external_user_id,
            "levelName": self.level_name,
            "ttlInSecs": SDK_TOKEN_TTL_SECS,
        });
        let response = self
            .call(Method::POST, "/resources/accessTokens/sdk", Some(&body))
            .await?;
        let object = json_object(&applicant_found(response)?)?;
        let token = non_empty_text(&object, "token").ok_or(SumsubError::BadResponse("no token"))?;
        let user_id =
            non_empty_text(&object, "userId").ok_or(SumsubError::BadResponse("no userId"))?;
        Ok(SdkToken {
            token: Secret::new(token),
            user_id,
        })
    }

    /// The applicant's current review (to re-read the truth when a webhook cannot be believed
    /// or looks out of order).
    pub async fn applicant_review(
        &self,
        applicant_id: &str,
    ) -> Result<ApplicantState, SumsubError> {
        let path = format!("/resources/applicants/{}/one", encode(applicant_id));
        let response = self.call(Method::GET, &path, None).await?;
        let object = json_object(&applicant_found(response)?)?;
        let review = object
            .get("review")
            .and_then(Value::as_object)
            .ok_or(SumsubError::BadResponse("no review"))?;
        let review_status = non_empty_text(review, "reviewStatus")
            .ok_or(SumsubError::BadResponse("no review.reviewStatus"))?;
        let result = match review.get("reviewResult") {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                parse_review(value)
                    .map_err(|_| SumsubError::BadResponse("review.reviewResult is not valid"))?,
            ),
        };
        Ok(ApplicantState {
            review_status,
            review: result,
        })
    }

    async fn applicant_id_by_external_id(
        &self,
        external_user_id: &str,
    ) -> Result<String, SumsubError> {
        let path = format!(
            "/resources/applicants/-;externalUserId={}/one",
            encode(external_user_id)
        );
        let response = self.call(Method::GET, &path, None).await?;
        applicant_id(&applicant_found(response)?)
    }

    /// One signed call, retried per the policy. `Ok` for any answer below 500.
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<OutboundResponse, SumsubError> {
        let url = format!("{}{}", self.base_url.trim_end_matches('/'), path_and_query);
        let uri: Uri = url
            .parse()
            .map_err(|e| SumsubError::Unavailable(OutboundError::Request(Box::new(e))))?;
        // Signed exactly as sent (including any path prefix of the base URL).
        let signed_path = uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let has_body = !body.is_empty();
        outbound::send_with_retry(
            || {
                let ts = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
                let signature =
                    request_signature(&self.secret_key, &ts, method.as_str(), &signed_path, &body);
                let mut token = HeaderValue::from_str(self.app_token.expose())?;
                token.set_sensitive(true);
                let mut signature = HeaderValue::from_str(&signature)?;
                signature.set_sensitive(true);
                let mut request = Request::builder()
                    .method(method.clone())
                    .uri(uri.clone())
                    .header("X-App-Token", token)
                    .header("X-App-Access-Ts", ts)
                    .header("X-App-Access-Sig", signature)
                    .header(header::ACCEPT, "application/json");
                if has_body {
                    request = request.header(header::CONTENT_TYPE, "application/json");
                }
                request.body(body.clone())
            },
            &self.policy,
        )
        .await
        .map_err(SumsubError::Unavailable)
    }
}

/// As [`success`], for a call about one applicant: a 404 is [`SumsubError::UnknownApplicant`].
fn applicant_found(response: OutboundResponse) -> Result<OutboundResponse, SumsubError> {
    if response.status == StatusCode::NOT_FOUND {
        tracing::warn!("Sumsub does not know an applicant Drop holds");
        return Err(SumsubError::UnknownApplicant);
    }
    success(response)
}

/// The response if 2xx, else [`SumsubError::Rejected`] with Sumsub's error name.
fn success(response: OutboundResponse) -> Result<OutboundResponse, SumsubError> {
    if response.status.is_success() {
        return Ok(response);
    }
    let error: Option<Map<String, Value>> = serde_json::from_slice(&response.body).ok();
    let field = |name: &str| error.as_ref().and_then(|e| e.get(name));
    let code = match (field("errorName"), field("errorCode")) {
        (Some(Value::String(name)), _) => safe_token(name),
        (_, Some(Value::Number(n))) => safe_token(&n.to_string()),
        _ => None,
    };
    let correlation_id = field("correlationId")
        .and_then(Value::as_str)
        .and_then(safe_token);
    tracing::warn!(
        status = response.status.as_u16(),
        code = code.as_deref().unwrap_or(""),
        correlation_id = correlation_id.as_deref().unwrap_or(""),
        "Sumsub refused a request"
    );
    Err(SumsubError::Rejected {
        status: response.status,
        code,
    })
}

fn json_object(response: &OutboundResponse) -> Result<Map<String, Value>, SumsubError> {
    serde_json::from_slice(&response.body)
        .map_err(|_| SumsubError::BadResponse("not a JSON object"))
}

/// The `id` of an applicant document.
fn applicant_id(response: &OutboundResponse) -> Result<String, SumsubError> {
    non_empty_text(&json_object(response)?, "id").ok_or(SumsubError::BadResponse("no applicant id"))
}

fn non_empty_text(object: &Map<String, Value>, name: &str) -> Option<String> {
    object
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
}

/// An identifier from an error body, reduced to a safe token for errors and logs.
fn safe_token(raw: &str) -> Option<String> {
    let token: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(64)
        .collect();
    (!token.is_empty()).then_some(token)
}

use crate::providers::outbound::percent_encode as encode;

impl SumsubClient {
    /// The client for `config`, with the app token and secret key from Secrets Manager.
    /// Outbound calls retry timeouts and 5xx after 1, 2 and 4 s; each attempt may take 3 s.
    pub async fn from_secrets(
        config: &crate::config::SumsubConfig,
        secrets: &crate::aws::secrets::SecretStore,
    ) -> Result<Self, crate::ApiError> {
        let keys = secrets
            .get_many(&["sumsub-app-token", "sumsub-secret-key"])
            .await?;
        let [app_token, secret_key] = <[_; 2]>::try_from(keys)
            .map_err(|_| crate::ApiError::msg(crate::ErrorCode::Internal, "sumsub keys"))?;
        let policy = RetryPolicy {
            timeout: std::time::Duration::from_secs(3),
            ..RetryPolicy::default()
        };
        Ok(SumsubClient::new(
            config.base_url.clone(),
            app_token,
            secret_key,
            config.level_name.clone(),
        )
        .with_retry_policy(policy))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_percent_encoded() {
        assert_eq!(encode("basic-kyc-level"), "basic-kyc-level");
        assert_eq!(encode("a b;c=d/e?é"), "a%20b%3Bc%3Dd%2Fe%3F%C3%A9");
    }

    #[test]
    fn error_names_are_sanitised() {
        assert_eq!(
            safe_token("app-token-invalid"),
            Some("app-token-invalid".to_owned())
        );
        assert_eq!(safe_token("<b>x</b> y"), Some("bxby".to_owned()));
        assert_eq!(safe_token("  "), None);
    }

    #[test]
    fn applicant_info_never_prints() {
        let info = ApplicantInfo {
            first_name: "Kari".to_owned(),
            last_name: "Nordmann".to_owned(),
            dob: time::macros::date!(1986 - 10 - 15),
        };
        let text = format!("{info:?}");
        assert!(!text.contains("Kari") && !text.contains("1986"), "{text}");
    }
}
