//! A BankID sandbox: an OpenID Connect provider that behaves like BankID's OIDC service, for
//! `cargo xtask dev` and tests on this machine. It is not BankID and signs nothing real.
//!
//! What it shares with BankID (see DESIGN.md, "BankID specifics"): the authorization code flow
//! with mandatory PKCE S256, `client_secret_basic` at the token endpoint, RS256 ID tokens with
//! `acr = urn:bankid:bid`, a pairwise `sub` and the stable `bankid_altsub`, and a userinfo
//! endpoint that answers with a signed JWT carrying the fødselsnummer in `nnin_altsub` (never
//! in the ID token). Instead of a BankID app it shows a page listing [`test_persons`].
//!
//! Endpoints, under the issuer's path: `/.well-known/openid-configuration`, `/authorize`,
//! `/authorize/choose`, `/token`, `/userinfo`, `/jwks`.

use axum::extract::Request;
use axum::serve::ListenerExt;
use http::Method;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

mod authorize;
mod claims;
mod clock;
mod crypto;
mod discovery;
mod keys;
mod persons;
mod store;
mod token;
mod userinfo;
mod web;

#[cfg(test)]
mod tests;

pub use persons::{test_persons, TestPerson};

use clock::Clock;
use keys::SigningKey;
use store::Store;
use web::Reply;

/// The one client the sandbox knows, and where it lives.
#[derive(Clone)]
pub struct SandboxConfig {
    /// The issuer identifier, e.g. `http://127.0.0.1:3002`; endpoints hang under its path.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The client's registered redirect URIs, compared exactly.
    pub redirect_uris: Vec<String>,
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

/// Serves the sandbox (an axum app) on `listener` until `shutdown` resolves, then lets the
/// requests under way finish and closes every connection.
///
/// A fresh RSA-2048 signing key is generated first; should that fail, the error is logged and
/// the sandbox does not serve.
pub async fn serve(
    listener: TcpListener,
    config: SandboxConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    run(listener, config, Clock::default(), shutdown).await;
}

/// Everything a request handler needs.
pub(crate) struct Sandbox {
    config: SandboxConfig,
    /// The issuer's path without a trailing slash ("" for `http://host:port`).
    base_path: String,
    key: SigningKey,
    store: Store,
    clock: Clock,
}

impl Sandbox {
    /// The absolute URL of one of the sandbox's endpoints.
    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.config.issuer.trim_end_matches('/'))
    }
}

/// The path part of an issuer URL, without a trailing slash.
fn issuer_path(issuer: &str) -> String {
    let after_scheme = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map_or("", |i| &after_scheme[i..])
        .trim_end_matches('/')
        .to_owned()
}

pub(crate) async fn run(
    listener: TcpListener,
    config: SandboxConfig,
    clock: Clock,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let key = match SigningKey::generate() {
        Ok(key) => key,
        Err(err) => {
            tracing::error!(error = %err, "bankid sandbox: no signing key, not serving");
            return;
        }
    };
    let sandbox = Arc::new(Sandbox {
        base_path: issuer_path(&config.issuer),
        config,
        key,
        store: Store::new(),
        clock,
    });
    tracing::info!(issuer = %sandbox.config.issuer, "bankid sandbox: serving (not real BankID)");

    // One handler for every path: the sandbox answers unknown paths and methods itself, in
    // its own shapes.
    let app = axum::Router::new().fallback(move |req: Request| {
        let sandbox = sandbox.clone();
        async move { route(&sandbox, req).await }
    });
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::warn!(error = %err, "bankid sandbox: serving failed");
    }
}

/// Dispatches one request by path and method.
async fn route(sandbox: &Sandbox, req: Request) -> Reply {
    let Some(path) = req.uri().path().strip_prefix(sandbox.base_path.as_str()) else {
        return web::not_found();
    };
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    let post = req.method() == Method::POST;
    match path {
        "/.well-known/openid-configuration" if get => discovery::configuration(sandbox),
        "/jwks" if get => discovery::jwks(sandbox),
        "/authorize" if get => authorize::start(sandbox, req.uri().query().unwrap_or("")),
        "/authorize/choose" if post => authorize::choose(sandbox, req).await,
        "/token" if post => token::exchange(sandbox, req).await,
        "/userinfo" if get || post => userinfo::userinfo(sandbox, req.headers()),
        "/.well-known/openid-configuration" | "/jwks" | "/authorize" => {
            web::method_not_allowed("GET")
        }
        "/authorize/choose" | "/token" => web::method_not_allowed("POST"),
        "/userinfo" => web::method_not_allowed("GET, POST"),
        _ => web::not_found(),
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn issuer_paths() {
        assert_eq!(issuer_path("http://127.0.0.1:3002"), "");
        assert_eq!(issuer_path("http://127.0.0.1:3002/"), "");
        assert_eq!(issuer_path("http://127.0.0.1:3002/bankid/"), "/bankid");
    }

    #[test]
    fn debug_hides_the_secret() {
        let config = SandboxConfig {
            issuer: "http://i".into(),
            client_id: "c".into(),
            client_secret: "very-secret".into(),
            redirect_uris: vec![],
        };
        assert!(!format!("{config:?}").contains("very-secret"));
    }
}
