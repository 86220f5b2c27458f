//! OpenID Provider metadata (OIDC Discovery 1.0) and the JWK set.

use crate::web::{self, Reply};
use crate::Sandbox;
use http::StatusCode;
use serde_json::json;

/// The scopes the sandbox grants; others are ignored, as OIDC Core §3.1.2.1 allows.
pub(crate) const SCOPES: &[&str] = &["openid", "profile", "nnin_altsub"];
/// The only level of assurance offered: BankID, level high.
pub(crate) const ACR: &str = "urn:bankid:bid";

pub(crate) fn configuration(sandbox: &Sandbox) -> Reply {
    web::json(
        StatusCode::OK,
        &json!({
            "issuer": sandbox.config.issuer,
            "authorization_endpoint": sandbox.endpoint("/authorize"),
            "token_endpoint": sandbox.endpoint("/token"),
            "userinfo_endpoint": sandbox.endpoint("/userinfo"),
            "jwks_uri": sandbox.endpoint("/jwks"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "userinfo_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": SCOPES,
            "acr_values_supported": [ACR],
            "claims_supported": [
                "iss", "aud", "sub", "iat", "exp", "nonce", "acr", "amr", "auth_time",
                "bankid_altsub", "nnin_altsub", "given_name", "family_name", "name", "birthdate",
            ],
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
        }),
    )
}

pub(crate) fn jwks(sandbox: &Sandbox) -> Reply {
    web::json(StatusCode::OK, &sandbox.key.jwks())
}
