//! What a signed-in user keeps about themselves: contact details, settings, notifications
//! and spending limits. Every query is scoped to the user's id.

use crate::domain::limits::SpendingLimits;
use crate::domain::money::{Currency, Money};
use crate::domain::page::Cursor;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// Sets the fields given (`Some`) and leaves the others: two changes at once never undo each
/// other. `email: Some(None)` removes the address.
pub async fn update_contact(
    db: &impl GenericClient,
    user_id: Uuid,
    phone_e164: Option<&str>,
    email: Option<Option<&str>>,
) -> Result<(), tokio_postgres::Error> {
    let (set_phone, set_email) = (phone_e164.is_some(), email.is_some());
    let email = email.flatten();
    db.query_typed(
        "UPDATE users SET phone_e164 = CASE WHEN $4 THEN $2 ELSE phone_e164 END,
                          email = CASE WHEN $5 THEN $3 ELSE email END
         WHERE id = $1",
        &[
            (&user_id, Type::UUID),
            (&phone_e164, Type::TEXT),
            (&email, Type::TEXT),
            (&set_phone, Type::BOOL),
            (&set_email, Type::BOOL),
        ],
    )
    .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `nb` or `en`.
    #[schema(pattern = "^(nb|en)$")]
    pub language: String,
    pub push_notifications: bool,
    pub email_notifications: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            language: "nb".into(),
            push_notifications: true,
            email_notifications: true,
        }
    }
}

/// The user's settings, or the defaults if they never chose any.
pub async fn settings(
    db: &impl GenericClient,
    user_id: Uuid,
) -> Result<Settings, tokio_postgres::Error> {
    let rows = db
        .query_typed(
            "SELECT language, push_notifications, email_notifications FROM settings WHERE user_id = $1",
            &[(&user_id, Type::UUID)],
        )
        .await?;
    match rows.first() {
        Some(row) => Ok(Settings {
            language: row.try_get(0)?,
            push_notifications: row.try_get(1)?,
            email_notifications: row.try_get(2)?,
        }),
        None => Ok(Settings::default()),
    }
}

pub async fn put_settings(
    db: &impl GenericClient,
    user_id: Uuid,
    settings: &Settings,
) -> Result<(), tokio_postgres::Error> {
    db.query_typed(
        "INSERT INTO settings (user_id, language, push_notifications, email_notifications) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET language = EXCLUDED.language,
             push_notifications = EXCLUDED.push_notifications, email_notifications = EXCLUDED.email_notifications",
        &[
            (&user_id, Type::UUID),
            (&settings.language, Type::TEXT),
            (&settings.push_notifications, Type::BOOL),
            (&settings.email_notifications, Type::BOOL),
        ],
    )
    .await?;
    Ok(())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
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

/// Up to `limit` notifications older than `after`, newest first.
pub async fn notifications(
    db: &impl GenericClient,
    user_id: Uuid,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<Notification>, tokio_postgres::Error> {
    let (at, id) = after.map_or((None, None), |c| (Some(c.created_at), Some(c.id)));
    let rows = db
        .query_typed(
            "SELECT id, kind, title, body, created_at, read_at FROM notifications
             WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
             ORDER BY created_at DESC, id DESC LIMIT $4",
            &[
                (&user_id, Type::UUID),
                (&at, Type::TIMESTAMPTZ),
                (&id, Type::UUID),
                (&limit, Type::INT8),
            ],
        )
        .await?;
    rows.iter()
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
        .collect()
}

/// Marks the user's notification read (once); false if it is not theirs or does not exist.
pub async fn mark_notification_read(
    db: &impl GenericClient,
    user_id: Uuid,
    id: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    let rows = db
        .query_typed(
            "UPDATE notifications SET read_at = coalesce(read_at, now()) WHERE id = $1 AND user_id = $2 RETURNING id",
            &[(&id, Type::UUID), (&user_id, Type::UUID)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// The limits the user chose, or the product's defaults.
pub async fn spending_limits(
    db: &impl GenericClient,
    user_id: Uuid,
) -> Result<SpendingLimits, crate::ApiError> {
    let rows = db
        .query_typed(
            "SELECT daily_limit, monthly_limit FROM spending_limits WHERE user_id = $1",
            &[(&user_id, Type::UUID)],
        )
        .await?;
    match rows.first() {
        Some(row) => {
            let nok = |d| Money::round_down(d, Currency::NOK).map_err(crate::ApiError::from);
            Ok(SpendingLimits {
                daily: nok(row.try_get(0)?)?,
                monthly: nok(row.try_get(1)?)?,
            })
        }
        None => Ok(SpendingLimits::product_default()),
    }
}

pub async fn put_spending_limits(
    db: &impl GenericClient,
    user_id: Uuid,
    limits: &SpendingLimits,
) -> Result<(), tokio_postgres::Error> {
    db.query_typed(
        "INSERT INTO spending_limits (user_id, daily_limit, monthly_limit) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET daily_limit = EXCLUDED.daily_limit, monthly_limit = EXCLUDED.monthly_limit",
        &[
            (&user_id, Type::UUID),
            (&limits.daily.amount(), Type::NUMERIC),
            (&limits.monthly.amount(), Type::NUMERIC),
        ],
    )
    .await?;
    Ok(())
}
