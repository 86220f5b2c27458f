//! A Sumsub sandbox: a local stand-in for Sumsub's applicant API and its webhooks, for
//! `cargo xtask dev` and tests on this machine. It is not Sumsub and checks no documents.
//!
//! What it shares with Sumsub: app-token authentication on every request (`X-App-Token`,
//! `X-App-Access-Ts`, `X-App-Access-Sig` = hex HMAC-SHA256 of ts + method + path + body),
//! the applicant and token shapes, error bodies `{"code", "description"}`, and webhooks signed
//! with `X-Payload-Digest` (hex HMAC-SHA256 of the body, `X-Payload-Digest-Alg:
//! HMAC_SHA256_HEX`). Instead of a person uploading documents, issuing an SDK token starts a
//! simulated review whose outcome follows the person's names (see the `review` module).
//!
//! Endpoints:
//! - `POST /resources/applicants?levelName=…` — create (201; 409 for a known externalUserId)
//! - `GET /resources/applicants/{applicantId}/one`,
//!   `GET /resources/applicants/-;externalUserId={id}/one` — the applicant and its review
//! - `POST /resources/accessTokens/sdk` — a WebSDK token; starts the simulated review
//! - `POST /sandbox/applicants/{applicantId}/review` — sandbox only: decide a review now
//! - `GET /sandbox/requests` — sandbox only: the requests it was sent (read-only)
//!
//! All state is in memory and bounded; it is gone when the sandbox stops unless
//! [`SandboxConfig::state_file`] names a file to keep it in.

use axum::extract::Request;
use axum::serve::ListenerExt;
use http::Method;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

mod applicants;
mod auth;
mod clock;
mod ids;
mod received;
mod review;
mod signing;
mod simulation;
mod store;
mod tokens;
mod web;
mod webhook;

#[cfg(test)]
mod tests;

use received::Received;
use store::Store;
use web::Reply;
use webhook::Webhooks;

/// How long a simulated review takes unless configured otherwise.
pub const DEFAULT_REVIEW_DELAY: Duration = Duration::from_secs(3);

/// The one app the sandbox knows, and where its webhooks go.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Expected in `X-App-Token`.
    pub app_token: String,
    /// Signs requests (`X-App-Access-Sig`).
    pub secret_key: String,
    /// Where webhooks are POSTed (plain `http`).
    pub webhook_url: String,
    /// Signs webhooks (`X-Payload-Digest`).
    pub webhook_secret: String,
    /// From SDK token to review webhook; [`DEFAULT_REVIEW_DELAY`] by default.
    pub review_delay: Duration,
    /// A JSON file the applicants are kept in across runs; `None`: in memory only.
    pub state_file: Option<PathBuf>,
}

impl Default for SandboxConfig {
    /// Empty credentials (which [`serve`] refuses) and the default review delay.
    fn default() -> Self {
        Self {
            app_token: String::new(),
            secret_key: String::new(),
            webhook_url: String::new(),
            webhook_secret: String::new(),
            review_delay: DEFAULT_REVIEW_DELAY,
            state_file: None,
        }
    }
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("app_token", &"***")
            .field("secret_key", &"***")
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &"***")
            .field("review_delay", &self.review_delay)
            .field("state_file", &self.state_file)
            .finish()
    }
}

/// Serves the sandbox (an axum app) on `listener` until `shutdown` resolves, then lets the
/// requests under way finish, closes every connection and stops every review and webhook still
/// under way.
///
/// An empty `app_token` or `secret_key` would let anyone in; the sandbox then logs an error and
/// does not serve.
pub async fn serve(
    listener: TcpListener,
    config: SandboxConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    if config.app_token.is_empty() || config.secret_key.is_empty() {
        tracing::error!("sumsub sandbox: app_token and secret_key must be set; not serving");
        return;
    }
    let sandbox = Arc::new(Sandbox {
        webhooks: Webhooks::new(&config.webhook_url, &config.webhook_secret),
        store: config
            .state_file
            .clone()
            .map_or_else(Store::default, Store::open),
        received: Received::default(),
        config,
    });
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "sumsub sandbox: serving (not real Sumsub)");
    }

    // One handler for every path: the sandbox answers unknown paths and methods itself, in
    // Sumsub's error shape.
    let app = {
        let sandbox = sandbox.clone();
        axum::Router::new().fallback(move |req: Request| {
            let sandbox = sandbox.clone();
            async move { handle(&sandbox, req).await }
        })
    };
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::warn!(error = %err, "sumsub sandbox: serving failed");
    }
    sandbox.webhooks.shutdown().await;
}

/// Everything a request handler needs.
pub(crate) struct Sandbox {
    config: SandboxConfig,
    store: Store,
    received: Received,
    webhooks: Webhooks,
}

/// Reads the body, checks the signature over it, then routes.
async fn handle(sandbox: &Arc<Sandbox>, req: Request) -> Reply {
    let (parts, body) = req.into_parts();
    let Some(body) = web::read_body(body).await else {
        return web::error(
            http::StatusCode::PAYLOAD_TOO_LARGE,
            "Request body is too large",
        );
    };
    let path_with_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    if parts.uri.path() != "/sandbox/requests" {
        sandbox
            .received
            .record(parts.method.as_str(), path_with_query, &body);
    }
    let request = auth::SignedRequest {
        headers: &parts.headers,
        method: parts.method.as_str(),
        path_with_query,
        body: &body,
    };
    if let Err(description) = auth::check(&sandbox.config, &request, clock::unix_now()) {
        tracing::info!(method = %parts.method, path = parts.uri.path(), reason = description, "sumsub sandbox: request refused");
        return web::error(http::StatusCode::UNAUTHORIZED, description);
    }
    route(
        sandbox,
        &parts.method,
        parts.uri.path(),
        parts.uri.query(),
        &body,
    )
}

/// Dispatches one authenticated request by path and method.
fn route(
    sandbox: &Arc<Sandbox>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Reply {
    let get = matches!(*method, Method::GET | Method::HEAD);
    let post = *method == Method::POST;
    match path {
        "/resources/applicants" if post => return applicants::create(sandbox, query, body),
        "/resources/accessTokens/sdk" if post => return tokens::sdk(sandbox, body),
        "/resources/applicants" | "/resources/accessTokens/sdk" => {
            return web::method_not_allowed("POST")
        }
        "/sandbox/requests" if get => {
            return web::json(http::StatusCode::OK, &sandbox.received.to_json())
        }
        "/sandbox/requests" => return web::method_not_allowed("GET"),
        _ => {}
    }
    let one = path
        .strip_prefix("/resources/applicants/")
        .and_then(|rest| rest.strip_suffix("/one"));
    if let Some(selector) = one {
        if !get {
            return web::method_not_allowed("GET");
        }
        return match selector.strip_prefix("-;externalUserId=") {
            Some(external_user_id) => applicants::by_external_id(sandbox, external_user_id),
            None => applicants::by_id(sandbox, selector),
        };
    }
    let review = path
        .strip_prefix("/sandbox/applicants/")
        .and_then(|rest| rest.strip_suffix("/review"));
    if let Some(applicant_id) = review {
        if !post {
            return web::method_not_allowed("POST");
        }
        return simulation::decide(sandbox, applicant_id, body);
    }
    web::not_found("Not found")
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn debug_hides_the_secrets() {
        let config = SandboxConfig {
            app_token: "app-token-value".into(),
            secret_key: "secret-key-value".into(),
            webhook_url: "http://127.0.0.1:9/webhooks/sumsub".into(),
            webhook_secret: "webhook-secret-value".into(),
            review_delay: Duration::from_millis(200),
            state_file: None,
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("value"), "{debug}");
        assert!(debug.contains("/webhooks/sumsub"));
        assert_eq!(
            SandboxConfig::default().review_delay,
            Duration::from_secs(3)
        );
    }
}
