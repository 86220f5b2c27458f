//! The userinfo endpoint: like BankID, it answers with a signed JWT (`application/jwt`) that
//! carries the fødselsnummer in `nnin_altsub` when that scope was granted.

use crate::web::{self, Reply};
use crate::{claims, Sandbox};
use http::header::AUTHORIZATION;
use http::HeaderMap;

/// `GET` or `POST /userinfo` with `Authorization: Bearer <access token>` (RFC 6750 §2.1).
pub(crate) fn userinfo(sandbox: &Sandbox, headers: &HeaderMap) -> Reply {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = token else {
        return web::bearer_challenge(None);
    };
    let Some(grant) = sandbox.store.token(token, sandbox.clock.now()) else {
        return web::bearer_challenge(Some("invalid_token"));
    };
    match sandbox
        .key
        .sign(&claims::userinfo(sandbox, &grant, sandbox.clock.unix()))
    {
        Ok(jwt) => web::jwt(jwt),
        Err(err) => {
            tracing::error!(error = %err, "bankid sandbox: could not sign a userinfo answer");
            web::server_error()
        }
    }
}
