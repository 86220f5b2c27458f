//! `api-me`: the signed-in user's own profile, settings, notifications and spending limits.
//! Every query is scoped to the caller's id; every change writes an audit row.

use axum::extract::{Path, State as Extract};
use axum::http::StatusCode;
use axum::Router;
use drop_shared::domain::ids::NorwegianMobile;
use drop_shared::domain::limits::SpendingLimits;
use drop_shared::domain::money::{Currency, Money, MoneyJson};
use drop_shared::domain::page::Cursor;
use drop_shared::edge::openapi::{JsonBodyErrors, SignedInErrors};
use drop_shared::edge::{
    self, Authenticator, Base, Json, Me, Principal, Query, RequestMeta, SignedIn,
};
use drop_shared::error::{ErrorBody, ErrorDetail};
use drop_shared::routes;
use drop_shared::store::audit::{audited, AuditEntry};
use drop_shared::store::profile::{self, Notification, Settings};
use drop_shared::store::Db;
use drop_shared::{ApiError, ErrorCode};
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

/// What api-me uses: the database and the session check.
#[derive(Clone)]
pub struct State {
    db: Db,
    auth: Authenticator,
}

impl axum::extract::FromRef<State> for Authenticator {
    fn from_ref(state: &State) -> Self {
        state.auth.clone()
    }
}

/// The routes and their OpenAPI entries; every one needs a signed-in user.
pub fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(get_me, patch_me))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(list_notifications))
        .routes(routes!(mark_read))
        .routes(routes!(get_limits, put_limits))
}

pub fn router(base: &Base) -> Router {
    let router = edge::serving(routes);
    router.with_state(State {
        db: base.db.clone(),
        auth: base.authenticator(),
    })
}

fn invalid(field: &str, code: &str, message: &str) -> ApiError {
    ApiError::new(ErrorCode::ValidationFailed).with_detail(ErrorDetail::new(field, code, message))
}

fn entry<'a>(
    who: &Principal,
    action: &'a str,
    target: (&'a str, Uuid),
    details: serde_json::Value,
) -> AuditEntry<'a> {
    AuditEntry {
        actor: who.actor(),
        action,
        target: Some(target),
        details,
    }
}

#[utoipa::path(get, path = "/v1/me", tag = "me", responses((status = 200, description = "The signed-in user", body = Me), SignedInErrors), security(("bearer" = []), ("session_cookie" = [])))]
pub async fn get_me(SignedIn(who): SignedIn) -> Json<Me> {
    Json(Me::of(&who))
}

/// `absent` leaves a field as it is; `null` clears it (where it may be cleared).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    /// A Norwegian mobile number (`+47 412 34 567`, `0047 41234567`, `41234567`; spaces
    /// anywhere); required before paying, and it cannot be removed.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, pattern = r"^ *(?:(?:\+ *|0 *0 *)4 *7 *)?[49](?: *[0-9]){7} *$")]
    pub phone_number: Option<Option<String>>,
    /// An email address (printable ASCII, a dot in the domain), or `null` to remove it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 254, pattern = r"^[!-?A-~]+@[!--/-?A-~]+(?:\.[!--/-?A-~]+)+$")]
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
    responses(
        (status = 200, description = "The user as changed", body = Me),
        SignedInErrors,
        (status = 403, description = "A blocked account, a cookie request without the web app's Origin, or a change of phone or email without a BankID sign-in in the last 5 minutes (`reauthentication_required`)", body = ErrorBody),
        JsonBodyErrors,
    ),
    security(("bearer" = []), ("session_cookie" = []))
)]
pub async fn patch_me(
    Extract(state): Extract<State>,
    meta: RequestMeta,
    SignedIn(who): SignedIn,
    Json(change): Json<ProfileChange>,
) -> Result<Json<Me>, ApiError> {
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
    let changes_phone = phone
        .as_ref()
        .is_some_and(|p| who.profile.phone_number.as_deref() != Some(p.as_str()));
    let changes_email = email
        .as_ref()
        .is_some_and(|e| who.profile.email.as_deref() != e.as_deref());
    if changes_phone || changes_email {
        // Where the one-time codes and receipts go: a stolen session must not redirect them.
        who.require_recent_sign_in(OffsetDateTime::now_utc())?;
    }
    let mut me = Me::of(&who);
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
        return Ok(Json(me));
    }
    let details = serde_json::json!({ "fields": fields });
    audited(
        &state.db,
        &meta.origin(),
        entry(&who, "user.profile_updated", ("user", who.user_id), details),
        async |tx| {
            let email = email.as_ref().map(Option::as_deref);
            let phone = phone.as_ref().map(NorwegianMobile::as_str);
            Ok(profile::update_contact(tx, who.user_id, phone, email).await?)
        },
    )
    .await?;
    Ok(Json(me))
}

#[utoipa::path(get, path = "/v1/me/settings", tag = "me", responses((status = 200, description = "The settings, or the defaults", body = Settings), SignedInErrors), security(("bearer" = []), ("session_cookie" = [])))]
pub async fn get_settings(
    Extract(state): Extract<State>,
    SignedIn(who): SignedIn,
) -> Result<Json<Settings>, ApiError> {
    let conn = state.db.conn().await?;
    Ok(Json(profile::settings(&**conn, who.user_id).await?))
}

#[utoipa::path(
    put, path = "/v1/me/settings", tag = "me", request_body = Settings,
    responses((status = 200, description = "The settings as stored", body = Settings), SignedInErrors, JsonBodyErrors),
    security(("bearer" = []), ("session_cookie" = []))
)]
pub async fn put_settings(
    Extract(state): Extract<State>,
    meta: RequestMeta,
    SignedIn(who): SignedIn,
    Json(settings): Json<Settings>,
) -> Result<Json<Settings>, ApiError> {
    if !matches!(settings.language.as_str(), "nb" | "en") {
        return Err(invalid(
            "language",
            "unsupported_language",
            "Use `nb` or `en`.",
        ));
    }
    audited(
        &state.db,
        &meta.origin(),
        entry(
            &who,
            "settings.updated",
            ("user", who.user_id),
            serde_json::json!({}),
        ),
        async |tx| Ok(profile::put_settings(tx, who.user_id, &settings).await?),
    )
    .await?;
    Ok(Json(settings))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub notifications: Vec<Notification>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1–100, default 20.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[+-]?[0-9]{1,17}_[0-9A-Fa-f]{32}$")]
    pub cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/v1/me/notifications", tag = "me",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of notifications, newest first", body = NotificationPage),
        SignedInErrors,
        (status = 422, description = "`limit` out of range or `cursor` not one this API issued", body = ErrorBody),
    ),
    security(("bearer" = []), ("session_cookie" = []))
)]
pub async fn list_notifications(
    Extract(state): Extract<State>,
    SignedIn(who): SignedIn,
    Query(page): Query<PageQuery>,
) -> Result<Json<NotificationPage>, ApiError> {
    let limit: i64 = match page.limit.as_deref() {
        None => 20,
        Some(s) => s
            .parse()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| invalid("limit", "out_of_range", "Use 1 to 100."))?,
    };
    let after = page
        .cursor
        .as_deref()
        .map(Cursor::decode)
        .transpose()
        .map_err(|_| {
            invalid(
                "cursor",
                "invalid_cursor",
                "Use the next_cursor of the previous page.",
            )
        })?;
    let conn = state.db.conn().await?;
    let mut notifications = profile::notifications(&**conn, who.user_id, after, limit + 1).await?;
    let more = notifications.len() as i64 > limit;
    notifications.truncate(usize::try_from(limit).unwrap_or(20));
    let next_cursor = if more {
        notifications.last().map(|n| {
            Cursor {
                created_at: n.created_at,
                id: n.id,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(Json(NotificationPage {
        notifications,
        next_cursor,
    }))
}

#[utoipa::path(
    post, path = "/v1/me/notifications/{id}/read", tag = "me",
    params(("id" = Uuid, Path)),
    responses(
        (status = 204, description = "Read (again, harmlessly)"),
        SignedInErrors,
        (status = 404, description = "No such notification of this user's", body = ErrorBody),
    ),
    security(("bearer" = []), ("session_cookie" = []))
)]
pub async fn mark_read(
    Extract(state): Extract<State>,
    meta: RequestMeta,
    SignedIn(who): SignedIn,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::new(ErrorCode::NotFound))?;
    audited(
        &state.db,
        &meta.origin(),
        entry(
            &who,
            "notification.read",
            ("notification", id),
            serde_json::json!({}),
        ),
        async |tx| match profile::mark_notification_read(tx, who.user_id, id).await? {
            true => Ok(()),
            false => Err(ApiError::new(ErrorCode::NotFound)),
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
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

#[utoipa::path(get, path = "/v1/me/limits", tag = "me", responses((status = 200, description = "The limits and the most a user may choose", body = LimitsView), SignedInErrors), security(("bearer" = []), ("session_cookie" = [])))]
pub async fn get_limits(
    Extract(state): Extract<State>,
    SignedIn(who): SignedIn,
) -> Result<Json<LimitsView>, ApiError> {
    let conn = state.db.conn().await?;
    let limits = profile::spending_limits(&**conn, who.user_id).await?;
    Ok(Json(LimitsView::of(limits)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsChange {
    /// NOK per day, a decimal string with at most two decimals: more than 0, at most 100 000,
    /// and not more than `monthly`.
    #[schema(value_type = String, example = "20000.00", pattern = r"^(?:0*[1-9][0-9]{0,4}(?:\.[0-9]{1,2}0*)?|0+\.(?:0[1-9]|[1-9][0-9]?)0*|0*100000(?:\.0+)?)$")]
    pub daily: serde_json::Value,
    /// NOK per month, a decimal string with at most two decimals: more than 0, at most 300 000.
    #[schema(value_type = String, example = "80000.00", pattern = r"^(?:0*(?:[1-9][0-9]{0,4}|[12][0-9]{5})(?:\.[0-9]{1,2}0*)?|0+\.(?:0[1-9]|[1-9][0-9]?)0*|0*300000(?:\.0+)?)$")]
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
    responses(
        (status = 200, description = "The limits as stored", body = LimitsView),
        SignedInErrors,
        (status = 403, description = "A blocked account, a cookie request without the web app's Origin, or a raise without a BankID sign-in in the last 5 minutes (`reauthentication_required`)", body = ErrorBody),
        JsonBodyErrors,
    ),
    security(("bearer" = []), ("session_cookie" = []))
)]
pub async fn put_limits(
    Extract(state): Extract<State>,
    meta: RequestMeta,
    SignedIn(who): SignedIn,
    Json(change): Json<LimitsChange>,
) -> Result<Json<LimitsView>, ApiError> {
    let limits = SpendingLimits::new(
        nok_field(&change.daily, "daily")?,
        nok_field(&change.monthly, "monthly")?,
    )?;
    let current = profile::spending_limits(&**state.db.conn().await?, who.user_id).await?;
    let raises = limits.daily.amount() > current.daily.amount()
        || limits.monthly.amount() > current.monthly.amount();
    if raises {
        // Lowering a limit is always allowed; raising one needs a fresh BankID sign-in.
        who.require_recent_sign_in(OffsetDateTime::now_utc())?;
    }
    let details = serde_json::json!({ "daily": limits.daily.to_amount_string(), "monthly": limits.monthly.to_amount_string() });
    audited(
        &state.db,
        &meta.origin(),
        entry(
            &who,
            "spending_limits.updated",
            ("user", who.user_id),
            details,
        ),
        async |tx| Ok(profile::put_spending_limits(tx, who.user_id, &limits).await?),
    )
    .await?;
    Ok(Json(LimitsView::of(limits)))
}

/// What the Lambda serves: the routes behind the edge's layers.
pub fn app(base: &Base) -> Router {
    edge::app(router(base))
}
