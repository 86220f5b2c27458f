//! Account numbers and amounts as a bank checks them: Norwegian 11-digit account numbers
//! (mod 11), IBANs (mod 97), BICs, and the spec's amount strings.

use rust_decimal::Decimal;
use std::str::FromStr;

/// Weights of the Norwegian account number's check digit (mod 11) over its first ten digits.
const MOD11_WEIGHTS: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// Whether `bban` is an 11-digit Norwegian account number whose last digit is its mod-11
/// check digit (a remainder that would need check digit 10 makes no valid number).
pub(crate) fn is_norwegian_bban(bban: &str) -> bool {
    let digits: Vec<u32> = bban.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 11 || bban.len() != 11 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .zip(MOD11_WEIGHTS)
        .map(|(digit, weight)| digit * weight)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        check => check,
    };
    digits[10] == check
}

/// Whether `iban` has an IBAN's shape (`[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}`, upper case, no spaces)
/// and its check digits are right (mod 97 = 1); a Norwegian one must also carry a valid
/// Norwegian account number.
pub(crate) fn is_iban(iban: &str) -> bool {
    let bytes = iban.as_bytes();
    let shape = (5..=34).contains(&bytes.len())
        && bytes[..2].iter().all(u8::is_ascii_uppercase)
        && bytes[2..4].iter().all(u8::is_ascii_digit)
        && bytes[4..]
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    if !shape {
        return false;
    }
    let rearranged = iban[4..].chars().chain(iban[..4].chars());
    let mut remainder: u32 = 0;
    for c in rearranged {
        let Some(value) = c.to_digit(36) else {
            return false;
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    if remainder != 1 {
        return false;
    }
    match iban.strip_prefix("NO") {
        Some(rest) => is_norwegian_bban(&rest[2..]),
        None => true,
    }
}

/// Whether `bic` matches the spec's BICFI pattern
/// `[A-Z]{6,6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3,3}){0,1}` (anchored).
pub(crate) fn is_bic(bic: &str) -> bool {
    let b = bic.as_bytes();
    if b.len() != 8 && b.len() != 11 {
        return false;
    }
    b[..6].iter().all(u8::is_ascii_uppercase)
        && (b[6].is_ascii_uppercase() || (b'2'..=b'9').contains(&b[6]))
        && ((b[7].is_ascii_uppercase() && b[7] != b'O') || b[7].is_ascii_digit())
        && b[8..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Whether `value` is `len` ASCII upper-case letters (currency and country codes).
pub(crate) fn is_upper_code(value: &str, len: usize) -> bool {
    value.len() == len && value.bytes().all(|b| b.is_ascii_uppercase())
}

/// An amount string as the spec writes it (`-?[0-9]{1,14}(\.[0-9]{1,3})?`, anchored): its
/// value and its number of decimals.
pub(crate) fn parse_amount(value: &str) -> Option<(Decimal, u32)> {
    let unsigned = value.strip_prefix('-').unwrap_or(value);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(whole, 14) || !fraction.is_none_or(|f| digits(f, 3)) {
        return None;
    }
    let decimals = fraction.map_or(0, str::len);
    let amount = Decimal::from_str(value).ok()?;
    Some((amount, u32::try_from(decimals).ok()?))
}

/// `amount` as the spec's amount string with exactly two decimals (`25.00`).
pub(crate) fn two_decimals(amount: Decimal) -> String {
    let mut rounded =
        amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(2);
    rounded.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norwegian_account_numbers() {
        // 8601 11 17947: 8·5+6·4+0·3+1·2+1·7+1·6+1·5+7·4+9·3+4·2 = 147; 147 mod 11 = 4;
        // 11 − 4 = 7, the last digit.
        assert!(is_norwegian_bban("86011117947"));
        assert!(!is_norwegian_bban("86011117941"));
        // 1202 10 00017: 5+8+0+4+7+0+0+0+0+2 = 26; 26 mod 11 = 4; 11 − 4 = 7.
        assert!(is_norwegian_bban("12021000017"));
        assert!(!is_norwegian_bban("12021000018"));
        assert!(!is_norwegian_bban("1202100001"));
        assert!(!is_norwegian_bban("1202100001a"));
        assert!(!is_norwegian_bban("１2021000017"));
    }

    #[test]
    fn ibans() {
        // The examples of the spec and of the ISO 13616 registry.
        assert!(is_iban("FR7612345987650123456789014"));
        assert!(is_iban("DE89370400440532013000"));
        assert!(is_iban("GB29NWBK60161331926819"));
        assert!(is_iban("NO9386011117947"));
        assert!(!is_iban("NO9386011117948"));
        assert!(!is_iban("DE89 3704 0044 0532 0130 00"));
        assert!(!is_iban("de89370400440532013000"));
        assert!(!is_iban("DE8"));
        // The check digits are right, but the account number inside fails mod 11.
        assert!(!is_iban("NO7112021000018"));
    }

    #[test]
    fn bics() {
        assert!(is_bic("DNBANOKK"));
        assert!(is_bic("SPRONO22"));
        assert!(is_bic("AAAADEBBXXX"));
        assert!(!is_bic("AAAADEBBXX"));
        assert!(!is_bic("AAAADE1B"));
        assert!(!is_bic("AAAADEBO"));
        assert!(!is_bic("aaaadebb"));
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("1056"), Some((Decimal::new(1056, 0), 0)));
        assert_eq!(parse_amount("5768.2"), Some((Decimal::new(57682, 1), 1)));
        assert_eq!(parse_amount("-1.50"), Some((Decimal::new(-150, 2), 2)));
        assert_eq!(parse_amount("0.125"), Some((Decimal::new(125, 3), 3)));
        assert_eq!(
            parse_amount("12345678901234"),
            Some((Decimal::new(12_345_678_901_234, 0), 0))
        );
        for bad in [
            "",
            "1,50",
            "1.",
            ".5",
            "1.2345",
            "+1",
            "1e3",
            " 1",
            "123456789012345",
        ] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
        assert_eq!(two_decimals(Decimal::new(25, 0)), "25.00");
        assert_eq!(two_decimals(Decimal::new(5005, 3)), "5.01");
        assert_eq!(two_decimals(Decimal::new(1030, 0)), "1030.00");
    }
}
