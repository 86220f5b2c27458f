//! Sumsub (KYC): request signing, webhook verification and parsing, and the API client.
//!
//! - [`signing`]: `X-App-Access-Sig` for requests; `X-Payload-Digest` for webhooks, checked in
//!   constant time over the raw body.
//! - [`webhook`]: applicant webhooks and review results, with screening hits from reject labels;
//!   `clientComment` is dropped at parse time.
//! - [`client`]: applicants, SDK access tokens and reviews over `outbound` (retries, backoff).
//!
//! Nothing here logs or puts into an error a token, a secret, a name, a date of birth or a body.

pub mod client;
pub mod signing;
pub mod webhook;

pub use client::{
    ApplicantInfo, ApplicantState, SdkToken, SumsubClient, SumsubError, SDK_TOKEN_TTL_SECS,
};
pub use signing::{request_signature, verify_webhook, webhook_digest, DigestAlg, WebhookAuthError};
pub use webhook::{
    EventKind, RejectType, Review, ReviewAnswer, ScreeningHit, ScreeningKind, WebhookEvent,
    WebhookParseError,
};
