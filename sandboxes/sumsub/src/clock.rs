//! Wall-clock time in the shapes Sumsub uses.

use std::time::{SystemTime, UNIX_EPOCH};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

/// An applicant's `createdAt`: "2020-02-21 13:23:16" (UTC).
const CREATED_AT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
/// A webhook's `createdAtMs`: "2020-02-21 13:23:19.321" (UTC).
const CREATED_AT_MS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]");

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Now, as an applicant's `createdAt`.
pub(crate) fn created_at() -> String {
    OffsetDateTime::now_utc()
        .format(CREATED_AT)
        .unwrap_or_default()
}

/// Now, as a webhook's `createdAtMs`.
pub(crate) fn created_at_ms() -> String {
    OffsetDateTime::now_utc()
        .format(CREATED_AT_MS)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let at = created_at();
        assert_eq!(at.len(), "2020-02-21 13:23:16".len(), "{at}");
        assert_eq!(&at[10..11], " ");
        let ms = created_at_ms();
        assert_eq!(ms.len(), "2020-02-21 13:23:19.321".len(), "{ms}");
        assert_eq!(&ms[19..20], ".");
        assert!(unix_now() > 1_700_000_000);
    }
}
