//! Cursor pages, newest first: a cursor is the (created_at, id) of the last item shown.

use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: OffsetDateTime,
    pub id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a cursor this API issued")]
pub struct InvalidCursor;

impl Cursor {
    pub fn encode(&self) -> String {
        format!(
            "{}_{}",
            self.created_at.unix_timestamp_nanos() / 1000,
            self.id.simple()
        )
    }

    pub fn decode(cursor: &str) -> Result<Self, InvalidCursor> {
        let (micros, id) = cursor.split_once('_').ok_or(InvalidCursor)?;
        let micros: i128 = micros.parse().map_err(|_| InvalidCursor)?;
        let nanos = micros.checked_mul(1000).ok_or(InvalidCursor)?;
        Ok(Self {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(nanos)
                .map_err(|_| InvalidCursor)?,
            id: id.parse().map_err(|_| InvalidCursor)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_its_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            created_at: time::macros::datetime!(2026-11-21 12:00:00.123456 UTC),
            id: Uuid::nil(),
        };
        assert_eq!(
            c.encode(),
            "1795262400123456_00000000000000000000000000000000"
        );
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        for bad in [
            "",
            "x_y",
            "1_",
            "_00000000000000000000000000000000",
            "99999999999999999999999999999999999999_00000000000000000000000000000000",
        ] {
            assert_eq!(Cursor::decode(bad), Err(InvalidCursor), "{bad}");
        }
    }
}
