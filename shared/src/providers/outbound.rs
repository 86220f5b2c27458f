//! Outbound HTTP(S) to providers (BankID, Sumsub, the open-banking ASPSP, CloudFormation's
//! response URL): one client per instance, built on first use, with a timeout per attempt,
//! retries with backoff and a cap on response bodies.
//!
//! - One `reqwest` client (rustls with aws-lc-rs, WebPKI roots, HTTP/1.1, no proxy, no
//!   redirects followed) shared by every provider and kept in a `OnceLock`: building it (root
//!   store, TLS configuration) costs init time that many invocations never need, so the first
//!   request pays for it.
//! - [`send_with_retry`] retries what may pass (timeouts, connection and transport errors, 5xx)
//!   after 1 s, 2 s and 4 s ("Outbound calls" in the design), and nothing else: a 4xx is an
//!   answer, returned to the caller. A request that must not reach the provider twice (a
//!   payment initiation) is sent with [`send_with_retry_mode`] and [`Resend::OnlyIfNotSent`]:
//!   tried again only when it provably never left (no connection could be made).
//! - A response body larger than [`RetryPolicy::max_body_bytes`] (1 MiB by default) is refused
//!   while it is streamed in, so a hostile or broken provider cannot exhaust the instance's memory.
//! - Errors name the provider by scheme and host only (never a path or query, which may carry
//!   identifiers or codes) and never carry request headers or bodies, nor a response body: a
//!   5xx page can echo what was sent, so not even an excerpt of it reaches an error or a log.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Request, StatusCode, Uri};
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The instance's client, or why it could not be built (kept: it would fail the same way again).
static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();

/// Default cap on a response body: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long to wait for one attempt and how often to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (3: four attempts in all).
    pub max_retries: u32,
    /// Delay before the first retry; doubled before each next one (1 s, 2 s, 4 s).
    pub base_delay: Duration,
    /// Limit for one attempt: connecting, sending and reading the whole response.
    pub timeout: Duration,
    /// Largest response body accepted.
    pub max_body_bytes: usize,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl RetryPolicy {
    /// One attempt only.
    pub fn no_retry() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The delay before retry number `retry` (0-based): base, 2 × base, 4 × base, ...
    pub fn delay(&self, retry: u32) -> Duration {
        self.base_delay.saturating_mul(1u32 << retry.min(16))
    }
}

/// A complete response: status, headers and the whole body.
#[derive(Clone)]
pub struct OutboundResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl fmt::Debug for OutboundResponse {
    /// Status and size only: bodies and headers may carry tokens or personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundResponse")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl OutboundResponse {
    /// The media type of `content-type`, lower-cased, without parameters (`application/json`).
    pub fn media_type(&self) -> Option<String> {
        let value = self
            .headers
            .get(http::header::CONTENT_TYPE)?
            .to_str()
            .ok()?;
        let media = value.split(';').next()?.trim().to_ascii_lowercase();
        (!media.is_empty()).then_some(media)
    }

    /// `Err(Status)` unless the status is 2xx.
    pub fn error_for_status(self, provider: &Uri) -> Result<Self, OutboundError> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(status_error(provider, &self))
        }
    }
}

fn status_error(provider: &Uri, response: &OutboundResponse) -> OutboundError {
    OutboundError::Status {
        provider: provider_name(provider),
        status: response.status,
    }
}

/// Why an outbound call failed. Names the provider (scheme and host) and never a secret, a
/// request or a response body.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("the request could not be built")]
    Request(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the HTTPS client could not be built: {0}")]
    Client(String),
    #[error("{provider}: no answer within {after:?}")]
    Timeout { provider: String, after: Duration },
    #[error("{provider}: cannot connect")]
    Connect {
        provider: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{provider}: the exchange failed")]
    Transport {
        provider: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{provider}: the response body is larger than {limit} bytes")]
    BodyTooLarge { provider: String, limit: usize },
    #[error("{provider} answered {status}")]
    Status {
        provider: String,
        status: StatusCode,
    },
}

impl OutboundError {
    /// Whether the request provably never reached the provider: it could not be built, or no
    /// connection could be made (DNS, TCP, TLS), so not a byte of it was sent. A timeout or a
    /// broken exchange may have come after the provider read the request.
    pub fn was_not_sent(&self) -> bool {
        matches!(
            self,
            Self::Request(_) | Self::Client(_) | Self::Connect { .. }
        )
    }

    /// Whether another attempt may succeed: timeouts, connection and transport errors, 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Connect { .. } | Self::Transport { .. } => true,
            Self::Status { status, .. } => status.is_server_error(),
            Self::Request(_) | Self::Client(_) | Self::BodyTooLarge { .. } => false,
        }
    }

    /// A `reqwest` failure of one attempt, without the URL (its path or query may carry codes).
    /// (The client sets no timeouts of its own: [`send`] bounds each attempt.)
    fn from_reqwest(provider: &str, error: reqwest::Error) -> Self {
        let (provider, source) = (provider.to_owned(), error.without_url());
        if source.is_connect() {
            Self::Connect { provider, source }
        } else {
            Self::Transport { provider, source }
        }
    }
}

/// `scheme://host[:port]` of a URI, for messages.
pub fn provider_name(uri: &Uri) -> String {
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => format!("{scheme}://{}", authority.as_str()),
        (None, Some(authority)) => authority.as_str().to_owned(),
        _ => "(no host)".to_owned(),
    }
}

fn build_client() -> Result<reqwest::Client, String> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS configuration: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .user_agent(concat!("drop/", env!("CARGO_PKG_VERSION")))
        // A redirect is an answer for the caller (none of the providers' APIs redirects).
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        // A frozen Lambda instance wakes up with connections the provider closed long ago.
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// The instance's client, built by the first caller.
fn client() -> Result<&'static reqwest::Client, OutboundError> {
    CLIENT
        .get_or_init(build_client)
        .as_ref()
        .map_err(|e| OutboundError::Client(e.clone()))
}

/// One attempt: sends `request` and reads the whole response within `policy.timeout`, the body
/// capped at `policy.max_body_bytes`. Any status is `Ok`.
pub async fn send(
    request: Request<Bytes>,
    policy: &RetryPolicy,
) -> Result<OutboundResponse, OutboundError> {
    let provider = provider_name(request.uri());
    let client = client()?;
    let request = reqwest::Request::try_from(request)
        .map_err(|e| OutboundError::Request(Box::new(e.without_url())))?;
    let (limit, after) = (policy.max_body_bytes, policy.timeout);
    let failed = |e| OutboundError::from_reqwest(&provider, e);
    let too_large = || OutboundError::BodyTooLarge {
        provider: provider.clone(),
        limit,
    };
    let exchange = async {
        let mut response = client.execute(request).await.map_err(failed)?;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse {
            status: response.status(),
            headers: std::mem::take(response.headers_mut()),
            body: body.freeze(),
        })
    };
    tokio::time::timeout(after, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(OutboundError::Timeout {
                provider: provider.clone(),
                after,
            })
        })
}

/// Which failed attempts another attempt may follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resend {
    /// Timeouts, connection and transport errors and 5xx ([`OutboundError::is_retryable`]):
    /// for reads and other requests that may safely arrive twice.
    #[default]
    WhenRetryable,
    /// Only a request that provably never reached the provider
    /// ([`OutboundError::was_not_sent`]): for one that must not arrive twice, such as a
    /// payment initiation. Any other failure is the caller's to resolve.
    OnlyIfNotSent,
}

/// Sends the request `make` builds (once per attempt), retrying timeouts, connection and
/// transport errors and 5xx answers up to `policy.max_retries` times with doubling delays.
///
/// `Ok` for any answer below 500 (the caller decides what a 4xx means); after the last attempt a
/// 5xx is `Err(Status)`.
pub async fn send_with_retry<F>(
    make: F,
    policy: &RetryPolicy,
) -> Result<OutboundResponse, OutboundError>
where
    F: FnMut() -> http::Result<Request<Bytes>>,
{
    send_with_retry_mode(make, policy, Resend::WhenRetryable).await
}

/// As [`send_with_retry`], retrying only what `mode` allows. With [`Resend::OnlyIfNotSent`] a
/// 5xx, a timeout or a broken exchange is returned at once (`Err`).
pub async fn send_with_retry_mode<F>(
    mut make: F,
    policy: &RetryPolicy,
    mode: Resend,
) -> Result<OutboundResponse, OutboundError>
where
    F: FnMut() -> http::Result<Request<Bytes>>,
{
    let mut retry = 0u32;
    loop {
        let request = make().map_err(|e| OutboundError::Request(Box::new(e)))?;
        let uri = request.uri().clone();
        let error = match send(request, policy).await {
            Ok(response) if response.status.is_server_error() => status_error(&uri, &response),
            Ok(response) => return Ok(response),
            Err(e) => e,
        };
        let may_retry = match mode {
            Resend::WhenRetryable => error.is_retryable(),
            Resend::OnlyIfNotSent => error.was_not_sent() && error.is_retryable(),
        };
        if !may_retry || retry >= policy.max_retries {
            return Err(error);
        }
        let delay = policy.delay(retry);
        tracing::warn!(
            provider = %provider_name(&uri),
            attempt = retry + 1,
            retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            error = %crate::error::log_chain(&error),
            "outbound call failed; retrying"
        );
        tokio::time::sleep(delay).await;
        retry += 1;
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters: safe in a path segment,
/// a matrix parameter, a query value and an `application/x-www-form-urlencoded` body.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base() {
        let p = RetryPolicy::default();
        assert_eq!(
            (0..3).map(|r| p.delay(r)).collect::<Vec<_>>(),
            vec![
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(4)
            ]
        );
        assert_eq!(p.max_retries, 3);
        assert_eq!(p.timeout, Duration::from_secs(5));
    }

    #[test]
    fn provider_name_drops_path_and_query() {
        let uri: Uri = "https://oidc.example.no:8443/token?code=secret"
            .parse()
            .unwrap_or_default();
        assert_eq!(provider_name(&uri), "https://oidc.example.no:8443");
    }

    #[test]
    fn only_passing_faults_are_retried() {
        let status = |s: u16| OutboundError::Status {
            provider: "p".into(),
            status: StatusCode::from_u16(s).unwrap_or(StatusCode::OK),
        };
        assert!(status(500).is_retryable());
        assert!(status(503).is_retryable());
        assert!(!status(400).is_retryable());
        assert!(!status(429).is_retryable());
        assert!(OutboundError::Timeout {
            provider: "p".into(),
            after: Duration::from_secs(1)
        }
        .is_retryable());
        assert!(!OutboundError::BodyTooLarge {
            provider: "p".into(),
            limit: 1
        }
        .is_retryable());
    }

    #[test]
    fn only_a_request_that_could_not_be_built_or_connected_was_not_sent() {
        let status = OutboundError::Status {
            provider: "p".into(),
            status: StatusCode::SERVICE_UNAVAILABLE,
        };
        assert!(!status.was_not_sent());
        assert!(!OutboundError::Timeout {
            provider: "p".into(),
            after: Duration::from_secs(1)
        }
        .was_not_sent());
        assert!(OutboundError::Client("no TLS".into()).was_not_sent());
    }
}
