//! Norwegian national identity number (fødselsnummer), D-number and synthetic test number.
//!
//! Eleven digits `DDMMYY III K1 K2` (Skatteetaten, "Fødselsnummer"; Folkeregisteret API
//! documentation, "Nytt fødselsnummer fra 2032"):
//!
//! - `DDMMYY` is the birth date. A D-number adds 4 to the first day digit (day 41–71). A
//!   synthetic test number from Skatteetaten's Tenor test register adds 80 to the month
//!   (81–92); synthetic D-numbers carry both. The older "+40 on the month" convention (health
//!   sector H-numbers, NAV's former synthetic numbers) is not accepted: Folkeregisteret never
//!   issues such numbers, so BankID's `nnin_altsub` cannot carry one, and H-numbers are not
//!   identities.
//! - `III` is the individual number; together with `YY` it gives the century:
//!   000–499 → 1900–1999; 500–749 with YY 54–99 → 1854–1899; 500–999 with YY 00–39 →
//!   2000–2039; 900–999 with YY 40–99 → 1940–1999. Other combinations are never allocated and
//!   are rejected.
//! - `K1`: with s₁ = Σ (3,7,6,1,8,9,4,5,2)·d₁…d₉, valid when (s₁ + K1) mod 11 ∈ {0,1,2,3}.
//!   Numbers issued before 2032 all have remainder 0 (the classic K1 = 11 − s₁ mod 11);
//!   numbers issued from 1 January 2032 may have 1, 2 or 3 as well (K1 = 12, 13 or 14 − s₁ mod
//!   11), and systems must accept both rules. K1 = 10 is never valid.
//! - `K2`: (Σ (5,4,3,2,7,6,5,4,3,2)·d₁…K1 + K2) mod 11 = 0, unchanged in 2032.
//!
//! For numbers issued from 2032 Skatteetaten says the individual number will no longer state
//! the century: [`Fodselsnummer::birth_date`] decodes the rules above, and for such numbers the
//! register's birth date (BankID's `birthdate` claim) is the authority.

use std::fmt;
use std::str::FromStr;
use time::{Date, Month};

const K1_WEIGHTS: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const K2_WEIGHTS: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// A valid fødselsnummer or D-number, real or synthetic.
///
/// Personal data: `Debug` and `Display` print `***********`; [`expose`](Self::expose) gives
/// the digits to the few places that need them. It has no `Serialize`, since it is only stored
/// encrypted; it does have `Deserialize`, which validates.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fodselsnummer {
    digits: [u8; 11],
    birth_date: Date,
}

/// Which kind of number a [`Fodselsnummer`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FodselsnummerKind {
    /// An ordinary fødselsnummer.
    Fnr,
    /// A D-number (first day digit + 4), given to people without a fødselsnummer.
    DNumber,
    /// A synthetic test number (month + 80), possibly also a D-number; never a real person.
    Synthetic,
}

/// Why a string is not a fødselsnummer. Messages never repeat the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FodselsnummerError {
    #[error("a fødselsnummer has 11 digits, found {found}")]
    WrongLength { found: usize },
    #[error("a fødselsnummer contains only the digits 0-9")]
    NonDigit,
    #[error("the first check digit (k1) of the fødselsnummer is wrong")]
    FirstCheckDigit,
    #[error("the second check digit (k2) of the fødselsnummer is wrong")]
    SecondCheckDigit,
    #[error("the fødselsnummer does not start with a calendar date")]
    InvalidDate,
    #[error("the individual number of the fødselsnummer is not allocated for its birth year")]
    UnallocatedIndividualNumber,
}

impl Fodselsnummer {
    /// The eleven digits. Personal data: only for encryption, keyed hashing and the bank.
    pub fn expose(&self) -> &str {
        super::ascii(&self.digits)
    }

    /// The birth date, by the century rules of the individual number (see the module docs).
    pub fn birth_date(&self) -> Date {
        self.birth_date
    }

    /// Age in whole years on `date`; 0 before the birth date. A birthday of 29 February is
    /// reached on 1 March in other years (never early).
    pub fn age_on(&self, date: Date) -> u32 {
        let birth = self.birth_date;
        let before_birthday =
            (u8::from(date.month()), date.day()) < (u8::from(birth.month()), birth.day());
        let years = date.year() - birth.year() - i32::from(before_birthday);
        u32::try_from(years).unwrap_or(0)
    }

    /// [`Synthetic`](FodselsnummerKind::Synthetic) when the month is + 80 (even if it is also a
    /// D-number), else [`DNumber`](FodselsnummerKind::DNumber) or [`Fnr`](FodselsnummerKind::Fnr).
    pub fn kind(&self) -> FodselsnummerKind {
        if self.is_synthetic() {
            FodselsnummerKind::Synthetic
        } else if self.is_d_number() {
            FodselsnummerKind::DNumber
        } else {
            FodselsnummerKind::Fnr
        }
    }

    /// Whether the first day digit carries the D-number + 4.
    pub fn is_d_number(&self) -> bool {
        self.digits[0] >= b'4'
    }

    /// Whether the month carries the synthetic + 80 (Tenor test register).
    pub fn is_synthetic(&self) -> bool {
        self.digits[2] >= b'8'
    }
}

/// The birth year from the two-digit year and the individual number, if that pair is allocated.
fn birth_year(yy: u32, individual: u32) -> Option<i32> {
    let century = match (individual, yy) {
        (0..=499, _) => 1900,
        (500..=749, 54..=99) => 1800,
        (500..=999, 0..=39) => 2000,
        (900..=999, 40..=99) => 1900,
        _ => return None,
    };
    i32::try_from(yy).ok().map(|yy| century + yy)
}

impl FromStr for Fodselsnummer {
    type Err = FodselsnummerError;

    /// Exactly eleven ASCII digits: no spaces or separators, so the text is canonical for hashing.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use super::Layout;
        let digits = super::read_digits::<11>(s, &[], &[]).map_err(|e| match e {
            Layout::Length(found) => FodselsnummerError::WrongLength { found },
            Layout::Character | Layout::Grouping => FodselsnummerError::NonDigit,
        })?;
        let d = super::values(&digits);

        let s1 = super::weighted_sum(&d[..9], &K1_WEIGHTS) + d[9];
        if s1 % 11 > 3 {
            return Err(FodselsnummerError::FirstCheckDigit);
        }
        let s2 = super::weighted_sum(&d[..10], &K2_WEIGHTS) + d[10];
        if s2 % 11 != 0 {
            return Err(FodselsnummerError::SecondCheckDigit);
        }

        // A D-number adds 40 to the day, a synthetic number 80 to the month.
        let (day, month) = (d[0] * 10 + d[1], d[2] * 10 + d[3]);
        let day = if day > 40 { day - 40 } else { day };
        let month = if month > 80 { month - 80 } else { month };
        let year = birth_year(d[4] * 10 + d[5], d[6] * 100 + d[7] * 10 + d[8])
            .ok_or(FodselsnummerError::UnallocatedIndividualNumber)?;
        let month = u8::try_from(month)
            .ok()
            .and_then(|m| Month::try_from(m).ok())
            .ok_or(FodselsnummerError::InvalidDate)?;
        let day = u8::try_from(day).map_err(|_| FodselsnummerError::InvalidDate)?;
        let birth_date = Date::from_calendar_date(year, month, day)
            .map_err(|_| FodselsnummerError::InvalidDate)?;
        Ok(Self { digits, birth_date })
    }
}

parse_impls!(Fodselsnummer);

impl fmt::Display for Fodselsnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***********")
    }
}

impl fmt::Debug for Fodselsnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fodselsnummer(***********)")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{
        mod11_sum, one_digit_mutations, vector_values, vector_weights, with_mod11,
    };
    use super::*;
    use proptest::prelude::*;
    use std::ops::RangeInclusive;
    use time::macros::date;

    fn fnr(s: &str) -> Fodselsnummer {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> FodselsnummerError {
        s.parse::<Fodselsnummer>()
            .err()
            .unwrap_or_else(|| panic!("{s} parsed"))
    }

    /// The remainder (s₁ + K1) mod 11: 0 under the classic rule, 0–3 under the 2032 rule.
    fn k1_remainder(s: &str) -> u32 {
        let d: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
        (super::super::weighted_sum(&d[..9], &K1_WEIGHTS) + d[9]) % 11
    }

    #[test]
    fn weights_match_the_test_vector_file() {
        assert_eq!(vector_weights("fodselsnummer", "weights_k1"), K1_WEIGHTS);
        assert_eq!(vector_weights("fodselsnummer", "weights_k2"), K2_WEIGHTS);
    }

    #[test]
    fn file_vectors() {
        for v in vector_values("fodselsnummer", "valid") {
            assert_eq!(fnr(&v).expose(), v);
        }
        for v in vector_values("fodselsnummer", "invalid_checksum") {
            assert!(matches!(
                err(&v),
                FodselsnummerError::FirstCheckDigit | FodselsnummerError::SecondCheckDigit
            ));
        }
        assert_eq!(fnr("15108695088").birth_date(), date!(1986 - 10 - 15));
        assert_eq!(fnr("02013299997").birth_date(), date!(2032 - 01 - 02));
        assert_eq!(fnr("30108299920").birth_date(), date!(1982 - 10 - 30));
    }

    #[test]
    fn the_2032_rule() {
        // Skatteetaten's example of a second number issued in 2032: remainder 1, so it is
        // invalid under the classic rule alone and valid under the new one.
        assert_eq!(k1_remainder("30108299939"), 1);
        assert_eq!(fnr("30108299939").birth_date(), date!(1982 - 10 - 30));
        // 010190 012: the classic K1 would be 10 (remainder 1 of s₁ alone), so no number with
        // these nine digits existed before 2032; from 2032 K1 may be 0, 1 or 2.
        for (v, remainder) in [("01019001209", 1), ("01019001217", 2), ("01019001225", 3)] {
            assert_eq!(k1_remainder(v), remainder);
            assert_eq!(fnr(v).birth_date(), date!(1990 - 01 - 01));
        }
        // K1 = 3 gives remainder 4, which no rule allows, whatever K2 is.
        for k2 in 0..=9 {
            assert_eq!(
                err(&format!("0101900123{k2}")),
                FodselsnummerError::FirstCheckDigit
            );
        }
        assert_eq!(err("15108695077"), FodselsnummerError::FirstCheckDigit);
        assert_eq!(err("15108695089"), FodselsnummerError::SecondCheckDigit);
    }

    #[test]
    fn kinds() {
        assert_eq!(fnr("15108695088").kind(), FodselsnummerKind::Fnr);
        let d = fnr("55108649908");
        assert_eq!(
            (d.kind(), d.is_d_number(), d.is_synthetic()),
            (FodselsnummerKind::DNumber, true, false)
        );
        assert_eq!(d.birth_date(), date!(1986 - 10 - 15));
        let s = fnr("15908649718");
        assert_eq!(
            (s.kind(), s.is_d_number(), s.is_synthetic()),
            (FodselsnummerKind::Synthetic, false, true)
        );
        assert_eq!(s.birth_date(), date!(1986 - 10 - 15));
        let sd = fnr("55908649973");
        assert_eq!(
            (sd.kind(), sd.is_d_number(), sd.is_synthetic()),
            (FodselsnummerKind::Synthetic, true, true)
        );
        assert_eq!(sd.birth_date(), date!(1986 - 10 - 15));
        // Month + 40 (H-numbers, NAV's old synthetic numbers) is not accepted.
        assert_eq!(err("01538649879"), FodselsnummerError::InvalidDate);
    }

    #[test]
    fn centuries() {
        for (v, born) in [
            ("01010049918", date!(1900 - 01 - 01)),
            ("01015474943", date!(1854 - 01 - 01)),
            ("31129974810", date!(1899 - 12 - 31)),
            ("01014099944", date!(1940 - 01 - 01)),
            ("01013999984", date!(2039 - 01 - 01)),
            ("15030899986", date!(2008 - 03 - 15)),
        ] {
            assert_eq!(fnr(v).birth_date(), born, "{v}");
        }
        // YY 45 with 500–899, and YY 60 with 750–899, are never allocated.
        assert_eq!(
            err("01014560013"),
            FodselsnummerError::UnallocatedIndividualNumber
        );
        assert_eq!(
            err("01016080000"),
            FodselsnummerError::UnallocatedIndividualNumber
        );
    }

    #[test]
    fn invalid_dates() {
        for v in [
            "31028649951", // 31 February
            "29028549952", // 29 February 1985
            "29020049942", // 29 February 1900 (individual number < 500), not a leap year
            "01138649977", // month 13
            "00018649829", // day 00
        ] {
            assert_eq!(err(v), FodselsnummerError::InvalidDate, "{v}");
        }
        assert_eq!(fnr("29028449931").birth_date(), date!(1984 - 02 - 29));
        assert_eq!(fnr("29020099966").birth_date(), date!(2000 - 02 - 29));
    }

    #[test]
    fn layout_errors() {
        assert_eq!(err(""), FodselsnummerError::WrongLength { found: 0 });
        assert_eq!(
            err("1510869508"),
            FodselsnummerError::WrongLength { found: 10 }
        );
        assert_eq!(
            err("151086950880"),
            FodselsnummerError::WrongLength { found: 12 }
        );
        for v in [
            "151086 95088",
            " 15108695088",
            "15108695088 ",
            "1510869508a",
            "1510869508٨",
            "+5108695088",
        ] {
            assert_eq!(err(v), FodselsnummerError::NonDigit, "{v}");
        }
    }

    #[test]
    fn age() {
        let p = fnr("15030899986"); // born 2008-03-15
        assert_eq!(p.age_on(date!(2026 - 03 - 14)), 17); // 17 years and 364 days: a minor
        assert_eq!(p.age_on(date!(2026 - 03 - 15)), 18); // 18 on the birthday
        assert_eq!(p.age_on(date!(2008 - 03 - 15)), 0);
        assert_eq!(p.age_on(date!(2000 - 01 - 01)), 0); // before birth
        let leap = fnr("29020899903"); // born 2008-02-29
        assert_eq!(leap.age_on(date!(2026 - 02 - 28)), 17);
        assert_eq!(leap.age_on(date!(2026 - 03 - 01)), 18);
        assert_eq!(leap.age_on(date!(2028 - 02 - 29)), 20);
    }

    #[test]
    fn never_printed() {
        let p = fnr("15108695088");
        assert_eq!(format!("{p:?}"), "Fodselsnummer(***********)");
        assert_eq!(format!("{p}"), "***********");
        assert!(!format!("{:?}", Some(&p)).contains("151086"));
    }

    #[test]
    fn serde_deserializes_with_validation_and_never_serializes() {
        let p: Fodselsnummer = serde_json::from_str("\"15108695088\"").unwrap();
        assert_eq!(p.expose(), "15108695088");
        let e = serde_json::from_str::<Fodselsnummer>("\"15108695077\"")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("15108695077"), "{e}");
        assert!(serde_json::from_str::<Fodselsnummer>("15108695088").is_err());
        assert_eq!(Fodselsnummer::try_from("15108695088").unwrap(), p);

        // Fodselsnummer must not implement Serialize: an inherent const exists only when it does.
        trait NotSerialize {
            const IMPLEMENTS: bool = false;
        }
        impl<T> NotSerialize for T {}
        struct Probe<T>(std::marker::PhantomData<T>);
        #[allow(dead_code)]
        impl<T: serde::Serialize> Probe<T> {
            const IMPLEMENTS: bool = true;
        }
        const { assert!(Probe::<String>::IMPLEMENTS) };
        const { assert!(!Probe::<Fodselsnummer>::IMPLEMENTS) };
    }

    // The rules again, written out for the tests apart from the code under test.

    const K1_W: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
    const K2_W: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

    /// The individual numbers allocated to people born in `year` (Skatteetaten).
    fn allocated(year: i32) -> Vec<RangeInclusive<u32>> {
        match year {
            1854..=1899 => vec![500..=749],
            1900..=1939 => vec![0..=499],
            1940..=1999 => vec![0..=499, 900..=999],
            2000..=2039 => vec![500..=999],
            _ => vec![],
        }
    }

    /// The number with these fields (D-number and synthetic offsets already added) and K1
    /// chosen so that (s₁ + K1) mod 11 = `remainder`; `None` where K1 or K2 would be 10.
    fn build(day: u32, month: u32, yy: u32, individual: u32, remainder: u32) -> Option<String> {
        let nine = format!("{day:02}{month:02}{yy:02}{individual:03}");
        let k1 = (remainder + 11 * 10 - mod11_sum(&nine, &K1_W) % 11) % 11;
        let ten = format!("{nine}{}", (k1 < 10).then_some(k1)?);
        with_mod11(&ten, &K2_W)
    }

    /// The birth date an eleven-digit string stands for if it is a valid number, by the rules
    /// in the module docs; `None` if it is not one.
    fn independently_valid(v: &str) -> Option<Date> {
        let digit = |i: usize| u32::from(v.as_bytes()[i] - b'0');
        let number = |from: usize, to: usize| v[from..to].parse::<u32>().ok();
        let k1_ok = (mod11_sum(&v[..9], &K1_W) + digit(9)) % 11 <= 3;
        let k2_ok = (mod11_sum(&v[..10], &K2_W) + digit(10)) % 11 == 0;
        if !(k1_ok && k2_ok) {
            return None;
        }
        let (mut day, mut month) = (number(0, 2)?, number(2, 4)?);
        if day > 40 {
            day -= 40;
        }
        if month > 80 {
            month -= 80;
        }
        let (yy, individual) = (i32::try_from(number(4, 6)?).ok()?, number(6, 9)?);
        let year = [1800, 1900, 2000]
            .into_iter()
            .map(|century| century + yy)
            .find(|year| allocated(*year).iter().any(|r| r.contains(&individual)))?;
        let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
        Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()
    }

    /// A valid number, built from its parts, with its birth date and kind flags.
    fn valid_number() -> impl Strategy<Value = (String, Date, bool, bool)> {
        (
            (1854i32..=2039, 1u8..=12, 1u8..=31),
            any::<prop::sample::Index>(),
            0u32..4,
            any::<bool>(),
            any::<bool>(),
        )
            .prop_filter_map(
                "no such date, or a check digit would be 10",
                |((year, month, day), pick, remainder, d, synthetic)| {
                    let born =
                        Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
                    let individuals: Vec<u32> = allocated(year).into_iter().flatten().collect();
                    let individual = individuals[pick.index(individuals.len())];
                    let yy = u32::try_from(year % 100).ok()?;
                    let day = u32::from(day) + if d { 40 } else { 0 };
                    let month = u32::from(month) + if synthetic { 80 } else { 0 };
                    Some((
                        build(day, month, yy, individual, remainder)?,
                        born,
                        d,
                        synthetic,
                    ))
                },
            )
    }

    proptest! {
        #[test]
        fn generated_numbers_parse((v, born, d, synthetic) in valid_number()) {
            let p = fnr(&v);
            prop_assert_eq!(p.expose(), v.as_str());
            prop_assert_eq!(p.birth_date(), born);
            prop_assert_eq!(p.is_d_number(), d);
            prop_assert_eq!(p.is_synthetic(), synthetic);
            let kind = match (d, synthetic) {
                (_, true) => FodselsnummerKind::Synthetic,
                (true, false) => FodselsnummerKind::DNumber,
                (false, false) => FodselsnummerKind::Fnr,
            };
            prop_assert_eq!(p.kind(), kind);
            prop_assert_eq!(p.age_on(born), 0);
            prop_assert_eq!(format!("{p} {p:?}"), "*********** Fodselsnummer(***********)");
            prop_assert_eq!(independently_valid(&v), Some(born));
        }

        /// K2 has a non-zero weight on every digit modulo the prime 11, so every
        /// single-digit change is caught.
        #[test]
        fn one_digit_mutations_are_rejected((v, _, _, _) in valid_number()) {
            for m in one_digit_mutations(&v) {
                prop_assert!(m.parse::<Fodselsnummer>().is_err(), "{} from {}", m, v);
            }
        }

        /// Eleven digits parse exactly when the rules say they are a number, to the same
        /// birth date.
        #[test]
        fn digits_parse_exactly_when_the_rules_allow(
            v in prop_oneof![
                "[0-9]{11}",
                valid_number().prop_map(|(v, _, _, _)| v),
            ],
        ) {
            let parsed = v.parse::<Fodselsnummer>().ok().map(|p| p.birth_date());
            prop_assert_eq!(parsed, independently_valid(&v), "{}", v);
        }

        #[test]
        fn arbitrary_input_never_panics(s in any::<String>()) {
            if let Ok(p) = s.parse::<Fodselsnummer>() {
                prop_assert_eq!(p.expose(), s.as_str());
            }
        }
    }
}
