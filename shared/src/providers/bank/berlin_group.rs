//! The Berlin Group NextGenPSD2 1.3.12 client: wire types, the transformers between them and
//! the [`Bank`](super::Bank) port's types, and [`BerlinGroupClient`] over
//! [`outbound`](crate::providers::outbound).
//!
//! Shape of every call: build the request body from our type (`TryFrom<&PaymentOrder> for
//! PaymentRequest`, …), send it through the breaker with its `X-Request-ID`, check the status
//! (a 4xx becomes [`BankError::Rejected`] or one of its named cases, read from the NextGenPSD2
//! error body), then turn the response body into our type (`TryFrom<PaymentCreated> for
//! Initiated`, …), whose failures are [`BankError::BadResponse`] with a fixed reason. serde's own
//! messages are never kept: they can quote the body.

use super::{
    AccountDetails, Balance, BalanceType, Bank, BankError, Cancellation, ConsentDetails,
    ConsentStarted, CreditorAccount, Fees, PaymentOrder, PaymentStarted, Psu, Redirects,
};
use crate::aws::bank_breaker::{BankBreaker, CallOutcome};
use crate::domain::bank::{
    format_amount, parse_amount, BankId, ConsentStatus, PaymentProduct, TransactionStatus,
};
use crate::domain::money::{Currency, Money};
use crate::providers::outbound::{
    self, percent_encode, OutboundError, OutboundResponse, Resend, RetryPolicy,
};
use crate::secret::Secret;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::net::IpAddr;
use time::Date;
use url::Url;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Wire types: requests
// ---------------------------------------------------------------------------------------------

/// `consents` (L6660): bank-offered access to accounts and balances.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentRequest {
    access: AccountAccess,
    recurring_indicator: bool,
    valid_until: String,
    frequency_per_day: u8,
    combined_service_indicator: bool,
}

#[derive(Debug, Serialize)]
struct AccountAccess {
    /// Empty: the PSU picks the accounts at the bank.
    accounts: Vec<AccountReference>,
    balances: Vec<AccountReference>,
}

/// `accountReference` (L4333): one identifier.
#[derive(Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum AccountReference {
    Iban(String),
    Bban(String),
}

impl fmt::Debug for AccountReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountReference { .. }")
    }
}

/// `amount` (L5295).
#[derive(Serialize, Deserialize)]
struct AmountWire {
    currency: String,
    amount: String,
}

/// `address` (L5179).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AddressWire {
    #[serde(skip_serializing_if = "Option::is_none")]
    street_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    building_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    town_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    post_code: Option<String>,
    country: String,
}

/// `paymentInitiation_json` (L6165). Personal data: never printed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    end_to_end_identification: Option<String>,
    debtor_account: AccountReference,
    instructed_amount: AmountWire,
    creditor_account: AccountReference,
    #[serde(skip_serializing_if = "Option::is_none")]
    creditor_agent: Option<String>,
    creditor_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    creditor_address: Option<AddressWire>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remittance_information_unstructured: Option<String>,
}

impl fmt::Debug for PaymentRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PaymentRequest { .. }")
    }
}

fn chars_at_most(s: &str, max: usize) -> bool {
    s.chars().count() <= max
}

impl TryFrom<&PaymentOrder> for PaymentRequest {
    type Error = &'static str;

    /// The body the spec's per-product table asks for, or why `order` cannot be sent.
    fn try_from(order: &PaymentOrder) -> Result<Self, Self::Error> {
        use PaymentProduct as P;
        let name = order.creditor_name.trim();
        if name.is_empty() || !chars_at_most(name, 70) {
            return Err("the creditor's name must be 1 to 70 characters");
        }
        if order
            .remittance_information
            .as_deref()
            .is_some_and(|r| !chars_at_most(r, 140))
        {
            return Err("the remittance information must be at most 140 characters");
        }
        if order
            .end_to_end_id
            .as_deref()
            .is_some_and(|e| e.is_empty() || !chars_at_most(e, 35))
        {
            return Err("the end-to-end identification must be 1 to 35 characters");
        }
        let currency = order.amount.currency();
        let creditor_account = match (&order.creditor_account, order.product) {
            (CreditorAccount::NorwegianAccount(account), P::NorwegianDomesticCreditTransfers) => {
                AccountReference::Bban(account.as_str().to_owned())
            }
            (CreditorAccount::NorwegianAccount(_), _) => {
                return Err("only the domestic product pays to a Norwegian account number")
            }
            (CreditorAccount::Iban(_), P::NorwegianDomesticCreditTransfers) => {
                return Err("the domestic product pays to a Norwegian account number")
            }
            (CreditorAccount::Iban(iban), _) => AccountReference::Iban(iban.as_str().to_owned()),
        };
        match order.product {
            P::NorwegianDomesticCreditTransfers if currency != Currency::NOK => {
                return Err("the domestic product is in NOK")
            }
            P::SepaCreditTransfers | P::InstantSepaCreditTransfers if currency != Currency::EUR => {
                return Err("SEPA credit transfers are in EUR")
            }
            P::CrossBorderCreditTransfers
                if order.creditor_agent.is_none() || order.creditor_address.is_none() =>
            {
                return Err("a cross-border transfer needs the creditor's BIC and address")
            }
            _ => {}
        }
        let creditor_address = match &order.creditor_address {
            None => None,
            Some(address) => {
                if address
                    .street_name
                    .as_deref()
                    .is_some_and(|s| !chars_at_most(s, 70))
                {
                    return Err("the creditor's street name must be at most 70 characters");
                }
                Some(AddressWire {
                    street_name: address.street_name.clone(),
                    building_number: address.building_number.clone(),
                    town_name: address.town_name.clone(),
                    post_code: address.post_code.clone(),
                    country: address.country.as_str().to_owned(),
                })
            }
        };
        let amount = format_amount(order.amount.amount())
            .map_err(|_| "the amount cannot be written as the spec's amount")?;
        Ok(Self {
            // Not applicable to cross-border transfers (the spec's per-product table).
            end_to_end_identification: match order.product {
                P::CrossBorderCreditTransfers => None,
                _ => order.end_to_end_id.clone(),
            },
            debtor_account: AccountReference::Iban(order.debtor_account.as_str().to_owned()),
            instructed_amount: AmountWire {
                currency: currency.code().to_owned(),
                amount,
            },
            creditor_account,
            creditor_agent: order.creditor_agent.as_ref().map(|b| b.as_str().to_owned()),
            creditor_name: name.to_owned(),
            creditor_address,
            remittance_information_unstructured: order.remittance_information.clone(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Wire types: responses
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Href {
    href: String,
}

/// The `_links` Drop follows.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Links {
    sca_redirect: Option<Href>,
    sca_o_auth: Option<Href>,
    start_authorisation: Option<Href>,
}

/// `consentsResponse-201` (L7379).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentCreated {
    consent_status: String,
    consent_id: String,
    #[serde(rename = "_links")]
    links: Links,
}

/// `consentInformationResponse-200_json` (L7420).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentRead {
    #[allow(dead_code)] // required by the spec; its content is the bank's business
    access: Value,
    recurring_indicator: bool,
    valid_until: String,
    frequency_per_day: u32,
    last_action_date: Option<String>,
    consent_status: String,
}

/// `startScaprocessResponse` (L7182).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorisationStarted {
    #[allow(dead_code)] // required by the spec; the redirect is what Drop needs
    sca_status: String,
    #[allow(dead_code)]
    authorisation_id: String,
    #[serde(rename = "_links")]
    links: Links,
}

/// `accountList` (L4773).
#[derive(Deserialize)]
pub struct AccountList {
    accounts: Vec<AccountWire>,
}

/// `accountDetails` (L4630), the fields Drop keeps.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountWire {
    resource_id: Option<String>,
    iban: Option<String>,
    currency: String,
    name: Option<String>,
    product: Option<String>,
}

/// `readAccountBalanceResponse-200` (L7447).
#[derive(Deserialize)]
pub struct BalanceList {
    balances: Vec<BalanceWire>,
}

/// `balance` (L5074).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BalanceWire {
    balance_amount: AmountWire,
    balance_type: String,
    reference_date: Option<String>,
}

/// `paymentInitiationRequestResponse-201` (L6893).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCreated {
    transaction_status: String,
    payment_id: String,
    #[serde(rename = "_links")]
    links: Links,
    transaction_fees: Option<AmountWire>,
    currency_conversion_fee: Option<AmountWire>,
    estimated_total_amount: Option<AmountWire>,
}

/// `paymentInitiationStatusResponse-200_json` (L6849) and `paymentInitiationCancelResponse-202`
/// (L6940): the status is what Drop reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusWire {
    transaction_status: String,
}

/// A NextGenPSD2 error body (`tppMessages`), or the RFC 7807 form (`code`,
/// `additionalErrors`), as far as their codes go.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    #[serde(default)]
    tpp_messages: Vec<TppMessage>,
    code: Option<String>,
    #[serde(default)]
    additional_errors: Vec<AdditionalError>,
}

#[derive(Deserialize)]
struct TppMessage {
    category: Option<String>,
    code: Option<String>,
}

#[derive(Deserialize)]
struct AdditionalError {
    code: Option<String>,
}

impl ErrorBody {
    /// The first error code: of a `tppMessages` entry of category ERROR, else the problem's.
    fn code(&self) -> Option<String> {
        let from_messages = self
            .tpp_messages
            .iter()
            .find(|m| m.category.as_deref() == Some("ERROR"))
            .or_else(|| self.tpp_messages.first())
            .and_then(|m| m.code.as_deref());
        let from_problem = self.code.as_deref().or_else(|| {
            self.additional_errors
                .iter()
                .find_map(|e| e.code.as_deref())
        });
        from_messages.or(from_problem).and_then(safe_code)
    }
}

/// An error code or header value reduced to a safe token: letters, digits, `_` and `-`, at most
/// 64 of them.
fn safe_code(raw: &str) -> Option<String> {
    let code: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .take(64)
        .collect();
    (!code.is_empty()).then_some(code)
}

// ---------------------------------------------------------------------------------------------
// Response transformers
// ---------------------------------------------------------------------------------------------

fn spec_date(s: &str) -> Option<Date> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

fn consent_status(s: &str) -> Result<ConsentStatus, &'static str> {
    ConsentStatus::from_berlin_group(s).map_err(|_| "consentStatus is not a consent status")
}

fn transaction_status(s: &str) -> Result<TransactionStatus, &'static str> {
    s.parse()
        .map_err(|_| "transactionStatus is not an ISO 20022 code")
}

fn money(wire: &AmountWire, what: &'static str) -> Result<Money, &'static str> {
    let currency: Currency = wire.currency.parse().map_err(|_| what)?;
    let amount = parse_amount(&wire.amount).map_err(|_| what)?;
    Money::new(amount, currency).map_err(|_| what)
}

impl TryFrom<ConsentRead> for ConsentDetails {
    type Error = &'static str;

    fn try_from(wire: ConsentRead) -> Result<Self, Self::Error> {
        Ok(Self {
            status: consent_status(&wire.consent_status)?,
            valid_until: spec_date(&wire.valid_until).ok_or("validUntil is not a date")?,
            frequency_per_day: wire.frequency_per_day,
            recurring: wire.recurring_indicator,
            last_action_date: match wire.last_action_date.as_deref() {
                None => None,
                Some(d) => Some(spec_date(d).ok_or("lastActionDate is not a date")?),
            },
        })
    }
}

impl TryFrom<AccountList> for Vec<AccountDetails> {
    type Error = &'static str;

    /// The accounts Drop can use: those with a resourceId and an IBAN, in a currency it knows
    /// (the others are left out, counted in the log). An IBAN that is not valid is an error.
    fn try_from(wire: AccountList) -> Result<Self, Self::Error> {
        let total = wire.accounts.len();
        let mut accounts = Vec::with_capacity(total);
        for account in wire.accounts {
            let (Some(resource_id), Some(iban)) = (account.resource_id, account.iban) else {
                continue;
            };
            let Ok(currency) = account.currency.parse::<Currency>() else {
                continue;
            };
            if resource_id.trim().is_empty() {
                return Err("an account's resourceId is empty");
            }
            let iban = iban
                .parse()
                .map_err(|_| "an account's iban is not an IBAN")?;
            accounts.push(AccountDetails {
                resource_id,
                iban: Secret::new(iban),
                currency,
                name: account.name.map(Secret::new),
                product: account.product,
            });
        }
        if accounts.len() < total {
            tracing::info!(
                left_out = total - accounts.len(),
                "accounts without resourceId or IBAN, or in a currency Drop does not know"
            );
        }
        Ok(accounts)
    }
}

impl TryFrom<BalanceList> for Vec<Balance> {
    type Error = &'static str;

    fn try_from(wire: BalanceList) -> Result<Self, Self::Error> {
        wire.balances
            .into_iter()
            .map(|b| {
                Ok(Balance {
                    balance_type: BalanceType::from_spec(&b.balance_type)
                        .ok_or("balanceType is not a balance type")?,
                    amount: parse_amount(&b.balance_amount.amount)
                        .map_err(|_| "a balance amount is not the spec's amount")?,
                    currency: b
                        .balance_amount
                        .currency
                        .parse()
                        .map_err(|_| "a balance is in a currency Drop does not know")?,
                    reference_date: match b.reference_date.as_deref() {
                        None => None,
                        Some(d) => Some(spec_date(d).ok_or("referenceDate is not a date")?),
                    },
                })
            })
            .collect()
    }
}

/// What to do after an initiation's 201: send the user to the bank, or start the
/// authorisation first (at a path under the bank's base URL).
#[derive(Debug, PartialEq, Eq)]
enum ScaNext {
    Redirect(Url),
    StartAuthorisation(String),
}

/// REDIRECT only. `approach` is the `ASPSP-SCA-Approach` header.
fn sca_next(approach: Option<&str>, links: &Links) -> Result<ScaNext, ScaProblem> {
    if let Some(approach) = approach.map(str::trim) {
        if !approach.eq_ignore_ascii_case("REDIRECT") {
            return Err(ScaProblem::Unsupported(
                safe_code(approach).unwrap_or_else(|| "unnamed".to_owned()),
            ));
        }
    }
    if let Some(link) = &links.sca_redirect {
        let url = Url::parse(&link.href)
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
            .ok_or(ScaProblem::Bad(
                "scaRedirect is not an absolute http(s) URL",
            ))?;
        return Ok(ScaNext::Redirect(url));
    }
    if let Some(link) = &links.start_authorisation {
        return authorisation_path(&link.href)
            .map(ScaNext::StartAuthorisation)
            .ok_or(ScaProblem::Bad(
                "startAuthorisation is not an authorisations path",
            ));
    }
    if links.sca_o_auth.is_some() {
        return Err(ScaProblem::Unsupported("OAUTH".to_owned()));
    }
    Err(ScaProblem::Bad(
        "neither scaRedirect nor startAuthorisation",
    ))
}

/// The `/v1/…/authorisations` part of a link, whatever host or prefix it names: the call goes
/// to the bank's base URL Drop has configured, never to a host a response names.
fn authorisation_path(href: &str) -> Option<String> {
    let start = href.find("/v1/")?;
    let path = href.get(start..)?;
    let without_query = path.split(['?', '#']).next()?;
    let ok = without_query.ends_with("/authorisations")
        && without_query
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'%'));
    ok.then(|| without_query.to_owned())
}

#[derive(Debug, PartialEq, Eq)]
enum ScaProblem {
    Unsupported(String),
    Bad(&'static str),
}

/// A payment's 201, read.
struct Initiated {
    payment_id: String,
    status: TransactionStatus,
    links: Links,
    fees: Fees,
}

impl TryFrom<PaymentCreated> for Initiated {
    type Error = &'static str;

    fn try_from(wire: PaymentCreated) -> Result<Self, Self::Error> {
        if wire.payment_id.trim().is_empty() {
            return Err("paymentId is empty");
        }
        let fee =
            |amount: &Option<AmountWire>, what| amount.as_ref().map(|a| money(a, what)).transpose();
        Ok(Self {
            status: transaction_status(&wire.transaction_status)?,
            fees: Fees {
                transaction_fees: fee(&wire.transaction_fees, "transactionFees is not an amount")?,
                currency_conversion_fee: fee(
                    &wire.currency_conversion_fee,
                    "currencyConversionFee is not an amount",
                )?,
                estimated_total_amount: fee(
                    &wire.estimated_total_amount,
                    "estimatedTotalAmount is not an amount",
                )?,
            },
            payment_id: wire.payment_id,
            links: wire.links,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/// A Berlin Group NextGenPSD2 client for one bank. Cheap to clone.
#[derive(Clone)]
pub struct BerlinGroupClient {
    bank: BankId,
    /// The bank's API root, before `/v1/…` (e.g. `https://api.bank.example/psd2`).
    base_url: String,
    breaker: BankBreaker,
    policy: RetryPolicy,
}

impl fmt::Debug for BerlinGroupClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BerlinGroupClient")
            .field("bank", &self.bank)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// One logical call: the same request (and `X-Request-ID`) on every attempt.
struct Call {
    method: Method,
    /// From `/v1/`, encoded.
    path: String,
    body: Option<Bytes>,
    headers: Vec<(&'static str, String)>,
    request_id: Uuid,
    resend: Resend,
}

impl Call {
    fn new(method: Method, path: String) -> Self {
        Self {
            method,
            path,
            body: None,
            headers: Vec::new(),
            request_id: Uuid::new_v4(),
            resend: Resend::WhenRetryable,
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn psu(mut self, psu: &Psu) -> Self {
        if let Some(ip) = psu.ip {
            self.headers
                .push(("PSU-IP-Address", spec_ip(ip).to_string()));
        }
        self
    }

    fn redirects(mut self, redirects: &Redirects) -> Self {
        self.headers.push(("TPP-Redirect-Preferred", "true".into()));
        self.headers
            .push(("TPP-Redirect-URI", redirects.ok.clone()));
        self.headers
            .push(("TPP-Nok-Redirect-URI", redirects.nok.clone()));
        if let Some(uri) = &redirects.notification {
            self.headers.push(("TPP-Notification-URI", uri.clone()));
        }
        self
    }

    fn json(mut self, body: &impl Serialize) -> Result<Self, BankError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|_| BankError::InvalidRequest("the body cannot be written as JSON"))?;
        self.body = Some(Bytes::from(bytes));
        Ok(self)
    }
}

/// An IPv4 address mapped into IPv6 is sent as IPv4 (the spec's `PSU-IP-Address` is
/// `format: ipv4`; a user reached over IPv6 is sent as is).
fn spec_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The redirect URIs, if they are absolute http(s) URLs.
fn check_redirects(redirects: &Redirects) -> Result<(), BankError> {
    let ok = |uri: &str| {
        Url::parse(uri)
            .ok()
            .is_some_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
    };
    let all = [
        Some(&redirects.ok),
        Some(&redirects.nok),
        redirects.notification.as_ref(),
    ];
    if all.into_iter().flatten().all(|uri| ok(uri)) {
        Ok(())
    } else {
        Err(BankError::InvalidRequest(
            "a redirect or notification URI is not an absolute http(s) URL",
        ))
    }
}

/// An identifier the bank gave, as a header value: visible ASCII only.
fn header_id(id: &str) -> Result<String, BankError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(BankError::InvalidRequest(
            "an identifier that is not visible ASCII",
        ));
    }
    Ok(id.to_owned())
}

/// An identifier the bank gave, as a path segment.
fn segment(id: &str) -> Result<String, BankError> {
    if id.is_empty() {
        return Err(BankError::InvalidRequest("an empty identifier"));
    }
    Ok(percent_encode(id))
}

impl BerlinGroupClient {
    /// The client for `bank` at `base_url` (its API root, without a trailing `/v1`), with
    /// reads retried after 1, 2 and 4 s and each attempt limited to 5 s.
    pub fn new(bank: BankId, base_url: impl Into<String>, breaker: BankBreaker) -> Self {
        Self {
            bank,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            breaker,
            policy: RetryPolicy::default(),
        }
    }

    /// Timeouts and retries of every call (tests use millisecond backoff).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn bad(&self, reason: &'static str) -> BankError {
        BankError::BadResponse {
            bank: self.bank.clone(),
            reason,
        }
    }

    /// Sends `call` (retried as its mode allows) and hands the response to `read`, all
    /// through the breaker: refused at once while it is open; the outcome recorded after.
    async fn run<T>(
        &self,
        what: &'static str,
        call: Call,
        read: impl FnOnce(&Self, OutboundResponse) -> Result<T, BankError>,
    ) -> Result<T, BankError> {
        let permit = self.breaker.admit(&self.bank).await.map_err(|open| {
            tracing::warn!(bank = %self.bank, call = what, "bank circuit breaker open; not calling the bank");
            BankError::Unavailable {
                bank: self.bank.clone(),
                retry_after: Some(open.retry_after),
                source: None,
            }
        })?;
        let result = match self.send(&call).await {
            Ok(response) => read(self, response),
            Err(err) => Err(err),
        };
        let outcome = match &result {
            Err(err) if err.is_bank_failure() => CallOutcome::Failed,
            _ => CallOutcome::Answered,
        };
        self.breaker.record(&self.bank, permit, outcome).await;
        if let Err(err) = &result {
            tracing::warn!(
                bank = %self.bank,
                call = what,
                request_id = %call.request_id,
                error = %crate::error::log_chain(err),
                "bank call failed"
            );
        }
        result
    }

    async fn send(&self, call: &Call) -> Result<OutboundResponse, BankError> {
        let url = format!("{}{}", self.base_url, call.path);
        let body = call.body.clone().unwrap_or_default();
        let sent = outbound::send_with_retry_mode(
            || {
                let mut request = Request::builder()
                    .method(call.method.clone())
                    .uri(url.as_str())
                    .header("X-Request-ID", call.request_id.to_string())
                    .header(header::ACCEPT, "application/json");
                if call.body.is_some() {
                    request = request.header(header::CONTENT_TYPE, "application/json");
                }
                for (name, value) in &call.headers {
                    let mut value = HeaderValue::from_str(value)?;
                    value.set_sensitive(true);
                    request = request.header(*name, value);
                }
                request.body(body.clone())
            },
            &self.policy,
            call.resend,
        )
        .await;
        sent.map_err(|err| self.not_answered(call, err))
    }

    /// What a failed exchange means: for a payment initiation that may have arrived, an
    /// unknown outcome; else the bank is unavailable.
    fn not_answered(&self, call: &Call, err: OutboundError) -> BankError {
        if call.resend == Resend::OnlyIfNotSent && !err.was_not_sent() {
            BankError::OutcomeUnknown {
                bank: self.bank.clone(),
                request_id: call.request_id,
                source: Some(err),
            }
        } else {
            BankError::Unavailable {
                bank: self.bank.clone(),
                retry_after: None,
                source: Some(err),
            }
        }
    }

    /// A 4xx read from its NextGenPSD2 error body: status first, then code.
    fn rejected(&self, response: &OutboundResponse) -> BankError {
        let code = serde_json::from_slice::<ErrorBody>(&response.body)
            .ok()
            .and_then(|body| body.code());
        let bank = self.bank.clone();
        match (response.status.as_u16(), code.as_deref()) {
            (401, Some("CONSENT_EXPIRED")) => BankError::ConsentNotValid {
                bank,
                expired: true,
            },
            (401, Some("CONSENT_INVALID")) | (400 | 401 | 403, Some("CONSENT_UNKNOWN")) => {
                BankError::ConsentNotValid {
                    bank,
                    expired: false,
                }
            }
            (429, _) => BankError::AccessExceeded { bank },
            _ => BankError::Rejected {
                bank,
                status: response.status,
                code,
            },
        }
    }

    /// The body of a 2xx as `T`: JSON, not an error in disguise, the spec's shape.
    fn json<T: DeserializeOwned>(
        &self,
        response: &OutboundResponse,
        shape: &'static str,
    ) -> Result<T, BankError> {
        if response.status.is_client_error() {
            return Err(self.rejected(response));
        }
        if !response.status.is_success() {
            return Err(self.bad("an unexpected status"));
        }
        let is_json = response
            .media_type()
            .is_some_and(|m| m == "application/json" || m.ends_with("+json"));
        if !is_json {
            return Err(self.bad("not a JSON answer"));
        }
        let value: Value =
            serde_json::from_slice(&response.body).map_err(|_| self.bad("not valid JSON"))?;
        let carries_error = value
            .get("tppMessages")
            .and_then(Value::as_array)
            .is_some_and(|messages| {
                messages
                    .iter()
                    .any(|m| m.get("category").and_then(Value::as_str) == Some("ERROR"))
            });
        if carries_error {
            return Err(self.bad("a 2xx answer carrying an error"));
        }
        serde_json::from_value(value).map_err(|_| self.bad(shape))
    }

    fn sca_next(&self, headers: &HeaderMap, links: &Links) -> Result<ScaNext, BankError> {
        let approach = headers
            .get("ASPSP-SCA-Approach")
            .map(|v| v.to_str().unwrap_or("unreadable"));
        sca_next(approach, links).map_err(|problem| match problem {
            ScaProblem::Unsupported(approach) => BankError::UnsupportedScaApproach {
                bank: self.bank.clone(),
                approach,
            },
            ScaProblem::Bad(reason) => self.bad(reason),
        })
    }

    /// Follows an initiation's SCA links to the redirect the user is sent to: directly, or by
    /// starting the authorisation (a new logical call; an authorisation resource made twice is
    /// harmless, so it is retried as a read).
    async fn sca_redirect(
        &self,
        headers: &HeaderMap,
        links: &Links,
        psu: &Psu,
        redirects: &Redirects,
    ) -> Result<Url, BankError> {
        let path = match self.sca_next(headers, links)? {
            ScaNext::Redirect(url) => return Ok(url),
            ScaNext::StartAuthorisation(path) => path,
        };
        let call = Call::new(Method::POST, path).psu(psu).redirects(redirects);
        self.run("start authorisation", call, |this, response| {
            let started: AuthorisationStarted =
                this.json(&response, "the answer is not a startScaprocessResponse")?;
            match this.sca_next(&response.headers, &started.links)? {
                ScaNext::Redirect(url) => Ok(url),
                ScaNext::StartAuthorisation(_) => {
                    Err(this.bad("the started authorisation has no scaRedirect"))
                }
            }
        })
        .await
    }
}

#[async_trait::async_trait]
impl Bank for BerlinGroupClient {
    fn id(&self) -> &BankId {
        &self.bank
    }

    async fn create_consent(
        &self,
        valid_until: Date,
        frequency_per_day: u8,
        psu: &Psu,
        redirects: &Redirects,
    ) -> Result<ConsentStarted, BankError> {
        if psu.ip.is_none() {
            return Err(BankError::InvalidRequest(
                "a consent is created with the user present (PSU-IP-Address)",
            ));
        }
        if !(1..=4).contains(&frequency_per_day) {
            return Err(BankError::InvalidRequest("frequencyPerDay must be 1 to 4"));
        }
        check_redirects(redirects)?;
        let body = ConsentRequest {
            access: AccountAccess {
                accounts: Vec::new(),
                balances: Vec::new(),
            },
            recurring_indicator: true,
            valid_until: valid_until
                .format(time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|_| BankError::InvalidRequest("validUntil cannot be written"))?,
            frequency_per_day,
            combined_service_indicator: false,
        };
        let call = Call::new(Method::POST, "/v1/consents".into())
            .psu(psu)
            .redirects(redirects)
            .json(&body)?;
        let (created, headers) = self
            .run("create consent", call, |this, response| {
                let created: ConsentCreated =
                    this.json(&response, "the answer is not a consentsResponse-201")?;
                Ok((created, response.headers))
            })
            .await?;
        if created.consent_id.trim().is_empty() {
            return Err(self.bad("consentId is empty"));
        }
        let status = consent_status(&created.consent_status).map_err(|r| self.bad(r))?;
        let sca_redirect = self
            .sca_redirect(&headers, &created.links, psu, redirects)
            .await?;
        Ok(ConsentStarted {
            consent_id: created.consent_id,
            status,
            sca_redirect,
        })
    }

    async fn consent(&self, consent_id: &str, psu: &Psu) -> Result<ConsentDetails, BankError> {
        let call = Call::new(
            Method::GET,
            format!("/v1/consents/{}", segment(consent_id)?),
        )
        .psu(psu);
        self.run("read consent", call, |this, response| {
            let wire: ConsentRead = this.json(
                &response,
                "the answer is not a consentInformationResponse-200",
            )?;
            ConsentDetails::try_from(wire).map_err(|r| this.bad(r))
        })
        .await
    }

    async fn delete_consent(&self, consent_id: &str, psu: &Psu) -> Result<(), BankError> {
        let call = Call::new(
            Method::DELETE,
            format!("/v1/consents/{}", segment(consent_id)?),
        )
        .psu(psu);
        self.run("delete consent", call, |this, response| {
            if response.status.is_success() {
                Ok(())
            } else if response.status.is_client_error() {
                Err(this.rejected(&response))
            } else {
                Err(this.bad("an unexpected status"))
            }
        })
        .await
    }

    async fn accounts(
        &self,
        consent_id: &str,
        psu: &Psu,
    ) -> Result<Vec<AccountDetails>, BankError> {
        let call = Call::new(Method::GET, "/v1/accounts".into())
            .header("Consent-ID", header_id(consent_id)?)
            .psu(psu);
        self.run("read accounts", call, |this, response| {
            let wire: AccountList = this.json(&response, "the answer is not an accountList")?;
            Vec::<AccountDetails>::try_from(wire).map_err(|r| this.bad(r))
        })
        .await
    }

    async fn balances(
        &self,
        consent_id: &str,
        resource_id: &str,
        psu: &Psu,
    ) -> Result<Vec<Balance>, BankError> {
        let call = Call::new(
            Method::GET,
            format!("/v1/accounts/{}/balances", segment(resource_id)?),
        )
        .header("Consent-ID", header_id(consent_id)?)
        .psu(psu);
        self.run("read balances", call, |this, response| {
            let wire: BalanceList = this.json(
                &response,
                "the answer is not a readAccountBalanceResponse-200",
            )?;
            Vec::<Balance>::try_from(wire).map_err(|r| this.bad(r))
        })
        .await
    }

    async fn initiate_payment(
        &self,
        payment: &PaymentOrder,
        psu: &Psu,
        redirects: &Redirects,
        request_id: Uuid,
    ) -> Result<PaymentStarted, BankError> {
        if psu.ip.is_none() {
            return Err(BankError::InvalidRequest(
                "a payment is initiated with the user present (PSU-IP-Address)",
            ));
        }
        check_redirects(redirects)?;
        let body = PaymentRequest::try_from(payment).map_err(BankError::InvalidRequest)?;
        let mut call = Call::new(
            Method::POST,
            format!("/v1/payments/{}", payment.product.as_str()),
        )
        .psu(psu)
        .redirects(redirects)
        .json(&body)?;
        call.request_id = request_id;
        call.resend = Resend::OnlyIfNotSent;
        let (initiated, headers) = self
            .run("initiate payment", call, |this, response| {
                if response.status.is_client_error() {
                    return Err(this.rejected(&response));
                }
                // A 2xx that cannot be read may still be a payment made: its outcome is unknown.
                let unknown = |reason: &'static str| {
                    tracing::warn!(bank = %this.bank, %request_id, reason, "payment initiation answer not readable");
                    BankError::OutcomeUnknown {
                        bank: this.bank.clone(),
                        request_id,
                        source: None,
                    }
                };
                let created: PaymentCreated = this
                    .json(&response, "the answer is not a paymentInitiationRequestResponse-201")
                    .map_err(|err| match err {
                        BankError::BadResponse { reason, .. } => unknown(reason),
                        other => other,
                    })?;
                let initiated = Initiated::try_from(created).map_err(unknown)?;
                Ok((initiated, response.headers))
            })
            .await?;
        let sca_redirect = self
            .sca_redirect(&headers, &initiated.links, psu, redirects)
            .await?;
        Ok(PaymentStarted {
            payment_id: initiated.payment_id,
            status: initiated.status,
            sca_redirect,
            fees: initiated.fees,
        })
    }

    async fn payment_status(
        &self,
        product: PaymentProduct,
        payment_id: &str,
    ) -> Result<TransactionStatus, BankError> {
        let path = format!(
            "/v1/payments/{}/{}/status",
            product.as_str(),
            segment(payment_id)?
        );
        self.run(
            "read payment status",
            Call::new(Method::GET, path),
            |this, response| {
                let wire: StatusWire = this.json(
                    &response,
                    "the answer is not a paymentInitiationStatusResponse-200",
                )?;
                transaction_status(&wire.transaction_status).map_err(|r| this.bad(r))
            },
        )
        .await
    }

    async fn cancel_payment(
        &self,
        product: PaymentProduct,
        payment_id: &str,
    ) -> Result<Cancellation, BankError> {
        let path = format!("/v1/payments/{}/{}", product.as_str(), segment(payment_id)?);
        self.run(
            "cancel payment",
            Call::new(Method::DELETE, path),
            |this, response| match response.status {
                StatusCode::NO_CONTENT => Ok(Cancellation::Cancelled),
                StatusCode::ACCEPTED => {
                    let wire: StatusWire = this.json(
                        &response,
                        "the answer is not a paymentInitiationCancelResponse-202",
                    )?;
                    Ok(Cancellation::AuthorisationNeeded {
                        status: transaction_status(&wire.transaction_status)
                            .map_err(|r| this.bad(r))?,
                    })
                }
                status if status.is_client_error() => Err(this.rejected(&response)),
                _ => Err(this.bad("an unexpected status")),
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::Iban;
    use crate::providers::bank::PostalAddress;
    use serde_json::json;

    fn iban(s: &str) -> Iban {
        s.parse().unwrap()
    }

    fn order(product: PaymentProduct) -> PaymentOrder {
        PaymentOrder {
            product,
            debtor_account: iban("NO9386011117947"),
            amount: Money::parse("1500.5", Currency::EUR).unwrap(),
            creditor_account: CreditorAccount::Iban(iban("DE89370400440532013000")),
            creditor_name: "Anna Schmidt".into(),
            creditor_agent: None,
            creditor_address: None,
            remittance_information: Some("Rent March".into()),
            end_to_end_id: Some("drop-1".into()),
        }
    }

    fn body(order: &PaymentOrder) -> Value {
        serde_json::to_value(PaymentRequest::try_from(order).unwrap()).unwrap()
    }

    #[test]
    fn a_sepa_payment_is_the_spec_body() {
        assert_eq!(
            body(&order(PaymentProduct::SepaCreditTransfers)),
            json!({
                "endToEndIdentification": "drop-1",
                "debtorAccount": {"iban": "NO9386011117947"},
                "instructedAmount": {"currency": "EUR", "amount": "1500.50"},
                "creditorAccount": {"iban": "DE89370400440532013000"},
                "creditorName": "Anna Schmidt",
                "remittanceInformationUnstructured": "Rent March"
            })
        );
    }

    #[test]
    fn a_cross_border_payment_has_the_bic_and_address_and_no_end_to_end_id() {
        let mut o = order(PaymentProduct::CrossBorderCreditTransfers);
        o.amount = Money::parse("2000", Currency::NOK).unwrap();
        o.creditor_account = CreditorAccount::Iban(iban("TR330006100519786457841326"));
        o.creditor_agent = Some("TGBATRIS".parse().unwrap());
        assert_eq!(
            PaymentRequest::try_from(&o).err(),
            Some("a cross-border transfer needs the creditor's BIC and address")
        );
        o.creditor_address = Some(PostalAddress {
            street_name: Some("Atatürk Bulvarı".into()),
            building_number: Some("25".into()),
            town_name: Some("Ankara".into()),
            post_code: Some("06420".into()),
            country: "TR".parse().unwrap(),
        });
        assert_eq!(
            body(&o),
            json!({
                "debtorAccount": {"iban": "NO9386011117947"},
                "instructedAmount": {"currency": "NOK", "amount": "2000.00"},
                "creditorAccount": {"iban": "TR330006100519786457841326"},
                "creditorAgent": "TGBATRIS",
                "creditorName": "Anna Schmidt",
                "creditorAddress": {
                    "streetName": "Atatürk Bulvarı",
                    "buildingNumber": "25",
                    "townName": "Ankara",
                    "postCode": "06420",
                    "country": "TR"
                },
                "remittanceInformationUnstructured": "Rent March"
            })
        );
    }

    #[test]
    fn the_domestic_product_pays_nok_to_a_bban() {
        let mut o = order(PaymentProduct::NorwegianDomesticCreditTransfers);
        o.amount = Money::parse("250", Currency::NOK).unwrap();
        o.creditor_account = CreditorAccount::NorwegianAccount("86011117947".parse().unwrap());
        o.remittance_information = None;
        o.end_to_end_id = None;
        assert_eq!(
            body(&o),
            json!({
                "debtorAccount": {"iban": "NO9386011117947"},
                "instructedAmount": {"currency": "NOK", "amount": "250.00"},
                "creditorAccount": {"bban": "86011117947"},
                "creditorName": "Anna Schmidt"
            })
        );
        o.amount = Money::parse("250", Currency::EUR).unwrap();
        assert_eq!(
            PaymentRequest::try_from(&o).err(),
            Some("the domestic product is in NOK")
        );
    }

    #[test]
    fn orders_the_spec_does_not_allow_are_refused_before_sending() {
        let mut o = order(PaymentProduct::SepaCreditTransfers);
        o.creditor_name = "x".repeat(71);
        assert!(PaymentRequest::try_from(&o).is_err());
        o.creditor_name = "  ".into();
        assert!(PaymentRequest::try_from(&o).is_err());
        let mut o = order(PaymentProduct::InstantSepaCreditTransfers);
        o.amount = Money::parse("1", Currency::NOK).unwrap();
        assert_eq!(
            PaymentRequest::try_from(&o).err(),
            Some("SEPA credit transfers are in EUR")
        );
        let mut o = order(PaymentProduct::SepaCreditTransfers);
        o.remittance_information = Some("r".repeat(141));
        assert!(PaymentRequest::try_from(&o).is_err());
        let mut o = order(PaymentProduct::SepaCreditTransfers);
        o.end_to_end_id = Some("e".repeat(36));
        assert!(PaymentRequest::try_from(&o).is_err());
        let mut o = order(PaymentProduct::SepaCreditTransfers);
        o.creditor_account = CreditorAccount::NorwegianAccount("86011117947".parse().unwrap());
        assert!(PaymentRequest::try_from(&o).is_err());
    }

    #[test]
    fn a_consent_request_asks_for_bank_offered_recurring_access() {
        let body = ConsentRequest {
            access: AccountAccess {
                accounts: Vec::new(),
                balances: Vec::new(),
            },
            recurring_indicator: true,
            valid_until: "2030-06-30".into(),
            frequency_per_day: 4,
            combined_service_indicator: false,
        };
        assert_eq!(
            serde_json::to_value(body).unwrap(),
            json!({
                "access": {"accounts": [], "balances": []},
                "recurringIndicator": true,
                "validUntil": "2030-06-30",
                "frequencyPerDay": 4,
                "combinedServiceIndicator": false
            })
        );
    }

    #[test]
    fn error_codes_come_from_tpp_messages_or_the_problem_form() {
        let code = |v: Value| serde_json::from_value::<ErrorBody>(v).unwrap().code();
        assert_eq!(
            code(json!({"tppMessages": [
                {"category": "WARNING", "code": "WARNING"},
                {"category": "ERROR", "code": "CONSENT_EXPIRED", "text": "Kari's consent"}
            ]})),
            Some("CONSENT_EXPIRED".into())
        );
        assert_eq!(
            code(json!({"type": "about:blank", "code": "FORMAT_ERROR"})),
            Some("FORMAT_ERROR".into())
        );
        assert_eq!(
            code(json!({"additionalErrors": [{"code": "PERIOD_INVALID"}]})),
            Some("PERIOD_INVALID".into())
        );
        assert_eq!(code(json!({"tppMessages": []})), None);
        assert_eq!(
            code(json!({"tppMessages": [{"category": "ERROR", "code": "<script>X"}]})),
            Some("scriptX".into())
        );
    }

    fn links(v: Value) -> Links {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn sca_is_redirect_only() {
        let redirect = links(json!({"scaRedirect": {"href": "https://bank.example/sca/1"}}));
        assert_eq!(
            sca_next(Some("REDIRECT"), &redirect),
            Ok(ScaNext::Redirect(
                Url::parse("https://bank.example/sca/1").unwrap()
            ))
        );
        assert_eq!(
            sca_next(None, &redirect),
            Ok(ScaNext::Redirect(
                Url::parse("https://bank.example/sca/1").unwrap()
            ))
        );
        assert_eq!(
            sca_next(Some("EMBEDDED"), &links(json!({}))),
            Err(ScaProblem::Unsupported("EMBEDDED".into()))
        );
        assert_eq!(
            sca_next(Some("DECOUPLED"), &redirect),
            Err(ScaProblem::Unsupported("DECOUPLED".into()))
        );
        assert_eq!(
            sca_next(
                Some("REDIRECT"),
                &links(json!({"scaOAuth": {"href": "https://x/"}}))
            ),
            Err(ScaProblem::Unsupported("OAUTH".into()))
        );
        assert!(matches!(
            sca_next(
                Some("REDIRECT"),
                &links(json!({"scaRedirect": {"href": "javascript:alert(1)"}}))
            ),
            Err(ScaProblem::Bad(_))
        ));
        assert!(matches!(
            sca_next(
                Some("REDIRECT"),
                &links(json!({"scaRedirect": {"href": "/sca/1"}}))
            ),
            Err(ScaProblem::Bad(_))
        ));
        assert!(matches!(
            sca_next(
                Some("REDIRECT"),
                &links(json!({"self": {"href": "/v1/consents/1"}}))
            ),
            Err(ScaProblem::Bad(_))
        ));
    }

    #[test]
    fn start_authorisation_is_called_under_our_base_url_only() {
        let explicit = |href: &str| {
            sca_next(
                Some("REDIRECT"),
                &links(json!({"startAuthorisation": {"href": href}})),
            )
        };
        assert_eq!(
            explicit("/v1/consents/c-1/authorisations"),
            Ok(ScaNext::StartAuthorisation(
                "/v1/consents/c-1/authorisations".into()
            ))
        );
        assert_eq!(
            explicit("https://elsewhere.example/nordea/v1/payments/sepa-credit-transfers/p1/authorisations"),
            Ok(ScaNext::StartAuthorisation(
                "/v1/payments/sepa-credit-transfers/p1/authorisations".into()
            ))
        );
        assert!(matches!(
            explicit("/v1/consents/c-1"),
            Err(ScaProblem::Bad(_))
        ));
        assert!(matches!(
            explicit("https://x.example/other"),
            Err(ScaProblem::Bad(_))
        ));
        assert!(matches!(
            explicit("/v1/consents/c 1/authorisations"),
            Err(ScaProblem::Bad(_))
        ));
    }

    #[test]
    fn accounts_without_an_iban_or_resource_id_are_left_out_and_a_bad_iban_is_an_error() {
        let list: AccountList = serde_json::from_value(json!({"accounts": [
            {"resourceId": "a1", "iban": "NO9386011117947", "currency": "NOK", "name": "Brukskonto", "product": "Konto"},
            {"resourceId": "a2", "currency": "NOK", "bban": "86011117947"},
            {"iban": "NO9386011117947", "currency": "NOK"},
            {"resourceId": "a4", "iban": "NO9386011117947", "currency": "XXX"}
        ]}))
        .unwrap();
        let accounts = Vec::<AccountDetails>::try_from(list).unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].resource_id, "a1");
        assert_eq!(accounts[0].iban.expose().as_str(), "NO9386011117947");
        assert_eq!(accounts[0].currency, Currency::NOK);
        assert_eq!(accounts[0].name.as_ref().unwrap().expose(), "Brukskonto");
        let printed = format!("{:?}", accounts[0]);
        assert!(
            !printed.contains("7947") && !printed.contains("Brukskonto"),
            "{printed}"
        );
        let bad: AccountList = serde_json::from_value(
            json!({"accounts": [{"resourceId": "a1", "iban": "NO9386011117948", "currency": "NOK"}]}),
        )
        .unwrap();
        assert!(Vec::<AccountDetails>::try_from(bad).is_err());
    }

    #[test]
    fn balances_are_read_exactly() {
        let list: BalanceList = serde_json::from_value(json!({"balances": [
            {"balanceAmount": {"currency": "NOK", "amount": "12345.67"}, "balanceType": "closingBooked", "referenceDate": "2030-01-31"},
            {"balanceAmount": {"currency": "NOK", "amount": "-10.5"}, "balanceType": "interimAvailable"}
        ]}))
        .unwrap();
        let balances = Vec::<Balance>::try_from(list).unwrap();
        assert_eq!(balances[0].balance_type, BalanceType::ClosingBooked);
        assert_eq!(balances[0].amount, rust_decimal_macros::dec!(12345.67));
        assert_eq!(
            balances[0].reference_date,
            Some(time::macros::date!(2030 - 01 - 31))
        );
        assert_eq!(balances[1].amount, rust_decimal_macros::dec!(-10.5));
        assert_eq!(balances[1].reference_date, None);
        assert!(!format!("{:?}", balances[0]).contains("12345"));
        for bad in [
            json!({"balances": [{"balanceAmount": {"currency": "NOK", "amount": "1e3"}, "balanceType": "expected"}]}),
            json!({"balances": [{"balanceAmount": {"currency": "NOK", "amount": "1"}, "balanceType": "current"}]}),
            json!({"balances": [{"balanceAmount": {"currency": "NOK", "amount": "1"}, "balanceType": "expected", "referenceDate": "31.01.2030"}]}),
        ] {
            let list: BalanceList = serde_json::from_value(bad).unwrap();
            assert!(Vec::<Balance>::try_from(list).is_err());
        }
    }

    #[test]
    fn a_payment_201_with_fees_reads_them_as_money() {
        let wire: PaymentCreated = serde_json::from_value(json!({
            "transactionStatus": "RCVD",
            "paymentId": "p-1",
            "_links": {"scaRedirect": {"href": "https://bank.example/sca/2"}},
            "transactionFees": {"currency": "NOK", "amount": "25.00"},
            "currencyConversionFee": {"currency": "NOK", "amount": "10.00"},
            "estimatedTotalAmount": {"currency": "NOK", "amount": "2035.00"}
        }))
        .unwrap();
        let initiated = Initiated::try_from(wire).unwrap();
        assert_eq!(initiated.status, TransactionStatus::Rcvd);
        let nok = |s| Some(Money::parse(s, Currency::NOK).unwrap());
        assert_eq!(initiated.fees.transaction_fees, nok("25"));
        assert_eq!(initiated.fees.currency_conversion_fee, nok("10"));
        assert_eq!(initiated.fees.estimated_total_amount, nok("2035"));
        let wire: PaymentCreated = serde_json::from_value(json!({
            "transactionStatus": "RCVD", "paymentId": "p-1", "_links": {},
            "transactionFees": {"currency": "NOK", "amount": "25,00"}
        }))
        .unwrap();
        assert!(Initiated::try_from(wire).is_err());
    }

    #[test]
    fn the_psu_ip_is_sent_as_ipv4_when_it_is_one() {
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(spec_ip(mapped).to_string(), "192.0.2.7");
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(spec_ip(v6), v6);
        assert_eq!(format!("{:?}", Psu::present(v6)), "Psu(present)");
    }
}
