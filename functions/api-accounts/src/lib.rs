//! `api-accounts`: the user's own bank accounts, read through an AIS consent at their bank (Drop
//! as AISP). The user picks a bank, authorises a consent there (SCA by redirect), and comes back;
//! Drop then reads the consent's status from the bank (the return itself is only a hint) and
//! links the accounts it covers. Balances are read live from the bank and cached in DynamoDB
//! only (never in PostgreSQL); when the bank cannot answer, the cached balance is shown as stale.
//! A user only ever sees or touches their own accounts: another user's account is a 404.

use axum::extract::{Path, State as Extract};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use drop_shared::aws::balance_cache::{BalanceCache, CachedBalance, CachedBalances};
use drop_shared::aws::secrets::SecretStore;
use drop_shared::crypto::{self, AccountVault};
use drop_shared::domain::accounts::{
    balance_is_fresh, consent_valid_until, renewal_needed, status_after_refusal, FREQUENCY_PER_DAY,
};
use drop_shared::domain::bank::{BankDirectory, BankId, BankInfo, ConsentStatus, PaymentProduct};
use drop_shared::edge::openapi::{JsonBodyErrors, SignedInErrors};
use drop_shared::edge::{self, redirect, Authenticator, Base, Json, Query, RequestMeta, SignedIn};
use drop_shared::error::ErrorBody;
use drop_shared::providers::bank::{Bank, BankError, Banks, Psu, Redirects};
use drop_shared::routes;
use drop_shared::store::audit::Actor;
use drop_shared::store::bank_accounts::{
    self, AccountAccess, ConsentRead, LinkedAccount, NewConsent, ReportedAccount,
};
use drop_shared::store::users::today_in_norway;
use drop_shared::store::Db;
use drop_shared::{ApiError, ErrorCode};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::{Date, OffsetDateTime};
use tokio::sync::OnceCell;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

/// What api-accounts uses: the database, the session check, the banks, the balance cache and the
/// account-number vault (built on first use).
#[derive(Clone)]
pub struct State(Arc<Parts>);

pub struct Parts {
    db: Db,
    auth: Authenticator,
    secrets: SecretStore,
    directory: BankDirectory,
    banks: Banks,
    balances: BalanceCache,
    public_url: String,
    web_app_url: String,
    today_override: Option<Date>,
    vault: OnceCell<AccountVault>,
}

impl State {
    fn bank(&self, id: &BankId) -> Result<&Arc<dyn Bank>, ApiError> {
        self.0
            .banks
            .get(id)
            .ok_or_else(|| ApiError::msg(ErrorCode::Internal, "a linked bank has no client"))
    }

    async fn vault(&self) -> Result<&AccountVault, ApiError> {
        self.0
            .vault
            .get_or_try_init(|| self.0.secrets.account_vault())
            .await
    }

    /// One of the caller's linked accounts, by the id in the path, and its bank's client. An id
    /// that is not a UUID names no account: 404, like another user's.
    async fn linked(
        &self,
        user_id: Uuid,
        id: &str,
    ) -> Result<(AccountAccess, &Arc<dyn Bank>), ApiError> {
        let id: Uuid = id.parse().map_err(|_| ApiError::new(ErrorCode::NotFound))?;
        let access = bank_accounts::account_access(&self.0.db, user_id, id)
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
        let bank = self.bank(&access.account.bank)?;
        Ok((access, bank))
    }

    fn today(&self) -> Date {
        self.0
            .today_override
            .unwrap_or_else(|| today_in_norway(OffsetDateTime::now_utc()))
    }
}

impl axum::extract::FromRef<State> for Authenticator {
    fn from_ref(state: &State) -> Self {
        state.0.auth.clone()
    }
}

/// The routes and their OpenAPI entries. All but the bank's return need a signed-in user; the
/// return is matched to its consent by the token in its URL.
pub fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(list_banks))
        .routes(routes!(start_consent))
        .routes(routes!(consent_return))
        .routes(routes!(list_accounts))
        .routes(routes!(balance))
        .routes(routes!(unlink))
}

/// The routes with `banks` as the clients of the banks in `directory`.
pub fn router_with(base: &Base, directory: BankDirectory, banks: Banks) -> Router {
    edge::serving(routes).with_state(State(Arc::new(Parts {
        db: base.db.clone(),
        auth: base.authenticator(),
        secrets: base.secrets.clone(),
        directory,
        banks,
        balances: BalanceCache::new(base.aws.clone(), base.config.balance_cache_table.clone()),
        public_url: base.config.public_url.clone(),
        web_app_url: base.config.web_app_url.clone(),
        today_override: base.config.today_override,
        vault: OnceCell::new(),
    })))
}

pub fn router(base: &Base) -> Router {
    let (directory, banks) = base.banks();
    router_with(base, directory, banks)
}

/// What the Lambda serves: the routes behind the edge's layers.
pub fn app(base: &Base) -> Router {
    edge::app(router(base))
}

/// A bank a user can link, and what Drop can do there.
#[derive(Debug, Serialize, ToSchema)]
pub struct BankView {
    /// Drop's id for the bank (`dnb`); what `POST /v1/accounts/consents` takes.
    pub id: String,
    pub name: String,
    pub bic: String,
    /// Balances can be read (AIS).
    pub accounts: bool,
    /// The payment products Drop can initiate there.
    pub payment_products: Vec<String>,
    pub instant_payments: bool,
}

impl BankView {
    fn of(bank: &BankInfo) -> Self {
        Self {
            id: bank.id.as_str().to_owned(),
            name: bank.name.clone(),
            bic: bank.bic.as_str().to_owned(),
            accounts: true,
            payment_products: bank
                .products
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            instant_payments: bank.offers(PaymentProduct::InstantSepaCreditTransfers),
        }
    }
}

#[utoipa::path(
    get, path = "/v1/banks", tag = "accounts",
    responses((status = 200, description = "The banks a user can link", body = [BankView]), SignedInErrors),
    security(("bearer" = []), ("session_cookie" = []))
)]
pub async fn list_banks(Extract(state): Extract<State>, _who: SignedIn) -> Json<Vec<BankView>> {
    Json(state.0.directory.iter().map(BankView::of).collect())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartConsent {
    /// The bank's id from `GET /v1/banks`.
    #[schema(example = "dnb")]
    pub bank: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentStartedView {
    /// Drop's id for the consent.
    pub consent_id: Uuid,
    /// Where to send the user to authorise the consent at their bank.
    pub sca_redirect: String,
    pub status: String,
}

#[utoipa::path(
    post, path = "/v1/accounts/consents", tag = "accounts",
    request_body = StartConsent,
    responses(
        (status = 201, description = "The consent the bank created; send the user to `sca_redirect`", body = ConsentStartedView),
        SignedInErrors, JsonBodyErrors,
        (status = 404, description = "No such bank in `GET /v1/banks` (`not_found`, detail `unknown_bank`)", body = ErrorBody),
        (status = 502, description = "The bank answered in a way Drop cannot use (`bank_error`)", body = ErrorBody),
        (status = 503, description = "The bank or the database is unavailable (`bank_unavailable`, `service_unavailable`)", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
    security(("bearer" = []), ("session_cookie" = []))
)]
pub async fn start_consent(
    Extract(state): Extract<State>,
    meta: RequestMeta,
    SignedIn(who): SignedIn,
    Json(body): Json<StartConsent>,
) -> Result<(StatusCode, Json<ConsentStartedView>), ApiError> {
    // A bank the directory does not have is not found, like any unknown resource.
    let unknown = || {
        ApiError::new(ErrorCode::NotFound).with_detail(drop_shared::error::ErrorDetail::new(
            "bank",
            "unknown_bank",
            "Not a bank from GET /v1/banks.",
        ))
    };
    let id: BankId = body.bank.parse().map_err(|_| unknown())?;
    let info = state.0.directory.get(&id).ok_or_else(unknown)?;
    let bank = state.bank(&info.id)?;
    let ip = meta
        .client_ip
        .ok_or_else(|| ApiError::msg(ErrorCode::Internal, "no client address"))?;
    let token = crypto::random_token(32).map_err(ApiError::internal)?;
    let back = format!(
        "{}/v1/accounts/consents/return?token={token}",
        state.0.public_url
    );
    let redirects = Redirects {
        ok: back.clone(),
        nok: format!("{back}&result=nok"),
        notification: None,
    };
    let valid_until = consent_valid_until(state.today());
    let started = bank
        .create_consent(
            valid_until,
            FREQUENCY_PER_DAY,
            &Psu::present(ip),
            &redirects,
        )
        .await?;
    let consent_id = bank_accounts::record_consent(
        &state.0.db,
        &meta.origin(),
        who.actor(),
        NewConsent {
            user_id: who.user_id,
            bank: &info.id,
            external_id: &started.consent_id,
            status: started.status,
            valid_until: None,
            frequency_per_day: FREQUENCY_PER_DAY,
            return_token_hash: crypto::sha256(token.as_bytes()),
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ConsentStartedView {
            consent_id,
            sca_redirect: started.sca_redirect.to_string(),
            status: started.status.as_str().to_owned(),
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReturnQuery {
    /// The token Drop put in the return URL it gave the bank.
    pub token: String,
    /// `nok` when the bank sent the user back through the failure URL (a hint only).
    pub result: Option<String>,
}

#[utoipa::path(
    get, path = "/v1/accounts/consents/return", tag = "accounts",
    params(ReturnQuery),
    responses(
        (status = 302, description = "Back to the web app's accounts page with `link=linked|pending|failed`, after reading the consent's status from the bank", headers(("Location" = String, description = "The web app"))),
        (status = 404, description = "No consent has this token (`not_found`)", body = ErrorBody),
        (status = 422, description = "No token (`validation_failed`)", body = ErrorBody),
    )
)]
pub async fn consent_return(
    Extract(state): Extract<State>,
    meta: RequestMeta,
    Query(query): Query<ReturnQuery>,
) -> Result<Response, ApiError> {
    let consent = bank_accounts::consent_by_return_token(
        &state.0.db,
        &crypto::sha256(query.token.as_bytes()),
    )
    .await?
    .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    let outcome = |link: &str| {
        redirect(
            &format!("{}/accounts?link={link}", state.0.web_app_url),
            &[],
        )
    };
    if consent.status.is_final() || consent.status == ConsentStatus::Valid {
        // Already settled by an earlier return: say how it ended, change nothing.
        return outcome(if consent.status == ConsentStatus::Valid {
            "linked"
        } else {
            "failed"
        });
    }
    let bank = state.bank(&consent.bank)?;
    let psu = meta.client_ip.map_or_else(Psu::absent, Psu::present);
    // The redirect is a hint: the bank's word decides, whichever URL the user came back by.
    let details = bank.consent(&consent.external_id, &psu).await?;
    let actor = Actor::User(consent.user_id);
    if details.status != ConsentStatus::Valid {
        if details.status != consent.status {
            bank_accounts::apply_consent_status(
                &state.0.db,
                &meta.origin(),
                actor,
                &consent,
                ConsentRead {
                    status: details.status,
                    valid_until: Some(details.valid_until),
                    accounts: &[],
                },
                state.vault().await?,
            )
            .await?;
        }
        return outcome(if details.status.is_final() {
            "failed"
        } else {
            "pending"
        });
    }
    let accounts = bank.accounts(&consent.external_id, &psu).await?;
    let reported: Vec<ReportedAccount<'_>> = accounts
        .iter()
        .map(|a| ReportedAccount {
            resource_id: &a.resource_id,
            iban: a.iban.expose(),
            currency: a.currency.code(),
            name: a.name.as_ref().map(|n| n.expose().as_str()),
            product: a.product.as_deref(),
        })
        .collect();
    bank_accounts::apply_consent_status(
        &state.0.db,
        &meta.origin(),
        actor,
        &consent,
        ConsentRead {
            status: ConsentStatus::Valid,
            valid_until: Some(details.valid_until),
            accounts: &reported,
        },
        state.vault().await?,
    )
    .await?;
    outcome("linked")
}

/// A linked account as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: Uuid,
    /// Drop's id for the bank.
    pub bank: String,
    pub bank_name: String,
    /// The bank's name for the account.
    pub name: Option<String>,
    pub currency: String,
    /// The account number's last four characters; never more.
    pub account_last4: String,
    pub consent_status: String,
    #[serde(with = "drop_shared::domain::iso_date::option")]
    #[schema(value_type = Option<String>, format = Date)]
    pub consent_valid_until: Option<Date>,
    /// The consent has ended or ends within 7 days: the user should link the account again.
    pub renewal_needed: bool,
}

impl AccountView {
    fn of(account: &LinkedAccount, directory: &BankDirectory, today: Date) -> Self {
        let bank = account.bank.as_str().to_owned();
        let bank_name = directory
            .get(&account.bank)
            .map_or_else(|| bank.clone(), |b| b.name.clone());
        Self {
            id: account.id,
            bank,
            bank_name,
            name: account.name.clone(),
            currency: account.currency.clone(),
            account_last4: account.last4.clone(),
            consent_status: account.consent_status.as_str().to_owned(),
            consent_valid_until: account.consent_valid_until,
            renewal_needed: renewal_needed(
                account.consent_status,
                account.consent_valid_until,
                today,
            ),
        }
    }
}

#[utoipa::path(
    get, path = "/v1/accounts", tag = "accounts",
    responses((status = 200, description = "The signed-in user's linked accounts, newest first", body = [AccountView]), SignedInErrors),
    security(("bearer" = []), ("session_cookie" = []))
)]
pub async fn list_accounts(
    Extract(state): Extract<State>,
    SignedIn(who): SignedIn,
) -> Result<Json<Vec<AccountView>>, ApiError> {
    let today = state.today();
    let accounts = bank_accounts::linked_accounts(&state.0.db, who.user_id).await?;
    Ok(Json(
        accounts
            .iter()
            .map(|a| AccountView::of(a, &state.0.directory, today))
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceAmount {
    /// The Berlin Group `balanceType` (`closingBooked`, `interimAvailable`, ...).
    pub kind: String,
    /// Decimal string; negative for an overdraft.
    #[schema(value_type = String, example = "12345.67")]
    pub amount: Decimal,
    pub currency: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceView {
    pub account_id: Uuid,
    pub balances: Vec<BalanceAmount>,
    /// When the bank reported these balances.
    #[serde(with = "time::serde::rfc3339")]
    pub fetched_at: OffsetDateTime,
    /// Seconds since then.
    pub age_seconds: i64,
    /// The bank could not be reached: these are the last balances it reported.
    pub stale: bool,
}

impl BalanceView {
    fn of(account_id: Uuid, cached: CachedBalances, now: OffsetDateTime, stale: bool) -> Self {
        Self {
            account_id,
            age_seconds: (now - cached.fetched_at).whole_seconds().max(0),
            fetched_at: cached.fetched_at,
            balances: cached
                .balances
                .into_iter()
                .map(|b| BalanceAmount {
                    kind: b.kind,
                    amount: b.amount,
                    currency: b.currency,
                })
                .collect(),
            stale,
        }
    }
}

#[utoipa::path(
    get, path = "/v1/accounts/{id}/balance", tag = "accounts",
    params(("id" = Uuid, Path, description = "The linked account")),
    responses(
        (status = 200, description = "The balances, read from the bank now (or seconds ago); `stale` when the bank could not answer and these are the last it reported", body = BalanceView),
        SignedInErrors,
        (status = 404, description = "No such linked account of the user's (`not_found`)", body = ErrorBody),
        (status = 409, description = "The consent has ended: link the account again (`consent_expired`)", body = ErrorBody),
        (status = 502, description = "The bank answered in a way Drop cannot use, and no recent balance is kept (`bank_error`)", body = ErrorBody),
        (status = 503, description = "The bank is unavailable and no recent balance is kept (`bank_unavailable`)", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
    security(("bearer" = []), ("session_cookie" = []))
)]
pub async fn balance(
    Extract(state): Extract<State>,
    meta: RequestMeta,
    SignedIn(who): SignedIn,
    Path(id): Path<String>,
) -> Result<Json<BalanceView>, ApiError> {
    let (access, bank) = state.linked(who.user_id, &id).await?;
    let id = access.account.id;
    if !access.account.consent_status.is_usable() {
        return Err(ApiError::new(ErrorCode::ConsentExpired));
    }
    let now = OffsetDateTime::now_utc();
    let cached = match state.0.balances.get(who.user_id, id, now).await {
        Ok(cached) => cached,
        Err(e) => {
            tracing::warn!(error = %drop_shared::error::log_chain(&e), "balance cache unreadable");
            None
        }
    };
    if let Some(fresh) = cached
        .as_ref()
        .filter(|c| balance_is_fresh(c.fetched_at, now))
    {
        return Ok(Json(BalanceView::of(id, fresh.clone(), now, false)));
    }
    let psu = meta.client_ip.map_or_else(Psu::absent, Psu::present);
    let read = bank
        .balances(&access.consent_external_id, &access.resource_id, &psu)
        .await;
    match read {
        Ok(balances) => {
            let fetched = CachedBalances {
                balances: balances
                    .iter()
                    .map(|b| CachedBalance {
                        kind: b.balance_type.as_str().to_owned(),
                        amount: b.amount,
                        currency: b.currency.code().to_owned(),
                    })
                    .collect(),
                fetched_at: now,
            };
            if let Err(e) = state.0.balances.put(who.user_id, id, &fetched).await {
                tracing::warn!(error = %drop_shared::error::log_chain(&e), "balance cache not written");
            }
            Ok(Json(BalanceView::of(id, fetched, now, false)))
        }
        Err(BankError::ConsentNotValid { expired, .. }) => {
            bank_accounts::set_consent_status(
                &state.0.db,
                &meta.origin(),
                who.actor(),
                access.account.consent_id,
                status_after_refusal(expired),
            )
            .await?;
            Err(ApiError::new(ErrorCode::ConsentExpired))
        }
        Err(e) if e.is_bank_failure() => match cached {
            Some(last) => {
                tracing::warn!(error = %drop_shared::error::log_chain(&e), "bank unavailable: answering the cached balance");
                Ok(Json(BalanceView::of(id, last, now, true)))
            }
            None => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unlinked {
    /// Every account the consent covered: ending it at the bank unlinks them all.
    pub unlinked: Vec<Uuid>,
}

#[utoipa::path(
    delete, path = "/v1/accounts/{id}", tag = "accounts",
    params(("id" = Uuid, Path, description = "The linked account")),
    responses(
        (status = 200, description = "The consent was ended at the bank and its accounts unlinked; past transactions keep naming them", body = Unlinked),
        SignedInErrors,
        (status = 404, description = "No such linked account of the user's (`not_found`)", body = ErrorBody),
        (status = 502, description = "The bank refused to end the consent: the account is still linked (`bank_error`)", body = ErrorBody),
        (status = 503, description = "The bank is unavailable: the account is still linked (`bank_unavailable`)", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
    security(("bearer" = []), ("session_cookie" = []))
)]
pub async fn unlink(
    Extract(state): Extract<State>,
    meta: RequestMeta,
    SignedIn(who): SignedIn,
    Path(id): Path<String>,
) -> Result<Json<Unlinked>, ApiError> {
    let (access, bank) = state.linked(who.user_id, &id).await?;
    if !access.account.consent_status.is_final() {
        let psu = meta.client_ip.map_or_else(Psu::absent, Psu::present);
        match bank.delete_consent(&access.consent_external_id, &psu).await {
            // Already gone at the bank: nothing left to end there.
            Ok(()) | Err(BankError::ConsentNotValid { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let unlinked = bank_accounts::unlink_consent(
        &state.0.db,
        &meta.origin(),
        who.actor(),
        who.user_id,
        access.account.consent_id,
    )
    .await?;
    Ok(Json(Unlinked { unlinked }))
}
