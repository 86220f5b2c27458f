//! Identifiers in Sumsub's shapes, from the system RNG. Each returns `None` if the RNG fails.

use crate::clock::unix_now;

fn random<const N: usize>() -> Option<[u8; N]> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(bytes)
}

/// A 24-hex-character id like Sumsub's applicant and inspection ids (MongoDB ObjectIds):
/// four bytes of Unix time, then eight random bytes.
pub(crate) fn object_id() -> Option<String> {
    let seconds = u32::try_from(unix_now()).unwrap_or(u32::MAX);
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&seconds.to_be_bytes());
    bytes[4..].copy_from_slice(&random::<8>()?);
    Some(hex::encode(bytes))
}

/// A correlation id like Sumsub's: "req-" and a random UUID.
pub(crate) fn correlation_id() -> Option<String> {
    let uuid = uuid::Builder::from_random_bytes(random::<16>()?).into_uuid();
    Some(format!("req-{uuid}"))
}

/// A WebSDK access token in the sandbox's shape: "_act-sbx-" and a random UUID.
pub(crate) fn sdk_token() -> Option<String> {
    let uuid = uuid::Builder::from_random_bytes(random::<16>()?).into_uuid();
    Some(format!("_act-sbx-{uuid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let id = object_id().unwrap();
        assert_eq!(id.len(), 24);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(id, object_id().unwrap());
        assert!(correlation_id().unwrap().starts_with("req-"));
        assert_eq!(correlation_id().unwrap().len(), 4 + 36);
        assert!(sdk_token().unwrap().starts_with("_act-sbx-"));
    }
}
