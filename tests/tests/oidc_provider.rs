//! `OidcClient` against an independent, certified OpenID provider (npm `oidc-provider`, run by
//! `drop_testkit::oidc_provider`): the whole browser flow with PKCE, the code exchange with
//! `client_secret_basic`, ID token and userinfo verification, and the provider's refusals.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test file: failing loudly is the point

use drop_shared::domain::ids::FodselsnummerKind;
use drop_shared::providers::bankid::{
    AuthorizationResponse, BankIdIdentity, JwtProblem, OidcClient, OidcError,
};
use drop_shared::providers::outbound::RetryPolicy;
use drop_shared::secret::Secret;
use drop_testkit::oidc_provider::{ClaimsIn, OidcProvider};
use std::time::Duration;

const CLIENT_ID: &str = "drop-test";
/// Characters that must be form-encoded in HTTP Basic (RFC 6749 §2.3.1), which the provider
/// decodes; all within the VSCHAR range (%x20-7E) a client secret is made of.
const CLIENT_SECRET: &str = "s3c/r+t:=&% ~0123456789abcdef0123456789";
const REDIRECT_URI: &str = "https://drop.example/v1/auth/bankid/callback";

fn client_for(provider: &OidcProvider, secret: &str) -> OidcClient {
    OidcClient::new(
        provider.issuer.clone(),
        CLIENT_ID.to_owned(),
        Secret::new(secret.to_owned()),
        REDIRECT_URI.to_owned(),
    )
    .with_retry_policy(RetryPolicy {
        base_delay: Duration::from_millis(10),
        ..RetryPolicy::default()
    })
}

fn start(claims_in: ClaimsIn) -> (OidcProvider, OidcClient) {
    let provider = OidcProvider::start_with(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, claims_in);
    let client = client_for(&provider, CLIENT_SECRET);
    (provider, client)
}

/// Signs in as `login` in the provider's pages; returns the callback's parameters and the
/// request they answer.
async fn sign_in(
    provider: &OidcProvider,
    client: &OidcClient,
    login: &str,
) -> (
    drop_shared::providers::bankid::AuthorizationRequest,
    AuthorizationResponse,
) {
    let request = client.authorization_request().await.unwrap();
    let callback = provider.login(&request.url, login).await;
    let (base, query) = callback.split_once('?').unwrap();
    assert_eq!(base, REDIRECT_URI);
    let response = AuthorizationResponse::from_query(query).unwrap();
    assert_eq!(response.state, request.state);
    client
        .check_response_issuer(response.iss.as_deref())
        .await
        .unwrap();
    (request, response)
}

async fn identity_of(login: &str, claims_in: ClaimsIn) -> Result<BankIdIdentity, OidcError> {
    let (provider, client) = start(claims_in);
    let (request, response) = sign_in(&provider, &client, login).await;
    client
        .exchange_code(
            response.code.expose(),
            &request.pkce_verifier,
            &request.nonce,
        )
        .await
}

fn assert_adult(id: &BankIdIdentity) {
    assert_eq!(id.altsub, "altsub-adult");
    assert_eq!(id.fnr.expose(), "15108695088");
    assert_eq!(id.fnr.kind(), FodselsnummerKind::Fnr);
    assert_eq!(id.birth_date.to_string(), "1986-10-15");
    assert_eq!(id.given_name, "Kari");
    assert_eq!(id.family_name, "Nordmann");
}

/// In a module so that `cargo test oidc` (and `cargo xtask test -- oidc`) selects them.
mod oidc_provider {
    use super::*;

    #[tokio::test]
    async fn adult_signs_in_with_claims_in_the_id_token() {
        let id = identity_of("adult", ClaimsIn::IdToken).await.unwrap();
        assert_adult(&id);
    }

    #[tokio::test]
    async fn adult_signs_in_with_claims_from_signed_jwt_userinfo() {
        let id = identity_of("adult", ClaimsIn::Userinfo).await.unwrap();
        assert_adult(&id);
    }

    #[tokio::test]
    async fn a_reused_code_is_token_rejected() {
        let (provider, client) = start(ClaimsIn::IdToken);
        let (request, response) = sign_in(&provider, &client, "adult").await;
        let code = response.code.expose();
        client
            .exchange_code(code, &request.pkce_verifier, &request.nonce)
            .await
            .unwrap();
        let err = client
            .exchange_code(code, &request.pkce_verifier, &request.nonce)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, OidcError::TokenRejected { error } if error == "invalid_grant"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_wrong_nonce_is_an_invalid_id_token() {
        let (provider, client) = start(ClaimsIn::IdToken);
        let (request, response) = sign_in(&provider, &client, "adult").await;
        let err = client
            .exchange_code(
                response.code.expose(),
                &request.pkce_verifier,
                "not-the-nonce-we-sent",
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, OidcError::InvalidIdToken(JwtProblem::Nonce)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_wrong_pkce_verifier_is_token_rejected() {
        let (provider, client) = start(ClaimsIn::IdToken);
        let (request, response) = sign_in(&provider, &client, "adult").await;
        let other = client.authorization_request().await.unwrap();
        let err = client
            .exchange_code(response.code.expose(), &other.pkce_verifier, &request.nonce)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, OidcError::TokenRejected { error } if error == "invalid_grant"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_wrong_client_secret_is_client_rejected() {
        let (provider, _) = start(ClaimsIn::IdToken);
        let good = client_for(&provider, CLIENT_SECRET);
        let (request, response) = sign_in(&provider, &good, "adult").await;
        let bad = client_for(&provider, "not-the-secret");
        let err = bad
            .exchange_code(
                response.code.expose(),
                &request.pkce_verifier,
                &request.nonce,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, OidcError::ClientRejected { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn minors_d_numbers_and_synthetic_numbers_come_through_as_they_are() {
        let (provider, client) = start(ClaimsIn::IdToken);
        for (login, kind, birth, age) in [
            ("minor", FodselsnummerKind::Fnr, "2010-05-17", 16),
            ("dnumber", FodselsnummerKind::DNumber, "1985-01-01", 41),
            ("synthetic", FodselsnummerKind::Synthetic, "1990-03-12", 36),
        ] {
            let (request, response) = sign_in(&provider, &client, login).await;
            let id = client
                .exchange_code(
                    response.code.expose(),
                    &request.pkce_verifier,
                    &request.nonce,
                )
                .await
                .unwrap_or_else(|e| panic!("{login}: {e:?}"));
            assert_eq!(id.altsub, format!("altsub-{login}"));
            assert_eq!(id.fnr.kind(), kind, "{login}");
            assert_eq!(id.birth_date.to_string(), birth, "{login}");
            assert_eq!(id.fnr.birth_date(), id.birth_date, "{login}");
            // 2026-11-22 (day 326), built from the date itself: this crate does not depend on `time`.
            let on = id
                .birth_date
                .replace_year(2026)
                .unwrap()
                .replace_ordinal(326)
                .unwrap();
            assert_eq!(id.fnr.age_on(on), age, "{login}");
        }
    }

    #[tokio::test]
    async fn an_invalid_fnr_and_a_missing_altsub_are_refused() {
        let (provider, client) = start(ClaimsIn::IdToken);
        for login in ["badfnr", "noaltsub"] {
            let (request, response) = sign_in(&provider, &client, login).await;
            let result = client
                .exchange_code(
                    response.code.expose(),
                    &request.pkce_verifier,
                    &request.nonce,
                )
                .await;
            match (login, result) {
                ("badfnr", Err(OidcError::InvalidNationalId(_))) => {}
                ("noaltsub", Err(OidcError::MissingClaim("bankid_altsub"))) => {}
                (login, other) => panic!("{login}: {other:?}"),
            }
        }
    }
}
