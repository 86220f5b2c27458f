//! `api-me`: the signed-in user's own profile, settings, notifications and spending limits.
//! Every query is scoped to the caller's id; every change writes an audit row.

use drop_shared::store::audit::{self, AuditEntry};
use drop_shared::edge::auth::{Me, Principal};
use drop_shared::error::{ErrorBody, ErrorDetail};
use drop_shared::edge::{ok_json, ApiRequest, HandlerResult, RouteSpec, Router};
use drop_shared::domain::ids::NorwegianMobile;
use drop_shared::domain::limits::SpendingLimits;
use drop_shared::domain::money::{Currency, Money, MoneyJson};
use drop_shared::{ApiError, AppState, ErrorCode};
use http::{Method, StatusCode};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use tokio_postgres::types::Type;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

pub const FUNCTION: &str = "api-me";

pub fn router() -> Router {
    Router::new(FUNCTION)
        .route(RouteSpec::signed_in(Method::GET, "/v1/me"), get_me)
        .route(RouteSpec::signed_in(Method::PATCH, "/v1/me"), patch_me)
        .route(
            RouteSpec::signed_in(Method::GET, "/v1/me/settings"),
            get_settings,
        )
        .route(
            RouteSpec::signed_in(Method::PUT, "/v1/me/settings"),
            put_settings,
        )
        .route(
            RouteSpec::signed_in(Method::GET, "/v1/me/notifications"),
            list_notifications,
        )
        .route(
            RouteSpec::signed_in(Method::POST, "/v1/me/notifications/{id}/read"),
            mark_read,
        )
        .route(
            RouteSpec::signed_in(Method::GET, "/v1/me/limits"),
            get_limits,
        )
        .route(
            RouteSpec::signed_in(Method::PUT, "/v1/me/limits"),
            put_limits,
        )
}

#[derive(OpenApi)]
#[openapi(paths(
    get_me,
    patch_me,
    get_settings,
    put_settings,
    list_notifications,
    mark_read,
    get_limits,
    put_limits
))]
pub struct ApiDoc;

fn invalid(field: &str, code: &str, message: &str) -> ApiError {
    ApiError::new(ErrorCode::ValidationFailed).with_detail(ErrorDetail::new(field, code, message))
}

async fn audited(
    state: &AppState,
    req: &ApiRequest,
    who: &Principal,
    action: &str,
    target: (&str, Uuid),
    details: serde_json::Value,
    change: impl AsyncFnOnce(&tokio_postgres::Transaction<'_>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let mut conn = state.db.conn().await?;
    let tx = conn.transaction().await?;
    change(&tx).await?;
    audit::record(
        &*tx,
        &req.origin(),
        AuditEntry {
            actor: who.actor(),
            action,
            target: Some(target),
            details,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[utoipa::path(get, path = "/v1/me", tag = "me", responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn get_me(_state: AppState, req: ApiRequest) -> HandlerResult {
    ok_json(&Me::of(req.principal()?))
}

/// `absent` leaves a field as it is; `null` clears it (where it may be cleared).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    /// A Norwegian mobile number (`+47 412 34 567`, `41234567`, …); required before paying.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone_number: Option<Option<String>>,
    /// An email address, or `null` to remove it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
}

fn parse_email(s: &str) -> Result<String, ApiError> {
    let s = s.trim();
    let valid = s.len() <= 254
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && s.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.split('.').count() >= 2
                && domain.split('.').all(|p| !p.is_empty())
        });
    if valid {
        Ok(s.to_owned())
    } else {
        Err(invalid(
            "email",
            "invalid_email",
            "Give an email address such as kari@example.no.",
        ))
    }
}

#[utoipa::path(
    patch, path = "/v1/me", tag = "me", request_body = ProfileChange,
    responses((status = 200, body = Me), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn patch_me(state: AppState, req: ApiRequest) -> HandlerResult {
    let who = req.principal()?;
    let change: ProfileChange = req.json()?;
    let phone =
        match &change.phone_number {
            None => None,
            Some(None) => {
                return Err(invalid(
                    "phone_number",
                    "required",
                    "A mobile number cannot be removed, only changed.",
                ))
            }
            Some(Some(text)) => Some(text.parse::<NorwegianMobile>().map_err(|e| {
                invalid("phone_number", "invalid_phone_number", &format!("The {e}."))
            })?),
        };
    let email = match &change.email {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => Some(Some(parse_email(text)?)),
    };
    let mut me = Me::of(who);
    let mut fields = Vec::new();
    if let Some(phone) = &phone {
        me.profile.phone_number = Some(phone.as_str().to_owned());
        fields.push("phone_number");
    }
    if let Some(email) = &email {
        me.profile.email = email.clone();
        fields.push("email");
    }
    if fields.is_empty() {
        return ok_json(&me);
    }
    let (phone_value, email_value) = (me.profile.phone_number.clone(), me.profile.email.clone());
    let (set_phone, set_email) = (phone.is_some(), email.is_some());
    audited(
        &state,
        &req,
        who,
        "user.profile_updated",
        ("user", who.user_id),
        serde_json::json!({ "fields": fields }),
        async |tx| {
            // Only the fields sent are written: two changes at once never undo each other.
            tx.query_typed(
                "UPDATE users SET phone_e164 = CASE WHEN $4 THEN $2 ELSE phone_e164 END,
                              email = CASE WHEN $5 THEN $3 ELSE email END
             WHERE id = $1",
                &[
                    (&who.user_id, Type::UUID),
                    (&phone_value, Type::TEXT),
                    (&email_value, Type::TEXT),
                    (&set_phone, Type::BOOL),
                    (&set_email, Type::BOOL),
                ],
            )
            .await?;
            Ok(())
        },
    )
    .await?;
    ok_json(&me)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `nb` or `en`.
    pub language: String,
    pub push_notifications: bool,
    pub email_notifications: bool,
}

#[utoipa::path(get, path = "/v1/me/settings", tag = "me", responses((status = 200, body = Settings), (status = 401, body = ErrorBody)))]
pub async fn get_settings(state: AppState, req: ApiRequest) -> HandlerResult {
    let who = req.principal()?;
    let conn = state.db.conn().await?;
    let rows = conn
        .query_typed("SELECT language, push_notifications, email_notifications FROM settings WHERE user_id = $1", &[(&who.user_id, Type::UUID)])
        .await?;
    let settings = match rows.first() {
        Some(row) => Settings {
            language: row.try_get(0)?,
            push_notifications: row.try_get(1)?,
            email_notifications: row.try_get(2)?,
        },
        None => Settings {
            language: "nb".into(),
            push_notifications: true,
            email_notifications: true,
        },
    };
    ok_json(&settings)
}

#[utoipa::path(
    put, path = "/v1/me/settings", tag = "me", request_body = Settings,
    responses((status = 200, body = Settings), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn put_settings(state: AppState, req: ApiRequest) -> HandlerResult {
    let who = req.principal()?;
    let settings: Settings = req.json()?;
    if !matches!(settings.language.as_str(), "nb" | "en") {
        return Err(invalid(
            "language",
            "unsupported_language",
            "Use `nb` or `en`.",
        ));
    }
    audited(&state, &req, who, "settings.updated", ("user", who.user_id), serde_json::json!({}), async |tx| {
        tx.query_typed(
            "INSERT INTO settings (user_id, language, push_notifications, email_notifications) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id) DO UPDATE SET language = EXCLUDED.language,
                 push_notifications = EXCLUDED.push_notifications, email_notifications = EXCLUDED.email_notifications",
            &[
                (&who.user_id, Type::UUID),
                (&settings.language, Type::TEXT),
                (&settings.push_notifications, Type::BOOL),
                (&settings.email_notifications, Type::BOOL),
            ],
        )
        .await?;
        Ok(())
    })
    .await?;
    ok_json(&settings)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Notification {
    pub id: Uuid,
    pub kind: String,
    pub title: String,
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub read_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub notifications: Vec<Notification>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A page position: the (created_at, id) of the last item shown, newest first.
fn encode_cursor(created_at: OffsetDateTime, id: Uuid) -> String {
    format!(
        "{}_{}",
        created_at.unix_timestamp_nanos() / 1000,
        id.simple()
    )
}

fn decode_cursor(cursor: &str) -> Result<(OffsetDateTime, Uuid), ApiError> {
    let bad = || {
        invalid(
            "cursor",
            "invalid_cursor",
            "Use the next_cursor of the previous page.",
        )
    };
    let (micros, id) = cursor.split_once('_').ok_or_else(bad)?;
    let micros: i128 = micros.parse().map_err(|_| bad())?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(micros.checked_mul(1000).ok_or_else(bad)?)
        .map_err(|_| bad())?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

#[utoipa::path(
    get, path = "/v1/me/notifications", tag = "me",
    params(("limit" = Option<u32>, Query, description = "1–100, default 20"), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = NotificationPage), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn list_notifications(state: AppState, req: ApiRequest) -> HandlerResult {
    let who = req.principal()?;
    let limit: i64 = match req.query_param("limit") {
        None => 20,
        Some(s) => s
            .parse()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| invalid("limit", "out_of_range", "Use 1 to 100."))?,
    };
    let after = req.query_param("cursor").map(decode_cursor).transpose()?;
    let (at, id) = after.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    let conn = state.db.conn().await?;
    let rows = conn
        .query_typed(
            "SELECT id, kind, title, body, created_at, read_at FROM notifications
             WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
             ORDER BY created_at DESC, id DESC LIMIT $4",
            &[
                (&who.user_id, Type::UUID),
                (&at, Type::TIMESTAMPTZ),
                (&id, Type::UUID),
                (&(limit + 1), Type::INT8),
            ],
        )
        .await?;
    let mut notifications = rows
        .iter()
        .map(|r| {
            Ok(Notification {
                id: r.try_get(0)?,
                kind: r.try_get(1)?,
                title: r.try_get(2)?,
                body: r.try_get(3)?,
                created_at: r.try_get(4)?,
                read_at: r.try_get(5)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    let more = notifications.len() as i64 > limit;
    notifications.truncate(usize::try_from(limit).unwrap_or(20));
    let next_cursor = if more {
        notifications
            .last()
            .map(|n| encode_cursor(n.created_at, n.id))
    } else {
        None
    };
    ok_json(&NotificationPage {
        notifications,
        next_cursor,
    })
}

#[utoipa::path(
    post, path = "/v1/me/notifications/{id}/read", tag = "me",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Read (again, harmlessly)"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn mark_read(state: AppState, req: ApiRequest) -> HandlerResult {
    let who = req.principal()?;
    let id: Uuid = req
        .path_param("id")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    audited(&state, &req, who, "notification.read", ("notification", id), serde_json::json!({}), async |tx| {
        let rows = tx
            .query_typed(
                "UPDATE notifications SET read_at = coalesce(read_at, now()) WHERE id = $1 AND user_id = $2 RETURNING id",
                &[(&id, Type::UUID), (&who.user_id, Type::UUID)],
            )
            .await?;
        if rows.is_empty() {
            return Err(ApiError::new(ErrorCode::NotFound));
        }
        Ok(())
    })
    .await?;
    let mut response = http::Response::new(lambda_http::Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LimitsView {
    pub daily: MoneyJson,
    pub monthly: MoneyJson,
    /// The most a user may choose.
    pub max_daily: MoneyJson,
    pub max_monthly: MoneyJson,
}

impl LimitsView {
    fn of(limits: SpendingLimits) -> Self {
        let caps = SpendingLimits::caps();
        Self {
            daily: limits.daily.into(),
            monthly: limits.monthly.into(),
            max_daily: caps.daily.into(),
            max_monthly: caps.monthly.into(),
        }
    }
}

#[utoipa::path(get, path = "/v1/me/limits", tag = "me", responses((status = 200, body = LimitsView), (status = 401, body = ErrorBody)))]
pub async fn get_limits(state: AppState, req: ApiRequest) -> HandlerResult {
    let who = req.principal()?;
    let conn = state.db.conn().await?;
    let rows = conn
        .query_typed(
            "SELECT daily_limit, monthly_limit FROM spending_limits WHERE user_id = $1",
            &[(&who.user_id, Type::UUID)],
        )
        .await?;
    let limits = match rows.first() {
        Some(row) => {
            let nok = |d: Decimal| Money::round_down(d, Currency::NOK).map_err(ApiError::from);
            SpendingLimits {
                daily: nok(row.try_get(0)?)?,
                monthly: nok(row.try_get(1)?)?,
            }
        }
        None => SpendingLimits::product_default(),
    };
    ok_json(&LimitsView::of(limits))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsChange {
    /// NOK per day, a decimal string.
    #[schema(value_type = String, example = "20000.00")]
    pub daily: serde_json::Value,
    /// NOK per month, a decimal string.
    #[schema(value_type = String, example = "80000.00")]
    pub monthly: serde_json::Value,
}

fn nok_field(value: &serde_json::Value, field: &str) -> Result<Money, ApiError> {
    let text = value.as_str().ok_or_else(|| {
        ApiError::msg(
            ErrorCode::InvalidAmount,
            "Amounts are decimal strings such as \"20000.00\", not numbers.",
        )
        .with_detail(ErrorDetail::new(
            field,
            "not_a_string",
            "Send the amount as a string.",
        ))
    })?;
    Money::parse(text, Currency::NOK).map_err(|e| {
        ApiError::from(e).with_detail(ErrorDetail::new(
            field,
            "invalid_amount",
            "Not a valid NOK amount.",
        ))
    })
}

#[utoipa::path(
    put, path = "/v1/me/limits", tag = "me", request_body = LimitsChange,
    responses((status = 200, body = LimitsView), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn put_limits(state: AppState, req: ApiRequest) -> HandlerResult {
    let who = req.principal()?;
    let change: LimitsChange = req.json()?;
    let limits = SpendingLimits::new(
        nok_field(&change.daily, "daily")?,
        nok_field(&change.monthly, "monthly")?,
    )?;
    let details = serde_json::json!({ "daily": limits.daily.to_amount_string(), "monthly": limits.monthly.to_amount_string() });
    audited(&state, &req, who, "spending_limits.updated", ("user", who.user_id), details, async |tx| {
        tx.query_typed(
            "INSERT INTO spending_limits (user_id, daily_limit, monthly_limit) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET daily_limit = EXCLUDED.daily_limit, monthly_limit = EXCLUDED.monthly_limit",
            &[(&who.user_id, Type::UUID), (&limits.daily.amount(), Type::NUMERIC), (&limits.monthly.amount(), Type::NUMERIC)],
        )
        .await?;
        Ok(())
    })
    .await?;
    ok_json(&LimitsView::of(limits))
}
