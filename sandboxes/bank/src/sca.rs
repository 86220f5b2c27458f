//! Strong customer authentication, REDIRECT approach: authorisation resources, the bank's SCA
//! page (`{public_url}/{bank}/sca/{authorisationId}`) and the decision its form (or the
//! sandbox's JSON twin of it) makes.

use crate::banks::{self, Bank, Product};
use crate::bg::{self, BankRef};
use crate::persons::{self, Person};
use crate::reply::{self, escape_html, BgError};
use crate::store::{
    Authorisation, ConsentState, Inner, PaymentDecision, Rejection, ScaOutcome, Target, TxStatus,
};
use crate::{ais, clock, pis, Core, Sandbox};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use http::header::LOCATION;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::json;
use std::fmt::Write as _;
use std::sync::Arc;

type Answer = Result<Response, BgError>;

/// Where the PSU authorises: `{public_url}/{bank}/sca/{authorisationId}`.
pub(crate) fn page_url(core: &Core, bank: &Bank, authorisation_id: &str) -> String {
    format!("{}/sca/{authorisation_id}", core.base(bank))
}

// ---------------------------------------------------------------------------------------------
// Authorisation resources (Berlin Group)

/// Whether the resource still waits for its SCA.
fn awaiting(sandbox: &Sandbox, inner: &Inner, target: &Target) -> bool {
    let now = clock::now_ms();
    let timing = sandbox.core.timing();
    match target {
        Target::Consent { id } => inner
            .consents
            .get(id)
            .is_some_and(|c| c.status(clock::today(), now, timing.sca_expiry_ms) == "received"),
        Target::Payment { id, .. } => inner
            .payments
            .get(id)
            .is_some_and(|p| p.progress(now, timing).status == TxStatus::Rcvd),
    }
}

/// `POST …/authorisations`: a new authorisation, answered with its `scaRedirect`.
fn start(
    sandbox: &Sandbox,
    bank: &'static Bank,
    target: Target,
    resource_url: &str,
    headers: &HeaderMap,
) -> Answer {
    let (redirect, nok_redirect) = bg::redirects(headers)?;
    let authorisation = Authorisation {
        id: uuid::Uuid::new_v4().to_string(),
        bank: bank.id,
        target,
        created_ms: clock::now_ms(),
        redirect,
        nok_redirect,
        outcome: None,
    };
    let id = authorisation.id.clone();
    sandbox.core.store.write(|inner| {
        if !awaiting(sandbox, inner, &authorisation.target) {
            return Err(BgError::status_invalid(
                "The resource no longer waits for an authorisation",
            ));
        }
        inner.authorisations.insert(authorisation);
        Ok(())
    })?;
    let mut response = reply::json_response(
        StatusCode::CREATED,
        &json!({
            "scaStatus": "received",
            "authorisationId": id,
            "_links": {
                "scaRedirect": bg::href(&page_url(&sandbox.core, bank, &id)),
                "scaStatus": bg::href(&format!("{resource_url}/authorisations/{id}")),
            },
        }),
    );
    response
        .headers_mut()
        .insert(bg::ASPSP_SCA_APPROACH, HeaderValue::from_static("REDIRECT"));
    Ok(response)
}

/// The authorisation ids of a resource.
fn list(sandbox: &Sandbox, target: &Target) -> Response {
    let ids: Vec<String> = sandbox.core.store.read(|inner| {
        inner
            .authorisations
            .in_order()
            .filter(|a| &a.target == target)
            .map(|a| a.id.clone())
            .collect()
    });
    reply::json_response(StatusCode::OK, &json!({ "authorisationIds": ids }))
}

/// `{"scaStatus"}` of one of the resource's authorisations.
fn sca_status(sandbox: &Sandbox, target: &Target, authorisation_id: &str) -> Answer {
    let authorisation = sandbox
        .core
        .store
        .read(|inner| inner.authorisations.get(authorisation_id).cloned())
        .filter(|a| &a.target == target)
        .ok_or_else(|| BgError::unknown("There is no such authorisation"))?;
    let status = authorisation.sca_status(clock::now_ms(), sandbox.core.timing().sca_expiry_ms);
    Ok(reply::json_response(
        StatusCode::OK,
        &json!({ "scaStatus": status }),
    ))
}

fn consent_target(
    sandbox: &Sandbox,
    bank: &Bank,
    consent_id: &str,
) -> Result<(Target, String), BgError> {
    ais::find(sandbox, bank, consent_id)?;
    let url = format!("{}/v1/consents/{consent_id}", sandbox.core.base(bank));
    Ok((
        Target::Consent {
            id: consent_id.to_owned(),
        },
        url,
    ))
}

fn payment_target(
    sandbox: &Sandbox,
    bank: &Bank,
    service: &str,
    product: &str,
    payment_id: &str,
) -> Result<(Target, String), BgError> {
    let product: Product = pis::product(bank, service, product)?;
    pis::find(sandbox, bank, product, payment_id)?;
    let url = format!(
        "{}/v1/payments/{}/{payment_id}",
        sandbox.core.base(bank),
        product.as_str()
    );
    Ok((
        Target::Payment {
            product,
            id: payment_id.to_owned(),
        },
        url,
    ))
}

/// `POST /v1/consents/{consentId}/authorisations`.
pub(crate) async fn start_consent_authorisation(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Path((_, consent_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    let (target, url) = consent_target(&sandbox, bank, &consent_id)?;
    start(&sandbox, bank, target, &url, &headers)
}

/// `GET /v1/consents/{consentId}/authorisations`.
pub(crate) async fn consent_authorisations(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Path((_, consent_id)): Path<(String, String)>,
) -> Answer {
    let (target, _) = consent_target(&sandbox, bank, &consent_id)?;
    Ok(list(&sandbox, &target))
}

/// `GET /v1/consents/{consentId}/authorisations/{authorisationId}`.
pub(crate) async fn consent_sca_status(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Path((_, consent_id, authorisation_id)): Path<(String, String, String)>,
) -> Answer {
    let (target, _) = consent_target(&sandbox, bank, &consent_id)?;
    sca_status(&sandbox, &target, &authorisation_id)
}

/// `POST /v1/payments/{product}/{paymentId}/authorisations`.
pub(crate) async fn start_payment_authorisation(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Path((_, service, product, payment_id)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Answer {
    let (target, url) = payment_target(&sandbox, bank, &service, &product, &payment_id)?;
    start(&sandbox, bank, target, &url, &headers)
}

/// `GET /v1/payments/{product}/{paymentId}/authorisations`.
pub(crate) async fn payment_authorisations(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Path((_, service, product, payment_id)): Path<(String, String, String, String)>,
) -> Answer {
    let (target, _) = payment_target(&sandbox, bank, &service, &product, &payment_id)?;
    Ok(list(&sandbox, &target))
}

/// `GET /v1/payments/{product}/{paymentId}/authorisations/{authorisationId}`.
pub(crate) async fn payment_sca_status(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Path((_, service, product, payment_id, authorisation_id)): Path<(
        String,
        String,
        String,
        String,
        String,
    )>,
) -> Answer {
    let (target, _) = payment_target(&sandbox, bank, &service, &product, &payment_id)?;
    sca_status(&sandbox, &target, &authorisation_id)
}

// ---------------------------------------------------------------------------------------------
// The decision

/// What the PSU does on the SCA page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Approve,
    Reject,
    /// Back to the shop without finishing: nothing changes.
    Return,
}

impl Action {
    fn parse(value: &str) -> Option<Action> {
        match value {
            "approve" => Some(Action::Approve),
            "reject" => Some(Action::Reject),
            "return" => Some(Action::Return),
            _ => None,
        }
    }
}

/// Why a decision cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScaError {
    /// No such authorisation (at this bank).
    Unknown,
    /// Decided already, expired, or its resource no longer waits for it.
    Closed(&'static str),
    /// The form is not filled in right.
    Input(String),
}

impl ScaError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ScaError::Unknown => StatusCode::NOT_FOUND,
            ScaError::Closed(_) => StatusCode::CONFLICT,
            ScaError::Input(_) => StatusCode::BAD_REQUEST,
        }
    }

    pub(crate) fn text(&self) -> String {
        match self {
            ScaError::Unknown => "There is no such authorisation.".into(),
            ScaError::Closed(why) => (*why).into(),
            ScaError::Input(why) => why.clone(),
        }
    }
}

/// An authorisation that can still be decided, with its bank.
fn open_authorisation(
    sandbox: &Sandbox,
    inner: &Inner,
    bank: Option<&Bank>,
    authorisation_id: &str,
) -> Result<Authorisation, ScaError> {
    let authorisation = inner
        .authorisations
        .get(authorisation_id)
        .filter(|a| bank.is_none_or(|b| a.bank == b.id))
        .cloned()
        .ok_or(ScaError::Unknown)?;
    if authorisation.outcome.is_some() {
        return Err(ScaError::Closed(
            "This authorisation has been decided already.",
        ));
    }
    if authorisation.expired(clock::now_ms(), sandbox.core.timing().sca_expiry_ms) {
        return Err(ScaError::Closed("This authorisation has expired."));
    }
    if !awaiting(sandbox, inner, &authorisation.target) {
        return Err(ScaError::Closed(
            "What this authorisation was for no longer waits for it.",
        ));
    }
    Ok(authorisation)
}

/// Decides an authorisation as the SCA form does; the answer is where the PSU goes next.
pub(crate) fn decide(
    sandbox: &Sandbox,
    bank: Option<&Bank>,
    authorisation_id: &str,
    psu: Option<&str>,
    action: &str,
) -> Result<String, ScaError> {
    let action = Action::parse(action)
        .ok_or_else(|| ScaError::Input("action must be approve, reject or return".into()))?;
    let person = match psu.filter(|p| !p.is_empty()) {
        Some(name) => Some(
            Person::parse(name)
                .ok_or_else(|| ScaError::Input(format!("{name} is not a test person")))?,
        ),
        None => None,
    };
    let now = clock::now_ms();
    let today = clock::today();
    let (location, payment_id) = sandbox.core.store.write(|inner| {
        let authorisation = open_authorisation(sandbox, inner, bank, authorisation_id)?;
        if action == Action::Return {
            return Ok((authorisation.redirect.clone(), None));
        }
        let person = match (action, person) {
            (Action::Approve, None) => {
                return Err(ScaError::Input(
                    "Choose a test person to approve as.".into(),
                ))
            }
            (_, person) => person,
        };
        let approve = action == Action::Approve;
        let bank = banks::get(authorisation.bank);
        let (outcome, payment_id) = match &authorisation.target {
            Target::Consent { id } => {
                let consent = inner.consents.get_mut(id).ok_or(ScaError::Unknown)?;
                consent.last_action = today;
                consent.psu = person;
                match person.filter(|p| approve && !p.fails_sca()) {
                    Some(person) => {
                        consent.state = ConsentState::Valid;
                        let (accounts, balances): (Vec<_>, Vec<_>) =
                            persons::accounts(bank, person)
                                .into_iter()
                                .map(|a| {
                                    let (list, balance) = consent.access.grants(a.iban, a.bban);
                                    (
                                        list.then(|| a.resource_id.clone()),
                                        balance.then_some(a.resource_id),
                                    )
                                })
                                .unzip();
                        consent.accounts = accounts.into_iter().flatten().collect();
                        consent.balances = balances.into_iter().flatten().collect();
                        if person == Person::ConsentExpired {
                            consent.valid_until = today.previous_day().unwrap_or(today);
                        }
                        (ScaOutcome::Finalised, None)
                    }
                    None => {
                        consent.state = ConsentState::Rejected;
                        (ScaOutcome::Failed, None)
                    }
                }
            }
            Target::Payment { id, .. } => {
                let payment = inner.payments.get_mut(id).ok_or(ScaError::Unknown)?;
                let (decision, outcome) = match person {
                    Some(person) if approve && !person.fails_sca() => (
                        PaymentDecision::Approved {
                            at_ms: now,
                            psu: person,
                        },
                        ScaOutcome::Finalised,
                    ),
                    Some(Person::Blocked) if approve => (
                        PaymentDecision::Rejected {
                            at_ms: now,
                            reason: Rejection::Blocked,
                        },
                        ScaOutcome::Failed,
                    ),
                    _ if approve => (
                        PaymentDecision::Rejected {
                            at_ms: now,
                            reason: Rejection::ScaFailed,
                        },
                        ScaOutcome::Failed,
                    ),
                    _ => (
                        PaymentDecision::Rejected {
                            at_ms: now,
                            reason: Rejection::ByPsu,
                        },
                        ScaOutcome::Failed,
                    ),
                };
                payment.decision = Some(decision);
                (outcome, Some(id.clone()))
            }
        };
        if let Some(stored) = inner.authorisations.get_mut(authorisation_id) {
            stored.outcome = Some(outcome);
        }
        let location = match outcome {
            ScaOutcome::Finalised => authorisation.redirect.clone(),
            ScaOutcome::Failed => authorisation.nok_location().to_owned(),
        };
        tracing::info!(
            authorisation_id,
            ?action,
            ?outcome,
            "bank sandbox: SCA decided"
        );
        Ok((location, payment_id))
    })?;
    if let Some(payment_id) = payment_id {
        sandbox.start_notifier(&payment_id);
    }
    Ok(location)
}

// ---------------------------------------------------------------------------------------------
// The SCA page

fn page(title: &str, content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head>\n<body>\n{content}\n</body></html>\n",
        title = escape_html(title),
    )
}

fn error_page(bank: &Bank, error: &ScaError) -> Response {
    let content = format!(
        "<h1>{}</h1>\n<p>{}</p>",
        escape_html(bank.name),
        escape_html(&error.text())
    );
    reply::html_response(error.status(), page(bank.name, &content))
}

/// What the PSU is asked to authorise, in words.
fn description(inner: &Inner, target: &Target) -> String {
    match target {
        Target::Consent { id } => match inner.consents.get(id) {
            Some(consent) => format!(
                "A third party asks to read your accounts{} until {}, up to {} times a day \
                 without you.",
                if consent.access.balance_scope() == crate::wire::Scope::Nothing {
                    ""
                } else {
                    " and balances"
                },
                clock::format_date(consent.valid_until),
                consent.frequency_per_day,
            ),
            None => "A consent to read your accounts.".into(),
        },
        Target::Payment { product, id } => match inner.payments.get(id) {
            Some(payment) => {
                let request = &payment.request;
                let account = request
                    .creditor_account
                    .iban
                    .as_deref()
                    .or(request.creditor_account.bban.as_deref())
                    .or(request
                        .creditor_account
                        .other
                        .as_ref()
                        .map(|o| o.identification.as_str()))
                    .unwrap_or_default();
                let mut text = format!(
                    "Pay {} {} to {} ({account}), {}.",
                    request.instructed_amount.amount,
                    request.instructed_amount.currency,
                    request.creditor_name,
                    product.as_str(),
                );
                if let Some(fees) = &payment.fees {
                    let _ = write!(
                        text,
                        " Fees: {} {} and {} {} for the conversion; in all about {} {}.",
                        fees.transaction_fees.amount,
                        fees.transaction_fees.currency,
                        fees.currency_conversion_fee.amount,
                        fees.currency_conversion_fee.currency,
                        fees.estimated_total_amount.amount,
                        fees.estimated_total_amount.currency,
                    );
                }
                text
            }
            None => "A payment.".into(),
        },
    }
}

fn person_description(person: Person) -> &'static str {
    match person {
        Person::Successful => "everything succeeds",
        Person::ScaFailed => "the authentication fails",
        Person::Blocked => "the bank blocks this customer",
        Person::ConsentExpired => "the consent is expired at once",
        Person::LimitExceeded => "the payment exceeds the limit",
        Person::CancellationRefused => "cancelling is refused",
    }
}

/// `GET /{bank}/sca/{authorisationId}`: the page with the form.
pub(crate) async fn page_get(
    State(sandbox): State<Arc<Sandbox>>,
    Path((bank, authorisation_id)): Path<(String, String)>,
) -> Response {
    let Some(bank) = banks::find(&bank) else {
        return reply::html_response(
            StatusCode::NOT_FOUND,
            page(
                "Not found",
                "<h1>Not found</h1>\n<p>There is no such bank.</p>",
            ),
        );
    };
    let found = sandbox.core.store.read(|inner| {
        open_authorisation(&sandbox, inner, Some(bank), &authorisation_id).map(|a| {
            let hint = match &a.target {
                Target::Consent { id } => inner.consents.get(id).and_then(|c| c.psu_id.clone()),
                Target::Payment { id, .. } => inner.payments.get(id).and_then(|p| p.psu_id.clone()),
            };
            (description(inner, &a.target), hint)
        })
    });
    let (what, hint) = match found {
        Ok(found) => found,
        Err(error) => return error_page(bank, &error),
    };
    let preselected = hint
        .as_deref()
        .and_then(Person::parse)
        .unwrap_or(Person::Successful);
    let mut options = String::new();
    for person in Person::ALL {
        let _ = writeln!(
            options,
            "<option value=\"{name}\"{selected}>{name} ({what})</option>",
            name = person.name(),
            selected = if person == preselected {
                " selected"
            } else {
                ""
            },
            what = person_description(person),
        );
    }
    // The form has no action: it posts back to the page's own URL, however the page was
    // reached.
    let content = format!(
        "<h1>{bank_name}</h1>\n<p>{what}</p>\n\
         <form method=\"post\">\n\
         <p><label for=\"psu\">Test person</label>\n<select id=\"psu\" name=\"psu\">\n{options}</select></p>\n\
         <p><button type=\"submit\" name=\"action\" value=\"approve\">Approve</button>\n\
         <button type=\"submit\" name=\"action\" value=\"reject\">Reject</button></p>\n\
         <p><button type=\"submit\" name=\"action\" value=\"return\">Back to the shop without finishing</button></p>\n\
         </form>",
        bank_name = escape_html(bank.name),
        what = escape_html(&what),
    );
    reply::html_response(
        StatusCode::OK,
        page(&format!("{} – authorise", bank.name), &content),
    )
}

#[derive(Debug, Deserialize)]
struct ScaForm {
    #[serde(default)]
    psu: Option<String>,
    action: String,
}

/// `POST /{bank}/sca/{authorisationId}` (form-urlencoded `psu`, `action`): `303 See Other` to
/// where the PSU goes next.
pub(crate) async fn form(
    State(sandbox): State<Arc<Sandbox>>,
    Path((bank, authorisation_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(bank) = banks::find(&bank) else {
        return reply::html_response(
            StatusCode::NOT_FOUND,
            page(
                "Not found",
                "<h1>Not found</h1>\n<p>There is no such bank.</p>",
            ),
        );
    };
    let form: ScaForm = match serde_urlencoded::from_bytes(&body) {
        Ok(form) => form,
        Err(_) => {
            return error_page(
                bank,
                &ScaError::Input("The form needs psu and action.".into()),
            )
        }
    };
    match decide(
        &sandbox,
        Some(bank),
        &authorisation_id,
        form.psu.as_deref(),
        &form.action,
    ) {
        Ok(location) => see_other(&location),
        Err(error) => error_page(bank, &error),
    }
}

/// `303 See Other` to `location`.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}
