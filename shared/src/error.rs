//! One error type for every function: a stable code for clients, the cause chain for logs.
//!
//! Clients see `{"error": code, "message": ..., "details": [...]}` and nothing else: never a
//! cause, a stack trace or SQL text. The cause chain is written to the log by the router.

use http::StatusCode;
use serde::Serialize;
use std::error::Error as StdError;
use std::fmt;

/// Every error code a client can see. The string form is part of the API contract: never
/// rename one, only add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidJson,
    UnsupportedMediaType,
    PayloadTooLarge,
    ValidationFailed,
    InvalidAmount,
    AmountOutOfRange,
    UnsupportedCurrency,
    UnknownCorridor,
    QuoteExpired,
    IdempotencyKeyReused,
    Unauthorized,
    Forbidden,
    OriginMismatch,
    AccountBlocked,
    Underage,
    /// The BankID sign-in was not at the level Drop requires.
    InsufficientAssurance,
    /// The change needs a BankID sign-in within the last few minutes.
    ReauthenticationRequired,
    InvalidLoginState,
    LoginFailed,
    InvalidCode,
    KycRequired,
    InvalidSignature,
    NotFound,
    MethodNotAllowed,
    Conflict,
    /// The user's consent at their bank has ended (expired, revoked): 409, link the account again.
    ConsentExpired,
    Gone,
    RateLimited,
    ProviderUnavailable,
    /// A provider answered, but not in a way Drop can act on (e.g. it no longer knows a record
    /// Drop holds): 502, not worth retrying at once.
    ProviderError,
    /// The user's bank is not answering, or its circuit breaker is open: 503, retry later.
    BankUnavailable,
    /// The user's bank answered in a way Drop cannot use (or refused): 502, the bank named.
    BankError,
    ServiceUnavailable,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 34] = [
        Self::InvalidJson,
        Self::UnsupportedMediaType,
        Self::PayloadTooLarge,
        Self::ValidationFailed,
        Self::InvalidAmount,
        Self::AmountOutOfRange,
        Self::UnsupportedCurrency,
        Self::UnknownCorridor,
        Self::QuoteExpired,
        Self::IdempotencyKeyReused,
        Self::Unauthorized,
        Self::Forbidden,
        Self::OriginMismatch,
        Self::AccountBlocked,
        Self::Underage,
        Self::InsufficientAssurance,
        Self::ReauthenticationRequired,
        Self::InvalidLoginState,
        Self::LoginFailed,
        Self::InvalidCode,
        Self::KycRequired,
        Self::InvalidSignature,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::ConsentExpired,
        Self::Gone,
        Self::RateLimited,
        Self::ProviderUnavailable,
        Self::ProviderError,
        Self::BankUnavailable,
        Self::BankError,
        Self::ServiceUnavailable,
        Self::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::ValidationFailed => "validation_failed",
            Self::InvalidAmount => "invalid_amount",
            Self::AmountOutOfRange => "amount_out_of_range",
            Self::UnsupportedCurrency => "unsupported_currency",
            Self::UnknownCorridor => "unknown_corridor",
            Self::QuoteExpired => "quote_expired",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::OriginMismatch => "origin_mismatch",
            Self::AccountBlocked => "account_blocked",
            Self::Underage => "underage",
            Self::InsufficientAssurance => "insufficient_assurance",
            Self::ReauthenticationRequired => "reauthentication_required",
            Self::InvalidLoginState => "invalid_login_state",
            Self::LoginFailed => "login_failed",
            Self::InvalidCode => "invalid_code",
            Self::KycRequired => "kyc_required",
            Self::InvalidSignature => "invalid_signature",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::ConsentExpired => "consent_expired",
            Self::Gone => "gone",
            Self::RateLimited => "rate_limited",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::ProviderError => "provider_error",
            Self::BankUnavailable => "bank_unavailable",
            Self::BankError => "bank_error",
            Self::ServiceUnavailable => "service_unavailable",
            Self::Internal => "internal_error",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidJson => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ValidationFailed
            | Self::InvalidAmount
            | Self::AmountOutOfRange
            | Self::UnsupportedCurrency
            | Self::UnknownCorridor
            | Self::QuoteExpired
            | Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized | Self::LoginFailed | Self::InvalidSignature => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden
            | Self::OriginMismatch
            | Self::AccountBlocked
            | Self::Underage
            | Self::InsufficientAssurance
            | Self::ReauthenticationRequired
            | Self::KycRequired => StatusCode::FORBIDDEN,
            Self::InvalidLoginState | Self::InvalidCode => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict | Self::ConsentExpired => StatusCode::CONFLICT,
            Self::Gone => StatusCode::GONE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::ProviderUnavailable | Self::BankUnavailable | Self::ServiceUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::ProviderError | Self::BankError => StatusCode::BAD_GATEWAY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client sees when the error carries none of its own.
    fn default_message(self) -> &'static str {
        match self {
            Self::InvalidJson => "The request body is not valid JSON.",
            Self::UnsupportedMediaType => "The request body must be application/json.",
            Self::PayloadTooLarge => "The request body is too large.",
            Self::ValidationFailed => "The request is not valid.",
            Self::InvalidAmount => "The amount is not a valid amount of money.",
            Self::AmountOutOfRange => "The amount is outside the allowed range.",
            Self::UnsupportedCurrency => "The currency is not supported.",
            Self::UnknownCorridor => "Drop does not send money to that country.",
            Self::QuoteExpired => "The quote has expired; ask for a new one.",
            Self::IdempotencyKeyReused => {
                "This Idempotency-Key was already used with a different request."
            }
            Self::Unauthorized => "Sign in to continue.",
            Self::Forbidden => "You are not allowed to do this.",
            Self::OriginMismatch => "This request must come from the Drop web app.",
            Self::AccountBlocked => "This account is blocked; contact Drop's support.",
            Self::Underage => "You must be 18 or older to use Drop.",
            Self::InsufficientAssurance => "Sign in with BankID at the high security level.",
            Self::ReauthenticationRequired => {
                "Confirm with BankID first: sign in again at GET /v1/auth/bankid/start."
            }
            Self::InvalidLoginState => {
                "This sign-in is unknown, expired or already used; start again."
            }
            Self::LoginFailed => "BankID sign-in could not be completed; start again.",
            Self::InvalidCode => "This sign-in code is unknown, expired or already used.",
            Self::KycRequired => "Verify your identity before sending money.",
            Self::InvalidSignature => "The request's signature is missing or wrong.",
            Self::NotFound => "Not found.",
            Self::MethodNotAllowed => "This method is not allowed on this resource.",
            Self::Conflict => "The request conflicts with the current state.",
            Self::ConsentExpired => "Your consent at your bank has ended; link the account again.",
            Self::Gone => "This endpoint is gone.",
            Self::RateLimited => "Too many requests; try again later.",
            Self::ProviderUnavailable => {
                "A provider Drop depends on is unavailable; try again later."
            }
            Self::ProviderError => {
                "A provider Drop depends on answered in a way Drop cannot use; contact support."
            }
            Self::BankUnavailable => "Your bank is not answering; try again later.",
            Self::BankError => "Your bank answered in a way Drop cannot use; try again later.",
            Self::ServiceUnavailable => "The service is unavailable; try again later.",
            Self::Internal => "Something went wrong on our side.",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// JSON path of the field, e.g. `amount` or `recipient.iban`.
    pub field: String,
    /// A stable code for the problem with this field.
    pub code: String,
    pub message: String,
}

impl ErrorDetail {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable error code, e.g. `validation_failed`.
    #[schema(schema_with = error_codes)]
    pub error: &'static str,
    pub message: String,
    pub details: Vec<ErrorDetail>,
}

/// Every [`ErrorCode`], as the document's enum for [`ErrorBody::error`].
fn error_codes() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some("Stable error code, e.g. `validation_failed`."))
        .enum_values(Some(ErrorCode::ALL.map(ErrorCode::as_str)))
        .build()
}

pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An error on its way to a client. Build with a constructor, add a cause with [`ApiError::with_source`].
pub struct ApiError {
    pub code: ErrorCode,
    message: Option<String>,
    pub details: Vec<ErrorDetail>,
    /// Seconds, for `Retry-After` on 429 and 503.
    pub retry_after: Option<u64>,
    source: Option<BoxError>,
}

impl ApiError {
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: None,
            details: Vec::new(),
            retry_after: None,
            source: None,
        }
    }

    pub fn msg(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            message: Some(message.into()),
            ..Self::new(code)
        }
    }

    /// A failure of ours: the client sees `internal_error`, the log sees `source`.
    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self::new(ErrorCode::Internal).with_source(source)
    }

    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn with_detail(mut self, detail: ErrorDetail) -> Self {
        self.details.push(detail);
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    pub fn message(&self) -> &str {
        self.message
            .as_deref()
            .unwrap_or_else(|| self.code.default_message())
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.as_str(),
            message: self.message().to_owned(),
            details: self.details.clone(),
        }
    }

    /// The cause chain, outermost first, for the log only (see [`chain_parts`]).
    pub fn cause_chain(&self) -> Vec<String> {
        self.source
            .as_deref()
            .map(|e| chain_parts(e))
            .unwrap_or_default()
    }
}

/// An error and its causes, outermost first, safe to log: a PostgreSQL error is given as its
/// SQLSTATE, message and the names of the table, column and constraint — never its DETAIL or
/// HINT, which quote row values (a fødselsnummer hash, a name, an amount).
pub fn chain_parts(err: &(dyn StdError + 'static)) -> Vec<String> {
    let mut parts = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(db) = e
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(|pg| pg.as_db_error())
        {
            let mut text = format!("SQLSTATE {} {}", db.code().code(), db.message());
            for (what, name) in [
                ("table", db.table()),
                ("column", db.column()),
                ("constraint", db.constraint()),
            ] {
                if let Some(name) = name {
                    text.push_str(&format!(" ({what} {name})"));
                }
            }
            parts.push(text);
            break;
        }
        if e.downcast_ref::<tokio_postgres::error::DbError>().is_some() {
            break;
        }
        parts.push(e.to_string());
        next = e.source();
    }
    parts
}

/// [`chain_parts`] joined into one line.
pub fn log_chain(err: &(dyn StdError + 'static)) -> String {
    chain_parts(err).join(": ")
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("code", &self.code)
            .field("message", &self.message())
            .field("details", &self.details)
            .field("causes", &self.cause_chain())
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message())
    }
}

impl StdError for ApiError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl From<tokio_postgres::Error> for ApiError {
    /// The database restarting or shutting down, a connection that died under us (a frozen
    /// Lambda's idle connection, a failover), or a statement cancelled by `statement_timeout`
    /// is a passing fault the client may retry (503); anything else is ours.
    fn from(err: tokio_postgres::Error) -> Self {
        if crate::store::pool::is_unavailable(&err)
            || err.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
        {
            Self::new(ErrorCode::ServiceUnavailable)
                .with_retry_after(1)
                .with_source(err)
        } else {
            Self::internal(err)
        }
    }
}

impl From<crate::store::pool::DbError> for ApiError {
    /// No connection, secret or answer to be had in time is a passing fault (503, retry); a
    /// query's error is judged as above; anything else is ours.
    fn from(err: crate::store::pool::DbError) -> Self {
        use crate::store::pool::DbError as E;
        match err {
            E::Query(e) => Self::from(e),
            E::Pool(_) | E::Secret(_) | E::TimedOut(_) => Self::new(ErrorCode::ServiceUnavailable)
                .with_retry_after(1)
                .with_source(err),
            other => Self::internal(other),
        }
    }
}

impl From<crate::domain::money::MoneyError> for ApiError {
    fn from(err: crate::domain::money::MoneyError) -> Self {
        use crate::domain::money::MoneyError as E;
        let code = match err {
            E::NotADecimalString | E::TooManyDecimals | E::NotPositive => ErrorCode::InvalidAmount,
            E::TooLarge => ErrorCode::AmountOutOfRange,
            E::UnsupportedCurrency => ErrorCode::UnsupportedCurrency,
        };
        Self::msg(code, format!("The {}.", err))
    }
}

impl From<crate::domain::quote::PricingError> for ApiError {
    fn from(err: crate::domain::quote::PricingError) -> Self {
        use crate::domain::quote::PricingError as E;
        match err {
            E::OutOfRange { min, max } => Self::msg(
                ErrorCode::AmountOutOfRange,
                format!("The amount must be between {min} and {max} NOK."),
            ),
            E::WrongSendCurrency => {
                Self::msg(ErrorCode::UnsupportedCurrency, "Payments are sent in NOK.")
            }
            E::RateMismatch { .. } | E::BadRate => Self::internal(err),
        }
    }
}

impl From<crate::domain::limits::LimitError> for ApiError {
    fn from(err: crate::domain::limits::LimitError) -> Self {
        Self::msg(ErrorCode::AmountOutOfRange, format!("The {err}."))
    }
}

impl From<crate::store::users::UserError> for ApiError {
    fn from(err: crate::store::users::UserError) -> Self {
        match err {
            crate::store::users::UserError::Db(db) => Self::from(db),
            other => Self::internal(other),
        }
    }
}

impl From<crate::providers::sumsub::SumsubError> for ApiError {
    /// Sumsub down or answering nonsense is a 503 the client may retry; Sumsub no longer
    /// knowing an applicant Drop stored is a 502; Sumsub refusing our signed request is our
    /// configuration's fault (500).
    fn from(err: crate::providers::sumsub::SumsubError) -> Self {
        use crate::providers::sumsub::SumsubError as E;
        match err {
            E::Unavailable(_) | E::BadResponse(_) => Self::new(ErrorCode::ProviderUnavailable)
                .with_retry_after(30)
                .with_source(err),
            E::UnknownApplicant => Self::new(ErrorCode::ProviderError).with_source(err),
            E::Rejected { .. } => Self::internal(err),
        }
    }
}

impl From<crate::providers::bank::BankError> for ApiError {
    /// The bank down or its breaker open is a 503 `bank_unavailable` the client may retry; an
    /// answer Drop cannot use (malformed, a refusal, an SCA approach it does not support, an
    /// initiation whose outcome is unknown) is a 502 `bank_error` naming the bank; a consent
    /// the bank no longer honours is a 409 (link the account again); a consent's daily reads
    /// used up is a 429; a request Drop should never have built is ours (500).
    fn from(err: crate::providers::bank::BankError) -> Self {
        use crate::providers::bank::BankError as E;
        let name = err
            .bank()
            .map(|id| {
                crate::domain::bank::BankDirectory::builtin()
                    .get(id)
                    .map_or_else(|| id.to_string(), |b| b.name.clone())
            })
            .unwrap_or_else(|| "The bank".to_owned());
        let api = match &err {
            E::Unavailable { retry_after, .. } => Self::msg(
                ErrorCode::BankUnavailable,
                format!("{name} is not answering; try again later."),
            )
            .with_retry_after(retry_after.map_or(30, |d| d.as_secs().max(1))),
            E::OutcomeUnknown { .. } => Self::msg(
                ErrorCode::BankError,
                format!("{name} did not confirm the payment; Drop is checking its status."),
            ),
            E::BadResponse { .. } | E::Rejected { .. } | E::UnsupportedScaApproach { .. } => {
                Self::msg(
                    ErrorCode::BankError,
                    format!("{name} answered in a way Drop cannot use."),
                )
            }
            E::ConsentNotValid { .. } => Self::msg(
                ErrorCode::ConsentExpired,
                format!("Your consent at {name} is no longer valid; link the account again."),
            ),
            E::AccessExceeded { .. } => Self::msg(
                ErrorCode::RateLimited,
                format!("{name} allows no more reads today without you present."),
            ),
            E::InvalidRequest(_) => Self::new(ErrorCode::Internal),
        };
        api.with_source(err)
    }
}

impl From<crate::providers::bankid::OidcError> for ApiError {
    /// The provider being down is a 503; a sign-in that does not verify is the user's to
    /// restart (401 `login_failed`, the reason in the details); our own setup failing is a 500.
    fn from(err: crate::providers::bankid::OidcError) -> Self {
        use crate::providers::bankid::OidcError as E;
        let reason = match &err {
            E::Provider(_) | E::BadProviderResponse { .. } => {
                return Self::new(ErrorCode::ProviderUnavailable)
                    .with_retry_after(30)
                    .with_source(err)
            }
            E::ClientRejected { .. } | E::Random => return Self::internal(err),
            E::InsufficientAssurance => {
                return Self::new(ErrorCode::InsufficientAssurance).with_source(err)
            }
            E::TokenRejected { .. } => "code_rejected",
            E::InvalidIdToken(_) => "invalid_id_token",
            E::InvalidUserinfo(_) => "invalid_userinfo",
            E::MissingClaim(_) => "missing_claim",
            E::InvalidClaim(_) => "invalid_claim",
            E::InvalidNationalId(_) => "invalid_national_id",
            E::AuthorizationFailed { .. } => "cancelled_or_refused",
            E::InvalidAuthorizationResponse(_) => "invalid_callback",
        };
        Self::new(ErrorCode::LoginFailed)
            .with_detail(ErrorDetail::new("bankid", reason, "BankID sign-in failed."))
            .with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case_and_map_to_client_or_server_errors() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }

    #[test]
    fn bank_errors_get_stable_codes_and_name_the_bank() {
        use crate::providers::bank::BankError as E;
        let dnb: crate::domain::bank::BankId = "dnb".parse().unwrap_or_else(|_| unreachable!());
        let cases = [
            (
                E::Unavailable {
                    bank: dnb.clone(),
                    retry_after: Some(std::time::Duration::from_secs(42)),
                    source: None,
                },
                503,
                "bank_unavailable",
            ),
            (
                E::BadResponse {
                    bank: dnb.clone(),
                    reason: "not a JSON answer",
                },
                502,
                "bank_error",
            ),
            (
                E::Rejected {
                    bank: dnb.clone(),
                    status: StatusCode::FORBIDDEN,
                    code: Some("SERVICE_BLOCKED".into()),
                },
                502,
                "bank_error",
            ),
            (
                E::OutcomeUnknown {
                    bank: dnb.clone(),
                    request_id: uuid::Uuid::nil(),
                    source: None,
                },
                502,
                "bank_error",
            ),
            (
                E::UnsupportedScaApproach {
                    bank: dnb.clone(),
                    approach: "EMBEDDED".into(),
                },
                502,
                "bank_error",
            ),
            (
                E::ConsentNotValid {
                    bank: dnb.clone(),
                    expired: true,
                },
                409,
                "consent_expired",
            ),
            (E::AccessExceeded { bank: dnb.clone() }, 429, "rate_limited"),
            (E::InvalidRequest("x"), 500, "internal_error"),
        ];
        for (err, status, code) in cases {
            let what = err.to_string();
            let api = ApiError::from(err);
            assert_eq!(api.status().as_u16(), status, "{what}");
            assert_eq!(api.code.as_str(), code, "{what}");
            if status != 500 {
                assert!(api.message().contains("DNB"), "{what}: {}", api.message());
            }
        }
        let api = ApiError::from(E::Unavailable {
            bank: dnb,
            retry_after: Some(std::time::Duration::from_secs(42)),
            source: None,
        });
        assert_eq!(api.retry_after, Some(42));
    }

    #[test]
    fn body_hides_the_cause_and_the_chain_keeps_it() {
        let io = std::io::Error::other("password=hunter2 in SQL text");
        let err = ApiError::internal(io);
        let body = serde_json::to_string(&err.body()).unwrap_or_default();
        assert!(body.contains("internal_error"));
        assert!(!body.contains("hunter2"));
        assert_eq!(
            err.cause_chain(),
            vec!["password=hunter2 in SQL text".to_owned()]
        );
    }
}
