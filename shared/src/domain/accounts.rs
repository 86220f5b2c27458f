//! Rules for the user's linked bank accounts (Drop as AISP): what a consent asks the bank for,
//! when the user is asked to renew it, and how fresh a balance must be to be answered again.

use crate::domain::bank::ConsentStatus;
use time::{Date, Duration, OffsetDateTime};

/// The longest a consent is asked for: the RTS's 180-day re-authentication period
/// (Delegated Regulation (EU) 2018/389 art. 10, as amended by 2022/2360). The bank may grant less.
pub const CONSENT_VALIDITY_DAYS: i64 = 180;

/// Background reads a consent allows per day (the RTS allows four without the user present).
pub const FREQUENCY_PER_DAY: u8 = 4;

/// From this many days before a consent ends the user is asked to renew it.
pub const RENEWAL_NOTICE_DAYS: i64 = 7;

/// A balance read from the bank this recently is answered again without asking the bank.
pub const BALANCE_FRESH_SECS: i64 = 30;

/// The `validUntil` asked for a consent given on `today`.
pub fn consent_valid_until(today: Date) -> Date {
    today.saturating_add(Duration::days(CONSENT_VALIDITY_DAYS))
}

/// Whether the user must (or should now) give a new consent: it has ended (rejected, expired,
/// revoked, terminated), or it is valid but ends within [`RENEWAL_NOTICE_DAYS`] (or has passed
/// its end date though the bank still says valid).
pub fn renewal_needed(status: ConsentStatus, valid_until: Option<Date>, today: Date) -> bool {
    match status {
        ConsentStatus::Received => false,
        ConsentStatus::Valid => {
            valid_until.is_some_and(|end| end - today <= Duration::days(RENEWAL_NOTICE_DAYS))
        }
        ConsentStatus::Rejected
        | ConsentStatus::Expired
        | ConsentStatus::RevokedByPsu
        | ConsentStatus::TerminatedByTpp => true,
    }
}

/// Whether a balance the bank reported at `fetched_at` is recent enough at `now` to be answered
/// again without asking the bank ([`BALANCE_FRESH_SECS`]).
pub fn balance_is_fresh(fetched_at: OffsetDateTime, now: OffsetDateTime) -> bool {
    (now - fetched_at) < Duration::seconds(BALANCE_FRESH_SECS)
}

/// What a consent has become when its bank refuses a read under it: expired (`CONSENT_EXPIRED`),
/// or otherwise no longer valid — withdrawn by the user at the bank.
pub fn status_after_refusal(expired: bool) -> ConsentStatus {
    if expired {
        ConsentStatus::Expired
    } else {
        ConsentStatus::RevokedByPsu
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_balance_is_fresh_for_30_seconds() {
        let read = time::macros::datetime!(2026-12-02 10:00:00 UTC);
        assert!(balance_is_fresh(read, read));
        assert!(balance_is_fresh(read, read + Duration::seconds(29)));
        assert!(!balance_is_fresh(read, read + Duration::seconds(30)));
        assert!(!balance_is_fresh(read, read + Duration::minutes(5)));
    }

    #[test]
    fn a_refused_read_ends_the_consent() {
        assert_eq!(status_after_refusal(true), ConsentStatus::Expired);
        assert_eq!(status_after_refusal(false), ConsentStatus::RevokedByPsu);
        assert!(status_after_refusal(false).is_final());
    }

    #[test]
    fn a_consent_is_asked_for_180_days() {
        // 2026-12-02 + 180 days: 29 days left of December, 31 + 28 + 31 + 30 + 31 = 151 to the
        // end of May 2027 (29 + 151 = 180), so 2027-05-31.
        assert_eq!(
            consent_valid_until(date!(2026 - 12 - 02)),
            date!(2027 - 05 - 31)
        );
    }

    #[test]
    fn renewal_is_asked_within_seven_days_of_the_end_and_after_any_end() {
        let today = date!(2026 - 12 - 02);
        let valid = |end| renewal_needed(ConsentStatus::Valid, Some(end), today);
        assert!(!valid(date!(2026 - 12 - 10)), "8 days left");
        assert!(valid(date!(2026 - 12 - 09)), "7 days left");
        assert!(valid(date!(2026 - 12 - 02)), "ends today");
        assert!(
            valid(date!(2026 - 11 - 30)),
            "past its end, bank still says valid"
        );
        assert!(!renewal_needed(ConsentStatus::Valid, None, today));
        assert!(!renewal_needed(
            ConsentStatus::Received,
            Some(date!(2026 - 12 - 03)),
            today
        ));
        for ended in [
            ConsentStatus::Rejected,
            ConsentStatus::Expired,
            ConsentStatus::RevokedByPsu,
            ConsentStatus::TerminatedByTpp,
        ] {
            assert!(
                renewal_needed(ended, Some(date!(2027 - 05 - 31)), today),
                "{ended}"
            );
        }
    }
}
