//! The claims of the ID token and of the signed userinfo answer.

use crate::discovery::ACR;
use crate::store::{Grant, TOKEN_TTL};
use crate::{crypto, Sandbox};
use serde::Serialize;

/// OIDC Core §2 plus BankID's own claims. No `nnin_altsub`: BankID gives that only in userinfo.
#[derive(Serialize)]
pub(crate) struct IdToken<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: String,
    iat: u64,
    exp: u64,
    nonce: &'a str,
    acr: &'static str,
    amr: [&'static str; 1],
    auth_time: u64,
    #[serde(flatten)]
    person: PersonClaims,
}

/// The signed userinfo answer (a JWT, as BankID sends it).
#[derive(Serialize)]
pub(crate) struct Userinfo<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: String,
    iat: u64,
    exp: u64,
    /// Only with the `nnin_altsub` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    nnin_altsub: Option<&'static str>,
    #[serde(flatten)]
    person: PersonClaims,
}

#[derive(Serialize)]
struct PersonClaims {
    bankid_altsub: &'static str,
    given_name: &'static str,
    family_name: &'static str,
    name: String,
    birthdate: &'static str,
}

fn person_claims(grant: &Grant) -> PersonClaims {
    let p = grant.person;
    PersonClaims {
        bankid_altsub: p.bankid_altsub,
        given_name: p.given_name,
        family_name: p.family_name,
        name: p.name(),
        birthdate: p.birthdate,
    }
}

pub(crate) fn id_token<'a>(sandbox: &'a Sandbox, grant: &'a Grant, now: u64) -> IdToken<'a> {
    let client_id = grant.authorization.client_id.as_str();
    IdToken {
        iss: &sandbox.config.issuer,
        aud: client_id,
        sub: crypto::pairwise_sub(client_id, grant.person.bankid_altsub),
        iat: now,
        exp: now.saturating_add(TOKEN_TTL.as_secs()),
        nonce: &grant.authorization.nonce,
        acr: ACR,
        amr: ["BID"],
        auth_time: grant.auth_time,
        person: person_claims(grant),
    }
}

pub(crate) fn userinfo<'a>(sandbox: &'a Sandbox, grant: &'a Grant, now: u64) -> Userinfo<'a> {
    let client_id = grant.authorization.client_id.as_str();
    Userinfo {
        iss: &sandbox.config.issuer,
        aud: client_id,
        sub: crypto::pairwise_sub(client_id, grant.person.bankid_altsub),
        iat: now,
        exp: now.saturating_add(TOKEN_TTL.as_secs()),
        nnin_altsub: grant
            .authorization
            .has_scope("nnin_altsub")
            .then_some(grant.person.nnin),
        person: person_claims(grant),
    }
}
