//! Personal data at rest: a fødselsnummer or an account number is sealed with AES-256-GCM under
//! a key of its own kind, with the owning row's id as associated data (a ciphertext moved to
//! another row does not open), and found by a keyed HMAC-SHA-256 — never by a bare hash, which
//! 11 digits would not survive.

use crate::domain::ids::{Fodselsnummer, Iban};
use crate::secret::Secret;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hmac;
use std::marker::PhantomData;
use std::str::FromStr;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("a key is not 32 bytes of hex")]
    BadKey,
    #[error("no randomness available")]
    Random,
    #[error("ciphertext does not open under this key and row")]
    Open,
}

/// Fills `buf` from the system's secure random source.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), CryptoError> {
    aws_lc_rs::rand::fill(buf).map_err(|_| CryptoError::Random)
}

/// A random token of `n` bytes, base64url without padding.
pub fn random_token(n: usize) -> Result<String, CryptoError> {
    use base64::Engine;
    let mut buf = vec![0u8; n];
    random_bytes(&mut buf)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// The PKCE S256 challenge of `verifier`: BASE64URL(SHA-256(verifier)) (RFC 7636).
pub fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()))
}

/// Whether `verifier` answers `challenge` (RFC 7636 S256; a verifier is 43–128 characters),
/// compared in constant time.
pub fn pkce_verifies(verifier: &str, challenge: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            pkce_challenge(verifier).as_bytes(),
            challenge.as_bytes(),
        )
        .is_ok()
}

fn key_bytes(hex_key: &Secret<String>) -> Result<[u8; 32], CryptoError> {
    let bytes = hex::decode(hex_key.expose().trim()).map_err(|_| CryptoError::BadKey)?;
    bytes.try_into().map_err(|_| CryptoError::BadKey)
}

/// What a [`Vault`] keeps: a value with one canonical text, parsed back when opened.
pub trait Sealable: FromStr {
    fn canonical(&self) -> &str;
}

impl Sealable for Fodselsnummer {
    fn canonical(&self) -> &str {
        self.expose()
    }
}

impl Sealable for Iban {
    fn canonical(&self) -> &str {
        self.as_str()
    }
}

/// Seals and finds values of one kind. Build once per instance from the kind's two secrets.
pub struct Vault<T> {
    sealing: LessSafeKey,
    lookup: hmac::Key,
    kind: PhantomData<fn() -> T>,
}

/// National identity numbers (`fnr-encryption-key`, `fnr-hmac-key`).
pub type FnrVault = Vault<Fodselsnummer>;
/// Bank account numbers (`account-encryption-key`, `account-hmac-key`).
pub type AccountVault = Vault<Iban>;

impl<T: Sealable> Vault<T> {
    pub fn new(
        encryption_key: &Secret<String>,
        hmac_key: &Secret<String>,
    ) -> Result<Self, CryptoError> {
        let unbound = UnboundKey::new(&AES_256_GCM, &key_bytes(encryption_key)?)
            .map_err(|_| CryptoError::BadKey)?;
        Ok(Self {
            sealing: LessSafeKey::new(unbound),
            lookup: hmac::Key::new(hmac::HMAC_SHA256, &key_bytes(hmac_key)?),
            kind: PhantomData,
        })
    }

    /// `nonce ‖ ciphertext ‖ tag`, bound to `owner` (the owning row's id).
    pub fn seal(&self, owner: Uuid, value: &T) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let mut sealed = value.canonical().as_bytes().to_vec();
        self.sealing
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(owner.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| CryptoError::Open)?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    pub fn open(&self, owner: Uuid, sealed: &[u8]) -> Result<T, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Open)?;
        let mut buf = rest.to_vec();
        let plain = self
            .sealing
            .open_in_place(nonce, Aad::from(owner.as_bytes()), &mut buf)
            .map_err(|_| CryptoError::Open)?;
        let text = std::str::from_utf8(plain).map_err(|_| CryptoError::Open)?;
        text.parse().map_err(|_| CryptoError::Open)
    }

    /// The keyed lookup hash of a value's canonical text.
    pub fn lookup_hash(&self, value: &T) -> [u8; 32] {
        let tag = hmac::sign(&self.lookup, value.canonical().as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> FnrVault {
        FnrVault::new(&Secret::new("11".repeat(32)), &Secret::new("22".repeat(32))).unwrap()
    }

    #[test]
    fn seals_opens_and_binds_the_owner() {
        let v = vault();
        let fnr: Fodselsnummer = "15108695088".parse().unwrap();
        let owner = Uuid::new_v4();
        let sealed = v.seal(owner, &fnr).unwrap();
        assert!(!sealed.windows(11).any(|w| w == b"15108695088"));
        assert_eq!(v.open(owner, &sealed).unwrap().expose(), "15108695088");
        assert!(
            v.open(Uuid::new_v4(), &sealed).is_err(),
            "moved to another row"
        );
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(v.open(owner, &tampered).is_err());
        assert_ne!(
            v.seal(owner, &fnr).unwrap(),
            sealed,
            "fresh nonce each time"
        );
    }

    #[test]
    fn the_lookup_hash_is_hmac_sha256_of_the_digits_under_the_lookup_key() {
        let fnr: Fodselsnummer = "15108695088".parse().unwrap();
        // Computed outside this code, with OpenSSL:
        //   printf %s 15108695088 | openssl dgst -sha256 -mac HMAC \
        //     -macopt hexkey:2222222222222222222222222222222222222222222222222222222222222222
        // (python3: hmac.new(bytes.fromhex("22" * 32), b"15108695088", "sha256").hexdigest()).
        assert_eq!(
            hex::encode(vault().lookup_hash(&fnr)),
            "46fd0e1c57707f5a9f3c4ebac414fb501810607b19482175ece999bbde09f942"
        );
        let another: Fodselsnummer = "17051653785".parse().unwrap();
        assert_ne!(vault().lookup_hash(&fnr), vault().lookup_hash(&another));
        // Keyed: another lookup key, another hash; the sealing key plays no part.
        let other_key =
            FnrVault::new(&Secret::new("11".repeat(32)), &Secret::new("33".repeat(32))).unwrap();
        assert_ne!(vault().lookup_hash(&fnr), other_key.lookup_hash(&fnr));
        let other_sealing =
            FnrVault::new(&Secret::new("44".repeat(32)), &Secret::new("22".repeat(32))).unwrap();
        assert_eq!(vault().lookup_hash(&fnr), other_sealing.lookup_hash(&fnr));
    }

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        // RFC 7636 appendix B: the verifier (base64url of the 32 octets listed there) and the
        // S256 challenge the RFC gives for it.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(pkce_challenge(verifier), challenge);
        assert!(pkce_verifies(verifier, challenge));
        assert!(!pkce_verifies(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj",
            challenge
        ));
        assert!(!pkce_verifies(verifier, &challenge.to_lowercase()));
        // A verifier is 43 to 128 characters, even when its challenge matches.
        assert!(!pkce_verifies("short", &pkce_challenge("short")));
        let longest = "a".repeat(128);
        assert!(pkce_verifies(&longest, &pkce_challenge(&longest)));
        let too_long = "a".repeat(129);
        assert!(!pkce_verifies(&too_long, &pkce_challenge(&too_long)));
    }

    #[test]
    fn an_account_number_opens_only_under_its_own_keys_and_row() {
        let accounts =
            AccountVault::new(&Secret::new("55".repeat(32)), &Secret::new("66".repeat(32)))
                .unwrap();
        // A Norwegian IBAN from python-stdnum's `stdnum.no.iban` examples.
        let iban: Iban = "NO93 8601 1117 947".parse().unwrap();
        let owner = Uuid::new_v4();
        let sealed = accounts.seal(owner, &iban).unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"8601111"));
        assert_eq!(
            accounts.open(owner, &sealed).unwrap().as_str(),
            "NO9386011117947"
        );
        assert!(accounts.open(Uuid::new_v4(), &sealed).is_err());
        let other_keys =
            AccountVault::new(&Secret::new("11".repeat(32)), &Secret::new("66".repeat(32)))
                .unwrap();
        assert!(other_keys.open(owner, &sealed).is_err());
        // python3: hmac.new(bytes.fromhex("66" * 32), b"NO9386011117947", "sha256").hexdigest()
        assert_eq!(
            hex::encode(accounts.lookup_hash(&iban)),
            "8c4654d025f738b703b8eec2f7d6887479d372452c52f7615be0ceccb09f84e2"
        );
    }

    #[test]
    fn keys_must_be_32_bytes_of_hex() {
        assert!(
            FnrVault::new(&Secret::new("11".repeat(16)), &Secret::new("22".repeat(32))).is_err()
        );
        assert!(
            FnrVault::new(&Secret::new("zz".repeat(32)), &Secret::new("22".repeat(32))).is_err()
        );
    }
}
