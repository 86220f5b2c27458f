//! Account information: consents, and the account list and balances they open.

use crate::banks::Bank;
use crate::bg::{self, BankRef};
use crate::persons::{self, Account};
use crate::reply::{self, BgError};
use crate::store::{Authorisation, Consent, ConsentState, Target};
use crate::wire::{self, AccountReference, ConsentProblem, ConsentRequest};
use crate::{clock, sca, Sandbox};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

type Answer = Result<Response, BgError>;

/// `POST /v1/consents`.
pub(crate) async fn create_consent(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    if !bg::is_json(&headers) {
        return Ok(StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response());
    }
    bg::psu_ip(&headers, true)?;
    let (redirect, nok_redirect) = bg::redirects(&headers)?;
    let request: ConsentRequest = wire::parse(&body).map_err(BgError::format)?;
    let today = clock::today();
    let checked = request
        .check(today, bank.max_consent_days)
        .map_err(|problem| match problem {
            ConsentProblem::Format(text) => BgError::format(text),
            ConsentProblem::PeriodInvalid(text) => {
                BgError::new(StatusCode::BAD_REQUEST, "PERIOD_INVALID", text)
            }
        })?;
    let now = clock::now_ms();
    let consent = Consent {
        id: uuid::Uuid::new_v4().to_string(),
        bank: bank.id,
        created_ms: now,
        access: checked.access,
        recurring: checked.recurring,
        valid_until: checked.valid_until,
        frequency_per_day: checked.frequency_per_day,
        combined: checked.combined,
        state: ConsentState::Received,
        accounts: vec![],
        balances: vec![],
        psu: None,
        psu_id: bg::header(&headers, "psu-id").map(str::to_owned),
        last_action: today,
        reads_day: None,
        reads: 0,
    };
    let consent_id = consent.id.clone();
    let authorisation = (!bank.explicit_authorisation).then(|| Authorisation {
        id: uuid::Uuid::new_v4().to_string(),
        bank: bank.id,
        target: Target::Consent {
            id: consent_id.clone(),
        },
        created_ms: now,
        redirect,
        nok_redirect,
        outcome: None,
    });
    let authorisation_id = authorisation.as_ref().map(|a| a.id.clone());
    sandbox.core.store.write(|inner| {
        inner.consents.insert(consent);
        if let Some(authorisation) = authorisation {
            inner.authorisations.insert(authorisation);
        }
    });
    let url = format!("{}/v1/consents/{consent_id}", sandbox.core.base(bank));
    let mut links = json!({
        "self": bg::href(&url),
        "status": bg::href(&format!("{url}/status")),
    });
    match authorisation_id {
        Some(id) => {
            links["scaRedirect"] = bg::href(&sca::page_url(&sandbox.core, bank, &id));
            links["scaStatus"] = bg::href(&format!("{url}/authorisations/{id}"));
        }
        None => links["startAuthorisation"] = bg::href(&format!("{url}/authorisations")),
    }
    tracing::info!(
        bank = bank.slug,
        consent_id,
        "bank sandbox: consent received"
    );
    Ok(bg::created(
        &json!({
            "consentStatus": "received",
            "consentId": consent_id,
            "_links": links,
        }),
        &url,
    ))
}

/// The consent with this id at this bank, or 404 `RESOURCE_UNKNOWN`.
pub(crate) fn find(sandbox: &Sandbox, bank: &Bank, consent_id: &str) -> Result<Consent, BgError> {
    sandbox
        .core
        .store
        .read(|inner| inner.consents.get(consent_id).cloned())
        .filter(|c| c.bank == bank.id)
        .ok_or_else(|| BgError::unknown("There is no such consent"))
}

/// The consent's status now.
pub(crate) fn status_of(sandbox: &Sandbox, consent: &Consent) -> &'static str {
    consent.status(
        clock::today(),
        clock::now_ms(),
        sandbox.core.timing().sca_expiry_ms,
    )
}

fn reference(account: &Account) -> Value {
    json!({ "iban": account.iban })
}

/// `access` as shown: once authorised, the accounts granted (by IBAN); before, as requested.
fn access_json(bank: &Bank, consent: &Consent) -> Value {
    if consent.psu.is_none() || consent.state == ConsentState::Rejected {
        return serde_json::to_value(&consent.access).unwrap_or_else(|_| json!({}));
    }
    let refs = |ids: &[String]| -> Vec<Value> {
        ids.iter()
            .filter_map(|id| persons::account(bank, id))
            .map(|a| reference(&a))
            .collect()
    };
    let mut access = json!({ "accounts": refs(&consent.accounts) });
    if consent.access.balance_scope() != wire::Scope::Nothing {
        access["balances"] = Value::Array(refs(&consent.balances));
    }
    access
}

/// `GET /v1/consents/{consentId}`.
pub(crate) async fn get_consent(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Path((_, consent_id)): Path<(String, String)>,
) -> Answer {
    let consent = find(&sandbox, bank, &consent_id)?;
    let status = status_of(&sandbox, &consent);
    let mut body = json!({
        "access": access_json(bank, &consent),
        "recurringIndicator": consent.recurring,
        "validUntil": clock::format_date(consent.valid_until),
        "frequencyPerDay": consent.frequency_per_day,
        "lastActionDate": clock::format_date(consent.last_action),
        "consentStatus": status,
    });
    if status == "valid" {
        body["_links"] = json!({
            "account": bg::href(&format!("{}/v1/accounts", sandbox.core.base(bank))),
        });
    }
    Ok(reply::json_response(StatusCode::OK, &body))
}

/// `GET /v1/consents/{consentId}/status`.
pub(crate) async fn consent_status(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Path((_, consent_id)): Path<(String, String)>,
) -> Answer {
    let consent = find(&sandbox, bank, &consent_id)?;
    Ok(reply::json_response(
        StatusCode::OK,
        &json!({ "consentStatus": status_of(&sandbox, &consent) }),
    ))
}

/// `DELETE /v1/consents/{consentId}`: 204, and the consent is `terminatedByTpp`.
pub(crate) async fn delete_consent(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Path((_, consent_id)): Path<(String, String)>,
) -> Answer {
    let today = clock::today();
    let found = sandbox.core.store.write(|inner| {
        let consent = inner
            .consents
            .get_mut(&consent_id)
            .filter(|c| c.bank == bank.id)?;
        consent.state = ConsentState::TerminatedByTpp;
        consent.last_action = today;
        Some(())
    });
    found.ok_or_else(|| BgError::unknown("There is no such consent"))?;
    tracing::info!(
        bank = bank.slug,
        consent_id,
        "bank sandbox: consent terminated by the TPP"
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The consent named in `Consent-ID` if it allows a read now; a read without `PSU-IP-Address`
/// is counted against its `frequencyPerDay`.
fn consent_for_read(
    sandbox: &Sandbox,
    bank: &Bank,
    headers: &HeaderMap,
) -> Result<Consent, BgError> {
    let consent_id = bg::header(headers, "consent-id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| BgError::format("Consent-ID is missing"))?;
    let psu_present = bg::psu_ip(headers, false)?.is_some();
    let today = clock::today();
    let now = clock::now_ms();
    let sca_expiry = sandbox.core.timing().sca_expiry_ms;
    sandbox.core.store.write(|inner| {
        let consent = inner
            .consents
            .get_mut(consent_id)
            .filter(|c| c.bank == bank.id)
            .ok_or_else(|| {
                BgError::new(
                    StatusCode::FORBIDDEN,
                    "CONSENT_UNKNOWN",
                    "Consent-ID names no consent of this bank",
                )
            })?;
        match consent.status(today, now, sca_expiry) {
            "valid" => {}
            "expired" => {
                return Err(BgError::new(
                    StatusCode::UNAUTHORIZED,
                    "CONSENT_EXPIRED",
                    "The consent has expired",
                ))
            }
            status => {
                return Err(BgError::new(
                    StatusCode::UNAUTHORIZED,
                    "CONSENT_INVALID",
                    format!("The consent is {status}, not valid"),
                ))
            }
        }
        if !psu_present {
            if consent.reads_day != Some(today) {
                consent.reads_day = Some(today);
                consent.reads = 0;
            }
            if consent.reads >= consent.frequency_per_day {
                return Err(BgError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "ACCESS_EXCEEDED",
                    "The consent's frequencyPerDay is used up for today",
                ));
            }
            consent.reads += 1;
        }
        Ok(consent.clone())
    })
}

fn balances_json(account: &Account) -> Value {
    let today = clock::today();
    let yesterday = today.previous_day().unwrap_or(today);
    let amount =
        json!({ "currency": "NOK", "amount": crate::numbers::two_decimals(account.balance) });
    json!([
        {
            "balanceAmount": amount,
            "balanceType": "closingBooked",
            "referenceDate": clock::format_date(yesterday),
        },
        {
            "balanceAmount": amount,
            "balanceType": "interimAvailable",
            "referenceDate": clock::format_date(today),
        },
    ])
}

fn account_json(
    sandbox: &Sandbox,
    bank: &Bank,
    consent: &Consent,
    account: &Account,
    with_balance: bool,
) -> Value {
    let mut body = json!({
        "resourceId": account.resource_id,
        "iban": account.iban,
        "bban": account.bban,
        "currency": "NOK",
        "name": account.name,
        "product": account.product,
        "cashAccountType": "CACC",
        "status": "enabled",
        "bic": bank.bic,
        "usage": "PRIV",
    });
    if consent.balances.contains(&account.resource_id) {
        let url = format!(
            "{}/v1/accounts/{}/balances",
            sandbox.core.base(bank),
            account.resource_id
        );
        body["_links"] = json!({ "balances": bg::href(&url) });
        if with_balance {
            body["balances"] = balances_json(account);
        }
    }
    body
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountQuery {
    #[serde(default)]
    with_balance: Option<String>,
}

impl AccountQuery {
    fn with_balance(&self) -> Result<bool, BgError> {
        match self.with_balance.as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(BgError::format("withBalance must be true or false")),
        }
    }
}

/// `GET /v1/accounts`: the accounts the consent covers.
pub(crate) async fn accounts(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Query(query): Query<AccountQuery>,
    headers: HeaderMap,
) -> Answer {
    let with_balance = query.with_balance()?;
    let consent = consent_for_read(&sandbox, bank, &headers)?;
    let accounts: Vec<Value> = consent
        .accounts
        .iter()
        .filter_map(|id| persons::account(bank, id))
        .map(|account| account_json(&sandbox, bank, &consent, &account, with_balance))
        .collect();
    Ok(reply::json_response(
        StatusCode::OK,
        &json!({ "accounts": accounts }),
    ))
}

/// An account the consent does not list: 403 if it exists at the bank, 404 if not.
fn not_covered(bank: &Bank, resource_id: &str) -> BgError {
    if persons::account(bank, resource_id).is_some() {
        BgError::new(
            StatusCode::FORBIDDEN,
            "RESOURCE_UNKNOWN",
            "The consent does not cover this account",
        )
    } else {
        BgError::unknown("There is no such account")
    }
}

/// `GET /v1/accounts/{resourceId}`.
pub(crate) async fn account(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Path((_, resource_id)): Path<(String, String)>,
    Query(query): Query<AccountQuery>,
    headers: HeaderMap,
) -> Answer {
    let with_balance = query.with_balance()?;
    let consent = consent_for_read(&sandbox, bank, &headers)?;
    let account = persons::account(bank, &resource_id)
        .filter(|_| consent.accounts.contains(&resource_id))
        .ok_or_else(|| not_covered(bank, &resource_id))?;
    Ok(reply::json_response(
        StatusCode::OK,
        &json!({ "account": account_json(&sandbox, bank, &consent, &account, with_balance) }),
    ))
}

/// `GET /v1/accounts/{resourceId}/balances`.
pub(crate) async fn balances(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Path((_, resource_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    let consent = consent_for_read(&sandbox, bank, &headers)?;
    let account = persons::account(bank, &resource_id)
        .filter(|_| consent.accounts.contains(&resource_id))
        .ok_or_else(|| not_covered(bank, &resource_id))?;
    if !consent.balances.contains(&resource_id) {
        return Err(BgError::new(
            StatusCode::UNAUTHORIZED,
            "CONSENT_INVALID",
            "The consent does not cover this account's balances",
        ));
    }
    Ok(reply::json_response(
        StatusCode::OK,
        &json!({
            "account": AccountReference::by_iban(account.iban),
            "balances": balances_json(&account),
        }),
    ))
}
