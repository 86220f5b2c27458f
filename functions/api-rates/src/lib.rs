//! `api-rates`: the public price list. Exchange rates, the corridors Drop sends money
//! through, and quotes a later payment honours until they expire.

use axum::extract::State as Extract;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::{Extension, Router};
use drop_shared::aws::rate_limit::RatePolicy;
use drop_shared::domain::corridor::{self, Corridor, Rail};
use drop_shared::domain::country::CountryCode;
use drop_shared::domain::money::{Currency, Money, MoneyJson};
use drop_shared::domain::quote::{ExchangeRate, PricingPolicy, QuoteTerms, SEND_CURRENCY};
use drop_shared::edge::openapi::{JsonBodyErrors, RateLimited, Unavailable};
use drop_shared::edge::{self, Base, Json, Query};
use drop_shared::error::{ErrorBody, ErrorDetail};
use drop_shared::routes;
use drop_shared::store::rates::{self, RateBoard};
use drop_shared::store::Db;
use drop_shared::{ApiError, ErrorCode};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

/// How long an instance serves the public rate list before reading it again.
pub const RATE_BOARD_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// What api-rates uses: the database, the instance's rate list and the pricing policy.
#[derive(Clone)]
pub struct State(Arc<Parts>);

pub struct Parts {
    db: Db,
    rate_board: RateBoard,
    pricing: PricingPolicy,
}

impl State {
    pub fn new(base: &Base) -> Self {
        Self(Arc::new(Parts {
            db: base.db.clone(),
            rate_board: RateBoard::new(RATE_BOARD_TTL),
            pricing: PricingPolicy {
                quote_ttl: base.config.quote_ttl,
                ..PricingPolicy::default()
            },
        }))
    }
}

/// The routes and their OpenAPI entries; public, rate-limited per client IP.
pub fn routes() -> OpenApiRouter<State> {
    let reads = OpenApiRouter::new()
        .routes(routes!(list_exchange_rates))
        .routes(routes!(list_corridors))
        .route_layer(from_fn_with_state(RatePolicy::EXCHANGE_RATES, edge::limit));
    let quotes = OpenApiRouter::new()
        .routes(routes!(create_quote))
        .route_layer(from_fn_with_state(RatePolicy::QUOTES, edge::limit));
    reads.merge(quotes)
}

pub fn router(base: &Base) -> Router {
    let router = edge::serving(routes);
    router
        .with_state(State::new(base))
        .layer(Extension(base.rate_limiter()))
}

/// One NOK exchange rate as the customer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateView {
    pub currency: Currency,
    /// Units of `currency` for one NOK at the reference rate.
    #[schema(value_type = String, example = "0.085")]
    pub reference_rate: Decimal,
    /// Units of `currency` for one NOK the customer gets.
    #[schema(value_type = String, example = "0.08415")]
    pub customer_rate: Decimal,
    /// Mark-up of the customer rate over the reference rate, in percent.
    #[schema(value_type = String, example = "1.00")]
    pub markup_percent: Decimal,
    pub source: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub as_of: OffsetDateTime,
}

impl From<&ExchangeRate> for RateView {
    fn from(r: &ExchangeRate) -> Self {
        Self {
            currency: r.currency,
            reference_rate: r.reference_rate,
            customer_rate: r.customer_rate(),
            markup_percent: r.markup_percent(),
            source: r.source.clone(),
            as_of: r.as_of,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RatesView {
    pub base: Currency,
    pub rates: Vec<RateView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RatesQuery {
    /// Only this payout currency, e.g. EUR.
    #[param(value_type = Option<Currency>)]
    pub currency: Option<String>,
}

#[utoipa::path(
    get, path = "/v1/exchange-rates", tag = "rates",
    params(RatesQuery),
    responses(
        (status = 200, description = "Current rates from NOK", body = RatesView),
        (status = 422, description = "Unsupported currency", body = ErrorBody),
        RateLimited,
        Unavailable,
    )
)]
pub async fn list_exchange_rates(
    Extract(state): Extract<State>,
    Query(query): Query<RatesQuery>,
) -> Result<Json<RatesView>, ApiError> {
    let only: Option<Currency> = match query.currency.as_deref() {
        Some(code) => Some(
            code.parse()
                .map_err(|_| ApiError::new(ErrorCode::UnsupportedCurrency))?,
        ),
        None => None,
    };
    let rates = state.0.rate_board.current(&state.0.db).await?;
    let rates = rates
        .iter()
        .filter(|r| only.is_none_or(|c| r.currency == c))
        .map(RateView::from)
        .collect();
    Ok(Json(RatesView {
        base: SEND_CURRENCY,
        rates,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CorridorView {
    pub country: CountryCode,
    pub country_name: &'static str,
    pub currency: Currency,
    pub rail: Rail,
    /// Whether the recipient's account must be given as an IBAN.
    pub iban_required: bool,
    pub min_send: MoneyJson,
    pub max_send: MoneyJson,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CorridorsView {
    pub corridors: Vec<CorridorView>,
}

#[utoipa::path(
    get, path = "/v1/corridors", tag = "rates",
    responses(
        (status = 200, description = "Every destination Drop sends money to", body = CorridorsView),
        RateLimited,
    )
)]
pub async fn list_corridors(Extract(state): Extract<State>) -> Json<CorridorsView> {
    let pricing = &state.0.pricing;
    let limit = |amount| MoneyJson {
        amount: Money::round_down(amount, SEND_CURRENCY)
            .map(|m| m.to_amount_string())
            .unwrap_or_default(),
        currency: SEND_CURRENCY,
    };
    let corridors = corridor::all()
        .map(|c: Corridor| CorridorView {
            country: c.country,
            country_name: c.country_name,
            currency: c.currency,
            rail: c.rail(),
            iban_required: c.iban_required,
            min_send: limit(pricing.min_send),
            max_send: limit(pricing.max_send),
        })
        .collect();
    Json(CorridorsView { corridors })
}

/// A request for a price. Amounts are decimal strings, never JSON numbers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    /// A corridor's country (see `GET /v1/corridors`).
    #[schema(schema_with = corridor_country)]
    pub destination_country: String,
    /// NOK to send, as a decimal string with at most two decimals, from 100 to 50 000.
    #[schema(value_type = String, example = "1500.00", pattern = r"^(?:0*(?:[1-9][0-9]{2,3}|[1-4][0-9]{4})(?:\.[0-9]{1,2}0*)?|0*50000(?:\.0+)?)$")]
    pub send_amount: serde_json::Value,
    /// Optional; NOK when given.
    #[schema(schema_with = send_currency)]
    pub send_currency: Option<String>,
}

/// The countries of [`corridor::all`], as the document's enum.
fn corridor_country() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(corridor::all().map(|c| c.country.as_str().to_owned())))
        .examples([serde_json::json!("PL")])
        .build()
}

fn send_currency() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some([
            serde_json::json!(SEND_CURRENCY.code()),
            serde_json::Value::Null,
        ]))
        .build()
}

impl QuoteRequest {
    /// Parses the request into the corridor and the amount, or says exactly what is wrong.
    fn parse(&self) -> Result<(Corridor, Money), ApiError> {
        let country: CountryCode = self.destination_country.parse().map_err(|_| {
            ApiError::new(ErrorCode::ValidationFailed).with_detail(ErrorDetail::new(
                "destination_country",
                "invalid_country",
                "Use an ISO 3166-1 alpha-2 country code such as \"PL\".",
            ))
        })?;
        let corridor = Corridor::find(country).ok_or_else(|| {
            ApiError::new(ErrorCode::UnknownCorridor).with_detail(ErrorDetail::new(
                "destination_country",
                "unknown_corridor",
                "See GET /v1/corridors.",
            ))
        })?;
        if let Some(currency) = &self.send_currency {
            if currency.parse::<Currency>().ok() != Some(SEND_CURRENCY) {
                return Err(ApiError::msg(
                    ErrorCode::UnsupportedCurrency,
                    "Payments are sent in NOK.",
                )
                .with_detail(ErrorDetail::new(
                    "send_currency",
                    "unsupported_currency",
                    "Only NOK is supported.",
                )));
            }
        }
        let text = self.send_amount.as_str().ok_or_else(|| {
            ApiError::msg(
                ErrorCode::InvalidAmount,
                "Amounts are decimal strings such as \"1500.00\", not numbers.",
            )
            .with_detail(ErrorDetail::new(
                "send_amount",
                "not_a_string",
                "Send the amount as a string.",
            ))
        })?;
        let send = Money::parse(text, SEND_CURRENCY)?;
        Ok((corridor, send))
    }
}

/// A priced remittance: what the customer pays, at which rate, and what arrives.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteView {
    pub id: Uuid,
    pub destination_country: CountryCode,
    pub rail: Rail,
    pub send: MoneyJson,
    pub fee: MoneyJson,
    pub total_charged: MoneyJson,
    #[schema(value_type = String)]
    pub reference_rate: Decimal,
    #[schema(value_type = String)]
    pub customer_rate: Decimal,
    /// Mark-up of the customer rate over the reference rate, in percent (EU 2021/1230).
    #[schema(value_type = String)]
    pub markup_percent: Decimal,
    pub receive: MoneyJson,
    pub rate_source: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

impl QuoteView {
    fn new(id: Uuid, t: &QuoteTerms) -> Self {
        Self {
            id,
            destination_country: t.corridor.country,
            rail: t.corridor.rail(),
            send: t.send.into(),
            fee: t.fee.into(),
            total_charged: t.total_charged.into(),
            reference_rate: t.reference_rate,
            customer_rate: t.customer_rate,
            markup_percent: t.markup_percent,
            receive: t.receive.into(),
            rate_source: t.rate_source.clone(),
            created_at: t.created_at,
            expires_at: t.expires_at,
        }
    }
}

#[utoipa::path(
    post, path = "/v1/quotes", tag = "rates",
    request_body = QuoteRequest,
    responses(
        (status = 201, description = "The quote, stored and honoured until it expires", body = QuoteView),
        JsonBodyErrors,
        (status = 422, description = "Invalid amount, amount out of range, unknown corridor or unsupported currency", body = ErrorBody),
        RateLimited,
        (status = 503, description = "No current exchange rate for the corridor, or the database unavailable", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds"))),
    )
)]
pub async fn create_quote(
    Extract(state): Extract<State>,
    Json(request): Json<QuoteRequest>,
) -> Result<(StatusCode, Json<QuoteView>), ApiError> {
    let state = &state.0;
    let (corridor, send) = request.parse()?;
    state.pricing.check_send_amount(send)?;
    let conn = state.db.conn().await?;
    let rate = rates::current_rate(&conn, corridor.currency)
        .await?
        .ok_or_else(|| {
            ApiError::msg(
                ErrorCode::ServiceUnavailable,
                "There is no current exchange rate for this corridor.",
            )
            .with_retry_after(60)
        })?;
    let terms = state
        .pricing
        .price(send, corridor, &rate, OffsetDateTime::now_utc())?;
    let id = rates::insert_quote(&conn, &terms, None).await?;
    Ok((StatusCode::CREATED, Json(QuoteView::new(id, &terms))))
}

/// What the Lambda serves: the routes behind the edge's layers.
pub fn app(base: &Base) -> Router {
    edge::app(router(base))
}
