//! The open-banking ASPSP: the [`Bank`] port (AIS consents, accounts and balances; PIS
//! initiation, status and cancellation) and its Berlin Group NextGenPSD2 1.3.12 client
//! ([`berlin_group::BerlinGroupClient`]).
//!
//! - SCA is REDIRECT only: the client follows `_links.scaRedirect`, or starts the authorisation
//!   when the bank asks for it (`startAuthorisation`) and follows the redirect that answers;
//!   any other approach is [`BankError::UnsupportedScaApproach`].
//! - The redirect back from the bank is a hint: callers read the consent's or the payment's
//!   status ([`Bank::consent`], [`Bank::payment_status`]) before changing anything.
//! - Reads are retried (1 s, 2 s, 4 s) on timeouts and 5xx with the same `X-Request-ID`; a
//!   payment initiation is sent again only when it provably never left, else its outcome is
//!   [`BankError::OutcomeUnknown`] and the caller looks the payment up first.
//! - Every call goes through the bank's circuit breaker ([`crate::aws::bank_breaker`]).
//!
//! Nothing here logs, or keeps in an error or a `Debug` output, an IBAN, a name, an amount, a
//! token or a body.

pub mod berlin_group;

use crate::domain::bank::{BankId, Bicfi, ConsentStatus, PaymentProduct, TransactionStatus};
use crate::domain::country::CountryCode;
use crate::domain::ids::{AccountNumber, Iban};
use crate::domain::money::{Currency, Money};
use crate::providers::outbound::OutboundError;
use crate::secret::Secret;
use http::StatusCode;
use rust_decimal::Decimal;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;
use time::Date;
use url::Url;
use uuid::Uuid;

pub use berlin_group::BerlinGroupClient;

/// The banks a function can call, by id.
pub type Banks = std::collections::HashMap<BankId, std::sync::Arc<dyn Bank>>;

/// A Berlin Group client for every bank of `directory`, each at `{base_url}/{bank id}`, all
/// behind `breaker`, reads retried after `retry_base`, twice that, and four times that.
pub fn berlin_group_banks(
    directory: &crate::domain::bank::BankDirectory,
    base_url: &str,
    breaker: &crate::aws::bank_breaker::BankBreaker,
    retry_base: Duration,
) -> Banks {
    let policy = crate::providers::outbound::RetryPolicy {
        base_delay: retry_base,
        ..crate::providers::outbound::RetryPolicy::default()
    };
    directory
        .iter()
        .map(|bank| {
            let client = BerlinGroupClient::new(
                bank.id.clone(),
                format!("{base_url}/{}", bank.id.as_str()),
                breaker.clone(),
            )
            .with_retry_policy(policy.clone());
            (
                bank.id.clone(),
                std::sync::Arc::new(client) as std::sync::Arc<dyn Bank>,
            )
        })
        .collect()
}

/// The payment service user (the person at the bank), as far as a call needs them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Psu {
    /// The user's IP address, only when the user is present (a live request of theirs):
    /// sent as `PSU-IP-Address`. Background reads send none and count against the consent's
    /// `frequencyPerDay`.
    pub ip: Option<IpAddr>,
}

impl Psu {
    /// The user is present, at `ip`.
    pub fn present(ip: IpAddr) -> Self {
        Self { ip: Some(ip) }
    }

    /// A background call: the user is not there.
    pub fn absent() -> Self {
        Self { ip: None }
    }
}

impl fmt::Debug for Psu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.ip.is_some() {
            "Psu(present)"
        } else {
            "Psu(absent)"
        })
    }
}

/// Where the bank sends the user back, and where it may notify Drop. The URIs may carry a
/// flow's state: `Debug` does not print them.
#[derive(Clone, PartialEq, Eq)]
pub struct Redirects {
    /// `TPP-Redirect-URI`: after SCA (success, or a return without an error).
    pub ok: String,
    /// `TPP-Nok-Redirect-URI`: after a failed or refused SCA.
    pub nok: String,
    /// `TPP-Notification-URI`, when Drop wants status notifications.
    pub notification: Option<String>,
}

impl fmt::Debug for Redirects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redirects")
            .field("notification", &self.notification.is_some())
            .finish_non_exhaustive()
    }
}

/// A consent the bank created, waiting for the user's SCA.
#[derive(Clone)]
pub struct ConsentStarted {
    pub consent_id: String,
    pub status: ConsentStatus,
    /// Where to send the user's browser.
    pub sca_redirect: Url,
}

impl fmt::Debug for ConsentStarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentStarted")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A consent as the bank holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentDetails {
    pub status: ConsentStatus,
    /// As granted: the bank may have shortened what was asked.
    pub valid_until: Date,
    pub frequency_per_day: u32,
    pub recurring: bool,
    pub last_action_date: Option<Date>,
}

/// An account a consent covers.
#[derive(Clone)]
pub struct AccountDetails {
    /// The bank's `resourceId`, for balance reads.
    pub resource_id: String,
    pub iban: Secret<Iban>,
    pub currency: Currency,
    /// The bank's name for the account ("Brukskonto"), as the user named it there.
    pub name: Option<Secret<String>>,
    pub product: Option<String>,
}

impl fmt::Debug for AccountDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountDetails")
            .field("currency", &self.currency)
            .finish_non_exhaustive()
    }
}

/// The spec's `balanceType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BalanceType {
    ClosingBooked,
    Expected,
    OpeningBooked,
    InterimAvailable,
    InterimBooked,
    ForwardAvailable,
    NonInvoiced,
}

impl BalanceType {
    pub const ALL: [BalanceType; 7] = [
        Self::ClosingBooked,
        Self::Expected,
        Self::OpeningBooked,
        Self::InterimAvailable,
        Self::InterimBooked,
        Self::ForwardAvailable,
        Self::NonInvoiced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClosingBooked => "closingBooked",
            Self::Expected => "expected",
            Self::OpeningBooked => "openingBooked",
            Self::InterimAvailable => "interimAvailable",
            Self::InterimBooked => "interimBooked",
            Self::ForwardAvailable => "forwardAvailable",
            Self::NonInvoiced => "nonInvoiced",
        }
    }

    pub fn from_spec(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One balance of an account. Personal data: `Debug` shows the type only.
#[derive(Clone, PartialEq, Eq)]
pub struct Balance {
    pub balance_type: BalanceType,
    /// May be negative (an overdraft).
    pub amount: Decimal,
    pub currency: Currency,
    pub reference_date: Option<Date>,
}

impl fmt::Debug for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Balance")
            .field("balance_type", &self.balance_type)
            .field("currency", &self.currency)
            .finish_non_exhaustive()
    }
}

/// The creditor's account.
#[derive(Clone, PartialEq, Eq)]
pub enum CreditorAccount {
    Iban(Iban),
    /// A Norwegian account number, sent as `bban` (the domestic product).
    NorwegianAccount(AccountNumber),
}

/// The creditor's postal address (`address`; cross-border transfers need one).
#[derive(Clone, PartialEq, Eq)]
pub struct PostalAddress {
    pub street_name: Option<String>,
    pub building_number: Option<String>,
    pub town_name: Option<String>,
    pub post_code: Option<String>,
    pub country: CountryCode,
}

/// A payment to initiate from the user's account. Personal data throughout: `Debug` shows the
/// product and currency only.
#[derive(Clone, PartialEq, Eq)]
pub struct PaymentOrder {
    pub product: PaymentProduct,
    pub debtor_account: Iban,
    pub amount: Money,
    pub creditor_account: CreditorAccount,
    /// At most 70 characters.
    pub creditor_name: String,
    /// The creditor's bank (required for cross-border transfers).
    pub creditor_agent: Option<Bicfi>,
    /// Required for cross-border transfers.
    pub creditor_address: Option<PostalAddress>,
    /// At most 140 characters.
    pub remittance_information: Option<String>,
    /// At most 35 characters; not applicable to cross-border transfers (not sent there).
    pub end_to_end_id: Option<String>,
}

impl fmt::Debug for PaymentOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentOrder")
            .field("product", &self.product)
            .field("currency", &self.amount.currency())
            .finish_non_exhaustive()
    }
}

/// What the bank says it will charge, when it says so (cross-border transfers).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Fees {
    pub transaction_fees: Option<Money>,
    pub currency_conversion_fee: Option<Money>,
    pub estimated_total_amount: Option<Money>,
}

impl fmt::Debug for Fees {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fees { .. }")
    }
}

/// A payment the bank created, waiting for the user's SCA.
#[derive(Clone)]
pub struct PaymentStarted {
    pub payment_id: String,
    pub status: TransactionStatus,
    pub sca_redirect: Url,
    pub fees: Fees,
}

impl fmt::Debug for PaymentStarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentStarted")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// What a cancellation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancellation {
    /// 204: cancelled.
    Cancelled,
    /// 202: the bank needs the user to authorise the cancellation; nothing is cancelled yet.
    AuthorisationNeeded { status: TransactionStatus },
}

/// Why a call to a bank failed. Names the bank; never carries a body, an IBAN, a name, an
/// amount or a token.
#[derive(Debug, thiserror::Error)]
pub enum BankError {
    /// The bank's circuit breaker is open (the bank was not called), or the bank did not
    /// answer (timeouts, connection errors, 5xx after the retries).
    #[error("{bank} is unavailable")]
    Unavailable {
        bank: BankId,
        /// When to try again, if known (the breaker's open time).
        retry_after: Option<Duration>,
        #[source]
        source: Option<OutboundError>,
    },
    /// A payment initiation may or may not have reached the bank (a timeout, a broken
    /// exchange, a 5xx, or a 2xx that cannot be read): it is not sent again; look the payment
    /// up before anything else.
    #[error("{bank}: the outcome of payment initiation {request_id} is unknown")]
    OutcomeUnknown {
        bank: BankId,
        /// The initiation's `X-Request-ID`.
        request_id: Uuid,
        #[source]
        source: Option<OutboundError>,
    },
    /// The bank answered, but not as the spec says (missing fields, wrong types, HTML, a 2xx
    /// carrying an error).
    #[error("{bank}'s answer is not valid: {reason}")]
    BadResponse { bank: BankId, reason: &'static str },
    /// A 4xx (other than those below), with the NextGenPSD2 error code when the bank sent one.
    #[error("{bank} refused the request with {status} ({})", code.as_deref().unwrap_or("no error code"))]
    Rejected {
        bank: BankId,
        status: StatusCode,
        code: Option<String>,
    },
    /// The consent no longer allows the call (401 `CONSENT_EXPIRED` / `CONSENT_INVALID`, or a
    /// consent the bank does not know): the user must consent again.
    #[error("{bank}: the consent is not valid{}", if *expired { " (expired)" } else { "" })]
    ConsentNotValid { bank: BankId, expired: bool },
    /// 429: the consent's accesses without the user are used up for today.
    #[error("{bank}: the consent's daily accesses are used up")]
    AccessExceeded { bank: BankId },
    /// The bank asks for an SCA approach other than REDIRECT.
    #[error("{bank} asks for the {approach} SCA approach; only REDIRECT is supported")]
    UnsupportedScaApproach { bank: BankId, approach: String },
    /// The request cannot be sent as it is (Drop's error, found before calling the bank).
    #[error("the request cannot be sent to the bank: {0}")]
    InvalidRequest(&'static str),
}

impl BankError {
    /// The bank the error is about, if any.
    pub fn bank(&self) -> Option<&BankId> {
        match self {
            Self::Unavailable { bank, .. }
            | Self::OutcomeUnknown { bank, .. }
            | Self::BadResponse { bank, .. }
            | Self::Rejected { bank, .. }
            | Self::ConsentNotValid { bank, .. }
            | Self::AccessExceeded { bank }
            | Self::UnsupportedScaApproach { bank, .. } => Some(bank),
            Self::InvalidRequest(_) => None,
        }
    }

    /// Whether it counts as a failure of the bank for its circuit breaker: it did not answer,
    /// or answered nonsense. A 4xx is an answer.
    pub fn is_bank_failure(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. } | Self::OutcomeUnknown { .. } | Self::BadResponse { .. }
        )
    }
}

/// An ASPSP, as the functions use it (`Arc<dyn Bank>`).
#[async_trait::async_trait]
pub trait Bank: Send + Sync {
    fn id(&self) -> &BankId;

    /// Starts an AIS consent to the user's accounts and balances (bank-offered: the user picks
    /// the accounts at SCA), recurring, until `valid_until` (the bank may shorten it), for
    /// `frequency_per_day` (1..=4) reads a day without the user. Needs the user present.
    async fn create_consent(
        &self,
        valid_until: Date,
        frequency_per_day: u8,
        psu: &Psu,
        redirects: &Redirects,
    ) -> Result<ConsentStarted, BankError>;

    /// The consent as the bank holds it now (status, validity as granted).
    async fn consent(&self, consent_id: &str, psu: &Psu) -> Result<ConsentDetails, BankError>;

    /// Ends the consent at the bank (`terminatedByTpp`).
    async fn delete_consent(&self, consent_id: &str, psu: &Psu) -> Result<(), BankError>;

    /// The accounts the consent covers that Drop can use (with an IBAN, in a currency Drop
    /// knows).
    async fn accounts(&self, consent_id: &str, psu: &Psu)
        -> Result<Vec<AccountDetails>, BankError>;

    async fn balances(
        &self,
        consent_id: &str,
        resource_id: &str,
        psu: &Psu,
    ) -> Result<Vec<Balance>, BankError>;

    /// Initiates `payment`, sent with `X-Request-ID: request_id` and never sent twice unless it
    /// provably never left (see [`BankError::OutcomeUnknown`]). Needs the user present.
    async fn initiate_payment(
        &self,
        payment: &PaymentOrder,
        psu: &Psu,
        redirects: &Redirects,
        request_id: Uuid,
    ) -> Result<PaymentStarted, BankError>;

    async fn payment_status(
        &self,
        product: PaymentProduct,
        payment_id: &str,
    ) -> Result<TransactionStatus, BankError>;

    async fn cancel_payment(
        &self,
        product: PaymentProduct,
        payment_id: &str,
    ) -> Result<Cancellation, BankError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_carries_no_personal_data_amount_or_token() {
        let order = PaymentOrder {
            product: PaymentProduct::CrossBorderCreditTransfers,
            debtor_account: "NO9386011117947".parse().unwrap_or_else(|_| unreachable!()),
            amount: Money::parse("1234.56", Currency::NOK).unwrap_or_else(|_| unreachable!()),
            creditor_account: CreditorAccount::Iban(
                "DE89370400440532013000"
                    .parse()
                    .unwrap_or_else(|_| unreachable!()),
            ),
            creditor_name: "Anna Schmidt".into(),
            creditor_agent: None,
            creditor_address: None,
            remittance_information: Some("Rent".into()),
            end_to_end_id: None,
        };
        let fee = Money::parse("25", Currency::NOK).ok();
        let started = PaymentStarted {
            payment_id: "p-1".into(),
            status: TransactionStatus::Rcvd,
            sca_redirect: Url::parse("https://bank.example/sca/secret-authorisation")
                .unwrap_or_else(|_| unreachable!()),
            fees: Fees {
                transaction_fees: fee,
                ..Fees::default()
            },
        };
        let redirects = Redirects {
            ok: "https://drop.example/return?state=s3cr3t".into(),
            nok: "https://drop.example/return?state=s3cr3t".into(),
            notification: None,
        };
        let printed = format!(
            "{order:?} {started:?} {redirects:?} {:?}",
            Psu::present([192, 0, 2, 1].into())
        );
        for secret in [
            "7947",
            "3000",
            "1234",
            "Anna",
            "Rent",
            "25.00",
            "secret-authorisation",
            "s3cr3t",
            "192.0.2.1",
        ] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("CrossBorderCreditTransfers"), "{printed}");
    }
}
