//! The sandbox's token-signing key: RSA-2048, generated afresh each time the sandbox starts, so
//! it signs nothing that outlives the process and nothing real.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{json, Value};

/// Why the key could not be made or used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("could not generate the RSA signing key")]
    Generate,
    #[error("could not sign a token: {0}")]
    Encode(#[source] jsonwebtoken::errors::Error),
}

/// The private key for RS256 and its public half as a JWK.
pub(crate) struct SigningKey {
    encoding: EncodingKey,
    kid: String,
    jwk: Value,
}

impl SigningKey {
    /// A new RSA-2048 key; `kid` is its RFC 7638 thumbprint.
    pub(crate) fn generate() -> Result<Self, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        let pkcs8 = pair.as_der().map_err(|_| KeyError::Generate)?;
        // jsonwebtoken's aws-lc backend wants the PKCS#1 key; its PEM reader unwraps PKCS#8.
        let encoding = EncodingKey::from_rsa_pem(pem("PRIVATE KEY", pkcs8.as_ref()).as_bytes())
            .map_err(KeyError::Encode)?;
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let thumbprint_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(crate::crypto::sha256(thumbprint_input.as_bytes()));
        let jwk = json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e });
        Ok(Self { encoding, kid, jwk })
    }

    /// `{"keys": [...]}`, the body of the JWKS endpoint.
    pub(crate) fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// A compact RS256 JWS over `claims`, with this key's `kid`.
    pub(crate) fn sign(&self, claims: &impl Serialize) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(KeyError::Encode)
    }
}

/// PEM armour (RFC 7468) around DER.
fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};

    #[test]
    fn signs_tokens_that_verify_against_the_jwk() {
        let key = SigningKey::generate().unwrap();
        let jwks = key.jwks();
        let jwk = &jwks["keys"][0];
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
        // 2048 bits = 256 bytes = 342 base64url characters without padding.
        assert_eq!(jwk["n"].as_str().unwrap().len(), 342);

        let token = key
            .sign(&json!({ "sub": "x", "exp": 4_000_000_000u64 }))
            .unwrap();
        let header = decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), jwk["kid"].as_str());
        let decoding = DecodingKey::from_rsa_components(
            jwk["n"].as_str().unwrap(),
            jwk["e"].as_str().unwrap(),
        )
        .unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        let data = decode::<Value>(&token, &decoding, &validation).unwrap();
        assert_eq!(data.claims["sub"], "x");
    }
}
