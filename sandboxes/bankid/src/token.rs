//! The token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.5): `client_secret_basic` only, one use
//! per code, the redirect URI and PKCE verifier checked against what the code is bound to.

use crate::store::{Redeemed, TOKEN_TTL};
use crate::web::{self, Params, Reply};
use crate::{claims, crypto, Sandbox};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use serde_json::json;

/// Why a token request is refused (RFC 6749 §5.2); becomes the reply at the end.
struct Refusal {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl Refusal {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }

    fn request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn grant(description: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    fn client(description: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    fn server(description: &str) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            description,
        )
    }

    fn reply(self) -> Reply {
        if self.error == "invalid_client" {
            web::invalid_client(&self.description)
        } else {
            web::oauth_error(self.status, self.error, &self.description)
        }
    }
}

/// `POST /token`.
pub(crate) async fn exchange(sandbox: &Sandbox, req: axum::extract::Request) -> Reply {
    let (parts, body) = req.into_parts();
    if let Err(refusal) = authenticate(sandbox, &parts.headers) {
        return refusal.reply();
    }
    let form = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Refusal::request("the body must be application/x-www-form-urlencoded").reply();
    }
    let Some(body) = web::read_body(body).await else {
        return Refusal::request("the body is too large").reply();
    };
    redeem(sandbox, &Params::parse(&body)).unwrap_or_else(Refusal::reply)
}

/// HTTP Basic with the client's id and secret, each form-urlencoded first (RFC 6749 §2.3.1).
fn authenticate(sandbox: &Sandbox, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(header) = headers.get(AUTHORIZATION) else {
        return Err(Refusal::client(
            "client authentication is required: client_secret_basic",
        ));
    };
    let Some((id, secret)) = header.to_str().ok().and_then(basic_credentials) else {
        return Err(Refusal::client(
            "the Authorization header is not HTTP Basic credentials",
        ));
    };
    // Compare the secret even for an unknown id, so timing tells neither apart.
    let secret_ok = crypto::secrets_equal(&secret, &sandbox.config.client_secret);
    if id != sandbox.config.client_id || !secret_ok {
        return Err(Refusal::client("unknown client or wrong secret"));
    }
    Ok(())
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` → (id, secret).
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte.
fn form_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
            }
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

/// Checks the grant request, spends the code and answers with the tokens.
fn redeem(sandbox: &Sandbox, params: &Params) -> Result<Reply, Refusal> {
    let one = |name: &str| {
        params
            .one(name)
            .map_err(|e| Refusal::request(e.describe(name)))
    };
    if one("client_secret")?.is_some() {
        return Err(Refusal::request(
            "only client_secret_basic is supported: send the secret in the Authorization header",
        ));
    }
    if one("client_id")?.is_some_and(|id| id != sandbox.config.client_id) {
        return Err(Refusal::request(
            "client_id differs from the authenticated client",
        ));
    }
    match one("grant_type")? {
        Some("authorization_code") => {}
        Some(_) => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only authorization_code is supported",
            ))
        }
        None => return Err(Refusal::request("grant_type is missing")),
    }
    let code = one("code")?.ok_or_else(|| Refusal::request("code is missing"))?;
    let redirect_uri =
        one("redirect_uri")?.ok_or_else(|| Refusal::request("redirect_uri is missing"))?;
    let verifier = one("code_verifier")?
        .ok_or_else(|| Refusal::request("PKCE is mandatory: code_verifier is missing"))?;
    if !crypto::is_code_verifier(verifier) {
        return Err(Refusal::request(
            "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]",
        ));
    }

    let now = sandbox.clock.now();
    let Redeemed::Fresh(grant) = sandbox.store.redeem_code(code, now) else {
        return Err(Refusal::grant(
            "the code is unknown, expired or already used",
        ));
    };
    let bound = &grant.authorization;
    if bound.client_id != sandbox.config.client_id {
        return Err(Refusal::grant("the code was issued to another client"));
    }
    if bound.redirect_uri != redirect_uri {
        return Err(Refusal::grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    if !crypto::pkce_s256_matches(verifier, &bound.code_challenge) {
        return Err(Refusal::grant(
            "code_verifier does not match the code_challenge",
        ));
    }

    let unix = sandbox.clock.unix();
    let id_token = sandbox
        .key
        .sign(&claims::id_token(sandbox, &grant, unix))
        .map_err(|err| {
            tracing::error!(error = %err, "bankid sandbox: could not sign an ID token");
            Refusal::server("the sandbox could not sign the ID token")
        })?;
    let access_token = crypto::random_token()
        .ok_or_else(|| Refusal::server("the sandbox could not draw a random number"))?;
    let scope = bound.scopes.join(" ");
    sandbox
        .store
        .put_token(code, access_token.clone(), grant.clone(), now)
        .map_err(|_| {
            Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the sandbox holds too many tokens",
            )
        })?;
    tracing::info!(person = grant.person.slug, "bankid sandbox: tokens issued");
    Ok(web::json(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL.as_secs(),
            "id_token": id_token,
            "scope": scope,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20client:s%3Ae+cr%2Bet"));
        assert_eq!(
            basic_credentials(&header),
            Some(("my client".into(), "s:e cr+et".into()))
        );
        let header = format!("basic {}", STANDARD.encode("id:abc="));
        assert_eq!(
            basic_credentials(&header),
            Some(("id".into(), "abc=".into()))
        );
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(
            basic_credentials(&format!("Basic {}", STANDARD.encode("no-colon"))),
            None
        );
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
    }
}
