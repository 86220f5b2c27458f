//! Wall-clock time: milliseconds since the epoch for what is stored and compared, UTC dates in
//! the spec's ISO form for what is shown.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

const ISO_DATE: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// A duration in milliseconds (saturating).
pub(crate) fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Today's date (UTC).
pub(crate) fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// `2025-03-01`.
pub(crate) fn format_date(date: Date) -> String {
    date.format(ISO_DATE).unwrap_or_default()
}

/// A date written `YYYY-MM-DD`, and nothing else.
pub(crate) fn parse_date(value: &str) -> Option<Date> {
    Date::parse(value, ISO_DATE).ok()
}

/// Dates kept in the state file as `YYYY-MM-DD`.
pub(crate) mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub(crate) fn serialize<S: Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_date(*date))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Date, D::Error> {
        let value = String::deserialize(deserializer)?;
        super::parse_date(&value).ok_or_else(|| serde::de::Error::custom("not a YYYY-MM-DD date"))
    }

    /// The same for an optional date.
    pub(crate) mod option {
        use serde::{Deserialize, Deserializer, Serializer};
        use time::Date;

        pub(crate) fn serialize<S: Serializer>(
            date: &Option<Date>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match date {
                Some(date) => serializer.serialize_some(&super::super::format_date(*date)),
                None => serializer.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Date>, D::Error> {
            match Option::<String>::deserialize(deserializer)? {
                Some(value) => super::super::parse_date(&value)
                    .map(Some)
                    .ok_or_else(|| serde::de::Error::custom("not a YYYY-MM-DD date")),
                None => Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn dates() {
        assert_eq!(format_date(date!(2025 - 03 - 01)), "2025-03-01");
        assert_eq!(parse_date("9999-12-31"), Some(date!(9999 - 12 - 31)));
        assert_eq!(parse_date("2025-02-30"), None);
        assert_eq!(parse_date("2025-3-1"), None);
        assert_eq!(parse_date("2025-03-01T00:00:00Z"), None);
        assert!(now_ms() > 1_700_000_000_000);
        assert!(unix_seconds() > 1_700_000_000);
        assert_eq!(ms(Duration::from_secs(2)), 2_000);
    }
}
