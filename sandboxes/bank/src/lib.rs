//! A Berlin Group bank sandbox: three NextGenPSD2 1.3.12 banks of the project's own on one
//! HTTP server, for `cargo xtask dev` and tests on this machine. It is not a bank: it holds no
//! money, checks no TPP certificate and signs no request; what it shares with a bank is the
//! spec's requests, answers and statuses, and what a bank checks in what it is sent.
//!
//! # Banks
//! Each bank lives under its id: `{url}/dnb/v1/consents`, `{url}/sparebank1/v1/...`,
//! `{url}/nordea/v1/...`.
//!
//! | id | name | BIC | differences |
//! |---|---|---|---|
//! | `dnb` | DNB (sandbox) | `DNBANOKK` | `_links.scaRedirect` at once; every product |
//! | `sparebank1` | SpareBank 1 (sandbox) | `SPRONO22` | no `instant-sepa-credit-transfers` (404 `PRODUCT_UNKNOWN`); `validUntil` at most 90 days ahead (others: 180) |
//! | `nordea` | Nordea (sandbox) | `NDEANOKK` | explicit authorisation: the 201 carries `_links.startAuthorisation`, and `POST …/authorisations` answers the `scaRedirect` |
//!
//! # Berlin Group endpoints (under `/{bank}`)
//! - `POST /v1/consents`; `GET`, `DELETE /v1/consents/{consentId}`;
//!   `GET /v1/consents/{consentId}/status`; `POST`, `GET /v1/consents/{consentId}/authorisations`;
//!   `GET /v1/consents/{consentId}/authorisations/{authorisationId}`
//! - `GET /v1/accounts` (`?withBalance=true`), `GET /v1/accounts/{resourceId}`,
//!   `GET /v1/accounts/{resourceId}/balances` — with `Consent-ID`
//! - `POST /v1/payments/{product}`; `GET`, `DELETE /v1/payments/{product}/{paymentId}`;
//!   `GET /v1/payments/{product}/{paymentId}/status`;
//!   `POST`, `GET /v1/payments/{product}/{paymentId}/authorisations`;
//!   `GET /v1/payments/{product}/{paymentId}/authorisations/{authorisationId}` — products
//!   `sepa-credit-transfers`, `instant-sepa-credit-transfers`, `cross-border-credit-transfers`
//!   (needs `creditorAgent` and `creditorAddress.country`; answers `transactionFees` NOK 25.00,
//!   `currencyConversionFee` 0.5 % of the amount in NOK at the sandbox's fixed rates, and
//!   `estimatedTotalAmount`) and the domestic `norwegian-domestic-credit-transfers` (NOK, to
//!   `creditorAccount.bban`, an 11-digit account number)
//!
//! Every request needs `X-Request-ID` (a UUID; every answer echoes it). Initiations need
//! `PSU-IP-Address` and `TPP-Redirect-URI` (`TPP-Nok-Redirect-URI` and, for payments,
//! `TPP-Notification-URI` are optional), as does `POST …/authorisations` for the redirect.
//! What does not fit the spec is refused as a bank would: 400 `FORMAT_ERROR` (or
//! `PERIOD_INVALID` for a `validUntil` in the past) in the NextGenPSD2 shape
//! `{"tppMessages":[{"category":"ERROR","code":…,"text":…}]}`. Initiations answer 201 with
//! `ASPSP-SCA-Approach: REDIRECT` and `Location`.
//!
//! Account reads without `PSU-IP-Address` (the PSU is not there) count against the consent's
//! `frequencyPerDay` per UTC day (at most 4); one more is 429 `ACCESS_EXCEEDED`.
//!
//! # SCA
//! `scaRedirect` is `{public_url}/{bank}/sca/{authorisationId}`: an HTML page with a form (no
//! script) to choose a test person and approve, reject, or go back to the shop without
//! finishing. The form answers `303 See Other` to `TPP-Redirect-URI` (approved, or back
//! without finishing: nothing changes) or to `TPP-Nok-Redirect-URI` (rejected, or a failed
//! SCA). An authorisation is decided once. After approval a payment is `ACTC` at once, `ACSP`
//! one [`SandboxConfig::status_step`] later and `ACSC` one more step later, computed from
//! timestamps when read; rejected or failed SCA is `RJCT`, and so is SCA not finished within
//! [`SandboxConfig::sca_expiry`] (a consent is then `rejected`).
//!
//! When the initiation gave `TPP-Notification-URI`, each status change is POSTed there as
//! `{"paymentId","transactionStatus","bank"}` with `X-Notification-Timestamp` (Unix seconds)
//! and `X-Notification-Signature`: lower-case hex HMAC-SHA256 with
//! [`SandboxConfig::notification_secret`] over `"<timestamp>." + body`. Delivery is retried a
//! few times and never holds up an answer.
//!
//! # Test persons (the SCA form's `psu`, also read from `PSU-ID`)
//! - `PSU-Successful`: everything succeeds.
//! - `PSU-ScaFailed`: approving fails the SCA (consent `rejected`, payment `RJCT`).
//! - `PSU-Blocked`: approving fails too; any request with `PSU-ID: PSU-Blocked` is 403
//!   `SERVICE_BLOCKED`.
//! - `PSU-ConsentExpired`: an approved consent is valid until yesterday, so it reads `expired`
//!   and account reads are 401 `CONSENT_EXPIRED`.
//! - `PSU-LimitExceeded`: an approved payment is `ACTC`, then `RJCT` at the next step, with a
//!   `psuMessage` saying why.
//! - `PSU-CancellationRefused`: payments succeed; cancelling one is 405 `CANCELLATION_INVALID`.
//!
//! Each person has a "Brukskonto" (NOK 12 345.67) and a "Sparekonto" (NOK 250 000.00) at each
//! bank, under fixed, valid Norwegian account numbers and IBANs (see the `persons` module).
//!
//! # Cancellation
//! `DELETE` of a payment before SCA: 204 and `CANC`; after SCA (`ACTC`, `ACSP`): 202 with
//! `_links.startAuthorisation` (a cancellation authorisation the sandbox never completes);
//! final: 409 `STATUS_INVALID`.
//!
//! # Sandbox-only control API
//! - `GET /sandbox/banks` — the banks, their BICs, products and authorisation style
//! - `POST /sandbox/faults` `{"bank","kind","count"}` — the next `count` Berlin Group requests
//!   to that bank fail: `status500`, `status503` (with a `tppMessages` body), `timeout` (no
//!   answer for [`SandboxConfig::timeout_hold`], or until the sandbox stops), `slow` (the normal
//!   answer after [`SandboxConfig::slow_delay`]), `html` (200 `text/html`), `malformed` (200
//!   JSON without the required fields), `error200` (200 with a `tppMessages` error), `embedded`
//!   (`ASPSP-SCA-Approach: EMBEDDED` and no `scaRedirect`); `DELETE /sandbox/faults` clears
//! - `GET /sandbox/requests` — the Berlin Group requests received, newest last, at most 1000
//!   (`DELETE` clears them)
//! - `POST /sandbox/sca/{authorisationId}` `{"psu","action"}` — the SCA form as JSON; answers
//!   `{"location"}`, where the form's 303 would go
//!
//! All state is in memory and bounded (10 000 consents, payments and authorisations each); it
//! is gone when the sandbox stops unless [`SandboxConfig::state_file`] names a file to keep
//! consents, payments and authorisations in.

use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

mod ais;
mod banks;
mod bg;
mod clock;
mod control;
mod faults;
mod notify;
mod numbers;
mod persons;
mod pis;
mod received;
mod reply;
mod sca;
mod store;
mod wire;

#[cfg(test)]
mod tests;

use faults::Faults;
use received::Received;
use store::{Store, Timing};

/// Default [`SandboxConfig::status_step`].
pub const DEFAULT_STATUS_STEP: Duration = Duration::from_secs(2);
/// Default [`SandboxConfig::sca_expiry`].
pub const DEFAULT_SCA_EXPIRY: Duration = Duration::from_secs(15 * 60);
/// Default [`SandboxConfig::slow_delay`].
pub const DEFAULT_SLOW_DELAY: Duration = Duration::from_millis(1_500);
/// Default [`SandboxConfig::timeout_hold`].
pub const DEFAULT_TIMEOUT_HOLD: Duration = Duration::from_secs(30);

/// How the sandbox runs.
#[derive(Clone)]
pub struct SandboxConfig {
    /// How browsers and tests reach the sandbox, e.g. `http://127.0.0.1:54361` (used in
    /// `_links`, `Location` and `scaRedirect`). Empty: [`serve`] uses its listener's address.
    pub public_url: String,
    /// The HMAC key of notifications; [`serve`] refuses to run without one.
    pub notification_secret: String,
    /// From one payment status to the next after SCA ([`DEFAULT_STATUS_STEP`]).
    pub status_step: Duration,
    /// How long SCA may take before the payment is `RJCT` ([`DEFAULT_SCA_EXPIRY`]).
    pub sca_expiry: Duration,
    /// The delay of the `slow` fault ([`DEFAULT_SLOW_DELAY`]).
    pub slow_delay: Duration,
    /// How long the `timeout` fault holds a request ([`DEFAULT_TIMEOUT_HOLD`]).
    pub timeout_hold: Duration,
    /// A JSON file the consents, payments and authorisations are kept in across runs; `None`:
    /// in memory only.
    pub state_file: Option<PathBuf>,
}

impl Default for SandboxConfig {
    /// No URL and no secret (which [`serve`] refuses), and the default timings.
    fn default() -> Self {
        Self {
            public_url: String::new(),
            notification_secret: String::new(),
            status_step: DEFAULT_STATUS_STEP,
            sca_expiry: DEFAULT_SCA_EXPIRY,
            slow_delay: DEFAULT_SLOW_DELAY,
            timeout_hold: DEFAULT_TIMEOUT_HOLD,
            state_file: None,
        }
    }
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("public_url", &self.public_url)
            .field("notification_secret", &"***")
            .field("status_step", &self.status_step)
            .field("sca_expiry", &self.sca_expiry)
            .field("slow_delay", &self.slow_delay)
            .field("timeout_hold", &self.timeout_hold)
            .field("state_file", &self.state_file)
            .finish()
    }
}

/// Serves the sandbox on `listener` until `shutdown` resolves, then releases the requests a
/// fault holds, lets the requests under way finish, closes every connection and stops every
/// notification still under way.
///
/// Without a notification secret nobody could trust a notification; the sandbox then logs an
/// error and does not serve.
pub async fn serve(
    listener: TcpListener,
    mut config: SandboxConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    if config.notification_secret.is_empty() {
        tracing::error!("bank sandbox: notification_secret must be set; not serving");
        return;
    }
    let addr = listener.local_addr().ok();
    if config.public_url.is_empty() {
        if let Some(addr) = addr {
            config.public_url = format!("http://{addr}");
        }
    }
    let sandbox = Sandbox::new(config);
    if let Some(addr) = addr {
        tracing::info!(%addr, "bank sandbox: serving (not a real bank)");
    }
    let app = app(sandbox.clone());
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let closing = sandbox.clone();
    let shutdown = async move {
        shutdown.await;
        closing.close();
    };
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::warn!(%error, "bank sandbox: serving failed");
    }
    sandbox.close();
    sandbox.stop_jobs().await;
}

/// The sandbox as an axum app, for in-process use. Its notification jobs run on the current
/// Tokio runtime (if any) until the app is dropped. An empty `public_url` makes links relative
/// to the host (`/dnb/v1/...`).
pub fn router(config: SandboxConfig) -> Router {
    if config.notification_secret.is_empty() {
        tracing::warn!(
            "bank sandbox: no notification_secret; notifications are signed with an empty key"
        );
    }
    app(Sandbox::new(config))
}

fn app(sandbox: Arc<Sandbox>) -> Router {
    let berlin_group = Router::new()
        .route("/{bank}/v1/consents", post(ais::create_consent))
        .route(
            "/{bank}/v1/consents/{consent_id}",
            get(ais::get_consent).delete(ais::delete_consent),
        )
        .route(
            "/{bank}/v1/consents/{consent_id}/status",
            get(ais::consent_status),
        )
        .route(
            "/{bank}/v1/consents/{consent_id}/authorisations",
            post(sca::start_consent_authorisation).get(sca::consent_authorisations),
        )
        .route(
            "/{bank}/v1/consents/{consent_id}/authorisations/{authorisation_id}",
            get(sca::consent_sca_status),
        )
        .route("/{bank}/v1/accounts", get(ais::accounts))
        .route("/{bank}/v1/accounts/{account_id}", get(ais::account))
        .route(
            "/{bank}/v1/accounts/{account_id}/balances",
            get(ais::balances),
        )
        .route("/{bank}/v1/{service}/{product}", post(pis::initiate))
        .route(
            "/{bank}/v1/{service}/{product}/{payment_id}",
            get(pis::get_payment).delete(pis::cancel),
        )
        .route(
            "/{bank}/v1/{service}/{product}/{payment_id}/status",
            get(pis::payment_status),
        )
        .route(
            "/{bank}/v1/{service}/{product}/{payment_id}/authorisations",
            post(sca::start_payment_authorisation).get(sca::payment_authorisations),
        )
        .route(
            "/{bank}/v1/{service}/{product}/{payment_id}/authorisations/{authorisation_id}",
            get(sca::payment_sca_status),
        )
        .method_not_allowed_fallback(bg::method_not_allowed)
        .route_layer(axum::middleware::from_fn_with_state(
            sandbox.clone(),
            bg::berlin_group,
        ));
    let pages = Router::new().route(
        "/{bank}/sca/{authorisation_id}",
        get(sca::page_get).post(sca::form),
    );
    let control = Router::new()
        .route("/sandbox/banks", get(control::banks))
        .route(
            "/sandbox/faults",
            post(control::add_fault).delete(control::clear_faults),
        )
        .route(
            "/sandbox/requests",
            get(control::requests).delete(control::clear_requests),
        )
        .route("/sandbox/sca/{authorisation_id}", post(control::sca));
    berlin_group
        .merge(pages)
        .merge(control)
        .fallback(bg::not_found)
        .with_state(sandbox)
}

/// What the notification jobs share with the request handlers.
pub(crate) struct Core {
    pub config: SandboxConfig,
    pub store: Store,
    /// The client notifications are sent with (`None` if it could not be built).
    pub http: Option<reqwest::Client>,
}

impl Core {
    pub(crate) fn timing(&self) -> Timing {
        Timing {
            step_ms: clock::ms(self.config.status_step),
            sca_expiry_ms: clock::ms(self.config.sca_expiry),
        }
    }

    /// A bank's base URL: `{public_url}/{bank}`.
    pub(crate) fn base(&self, bank: &banks::Bank) -> String {
        format!("{}/{}", self.config.public_url, bank.slug)
    }
}

/// Everything a request handler needs.
pub(crate) struct Sandbox {
    pub core: Arc<Core>,
    pub faults: Faults,
    pub received: Received,
    jobs: Mutex<JoinSet<()>>,
    /// True once the sandbox stops: requests held by a fault are released.
    closing: watch::Sender<bool>,
}

/// At most this many notification jobs run at once.
const MAX_JOBS: usize = store::CAPACITY;

impl Sandbox {
    fn new(mut config: SandboxConfig) -> Arc<Self> {
        let trimmed = config.public_url.trim_end_matches('/').len();
        config.public_url.truncate(trimmed);
        let store = Store::open(config.state_file.clone());
        let core = Arc::new(Core {
            http: notify::client(),
            store,
            config,
        });
        let sandbox = Arc::new(Self {
            core,
            faults: Faults::default(),
            received: Received::default(),
            jobs: Mutex::new(JoinSet::new()),
            closing: watch::Sender::new(false),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            for payment_id in notify::unfinished(&sandbox.core) {
                sandbox.start_notifier(&payment_id);
            }
        }
        sandbox
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, JoinSet<()>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// (Re)starts the job that notifies the TPP of a payment's status changes, if the
    /// initiation asked for notifications; an earlier job for the payment stops sending.
    pub(crate) fn start_notifier(&self, payment_id: &str) {
        let Some(generation) = notify::next_generation(&self.core, payment_id) else {
            return;
        };
        let mut jobs = self.jobs();
        while jobs.try_join_next().is_some() {}
        if jobs.len() >= MAX_JOBS {
            tracing::warn!(
                payment_id,
                "bank sandbox: too many notification jobs; this payment is not notified"
            );
            return;
        }
        jobs.spawn(notify::run(
            self.core.clone(),
            payment_id.to_owned(),
            generation,
        ));
    }

    /// Waits `duration`, or less if the sandbox stops meanwhile.
    pub(crate) async fn hold(&self, duration: Duration) {
        let mut closing = self.closing.subscribe();
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            _ = closing.wait_for(|closing| *closing) => {}
        }
    }

    fn close(&self) {
        self.closing.send_replace(true);
    }

    async fn stop_jobs(&self) {
        let mut jobs = std::mem::take(&mut *self.jobs());
        jobs.shutdown().await;
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let config = SandboxConfig {
            public_url: "http://127.0.0.1:54361".into(),
            notification_secret: "notification-secret-value".into(),
            ..SandboxConfig::default()
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("notification-secret-value"), "{debug}");
        assert!(debug.contains("***"), "{debug}");
        assert!(debug.contains("http://127.0.0.1:54361"), "{debug}");
    }

    #[test]
    fn defaults() {
        let config = SandboxConfig::default();
        assert_eq!(config.status_step, Duration::from_secs(2));
        assert_eq!(config.sca_expiry, Duration::from_secs(900));
        assert_eq!(config.slow_delay, Duration::from_millis(1500));
        assert_eq!(config.timeout_hold, Duration::from_secs(30));
        assert!(config.notification_secret.is_empty());
        assert!(config.state_file.is_none());
    }
}
