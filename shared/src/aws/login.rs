//! Short-lived sign-in state in DynamoDB: the pending BankID login (state → nonce, PKCE
//! verifier, client kind; 10 minutes) and the mobile app's one-time code (60 seconds). Each is
//! taken with a conditional delete, so it works once, on whichever instance gets it.

use crate::aws::Aws;
use crate::domain::session::{SessionClaims, SessionKind};
use crate::secret::Secret;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::collections::HashMap;
use time::OffsetDateTime;

pub const LOGIN_TTL_SECS: i64 = 600;
pub const MOBILE_CODE_TTL_SECS: i64 = 60;

/// A BankID login between `start` and `callback`.
pub struct PendingLogin {
    pub nonce: String,
    pub pkce_verifier: Secret<String>,
    pub client: SessionKind,
    /// S256 challenge of a secret only the client that started holds: the mobile app's PKCE
    /// `code_verifier`, or the browser's sign-in cookie. The client that finishes must answer
    /// it, so a code intercepted from `drop://`, or a callback link planted in another
    /// browser (login CSRF), is worthless.
    pub client_challenge: String,
}

/// What a mobile one-time code stands for.
pub struct MobileGrant {
    pub claims: SessionClaims,
    pub app_challenge: String,
}

#[derive(Debug, thiserror::Error)]
#[error("sign-in state store")]
pub struct LoginStoreError(#[source] Box<dyn std::error::Error + Send + Sync>);

fn store_err(e: impl std::error::Error + Send + Sync + 'static) -> LoginStoreError {
    LoginStoreError(Box::new(e))
}

#[derive(Clone)]
pub struct LoginStore {
    aws: Aws,
    table: String,
}

type Item = HashMap<String, AttributeValue>;

fn s(item: &Item, key: &str) -> Option<String> {
    item.get(key).and_then(|v| v.as_s().ok()).cloned()
}

impl LoginStore {
    pub fn new(aws: Aws, table: String) -> Self {
        Self { aws, table }
    }

    async fn put(&self, pk: String, ttl_secs: i64, mut item: Item) -> Result<(), LoginStoreError> {
        let expires = OffsetDateTime::now_utc().unix_timestamp() + ttl_secs;
        item.insert("pk".into(), AttributeValue::S(pk));
        item.insert("expires_at".into(), AttributeValue::N(expires.to_string()));
        self.aws
            .clients()
            .await
            .dynamo
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| store_err(e.into_service_error()))?;
        Ok(())
    }

    /// Deletes and returns the item if it exists and has not expired (DynamoDB's TTL removes
    /// expired items only eventually).
    async fn take(&self, pk: String) -> Result<Option<Item>, LoginStoreError> {
        let out = self
            .aws
            .clients()
            .await
            .dynamo
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| store_err(e.into_service_error()))?;
        let Some(item) = out.attributes else {
            return Ok(None);
        };
        let expires = item
            .get("expires_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok());
        Ok(expires
            .filter(|e| *e > OffsetDateTime::now_utc().unix_timestamp())
            .map(|_| item))
    }

    pub async fn save_login(
        &self,
        state: &str,
        login: &PendingLogin,
    ) -> Result<(), LoginStoreError> {
        let item = Item::from([
            ("nonce".into(), AttributeValue::S(login.nonce.clone())),
            (
                "verifier".into(),
                AttributeValue::S(login.pkce_verifier.expose().clone()),
            ),
            (
                "client".into(),
                AttributeValue::S(login.client.as_str().into()),
            ),
        ]);
        let mut item = item;
        item.insert(
            "client_challenge".into(),
            AttributeValue::S(login.client_challenge.clone()),
        );
        self.put(format!("login#{state}"), LOGIN_TTL_SECS, item)
            .await
    }

    /// The pending login for `state`, once.
    pub async fn take_login(&self, state: &str) -> Result<Option<PendingLogin>, LoginStoreError> {
        let Some(item) = self.take(format!("login#{state}")).await? else {
            return Ok(None);
        };
        let client = match s(&item, "client").as_deref() {
            Some("mobile") => SessionKind::Mobile,
            _ => SessionKind::Web,
        };
        let secrets = s(&item, "nonce")
            .zip(s(&item, "verifier"))
            .zip(s(&item, "client_challenge"));
        Ok(
            secrets.map(|((nonce, verifier), client_challenge)| PendingLogin {
                nonce,
                pkce_verifier: Secret::new(verifier),
                client,
                client_challenge,
            }),
        )
    }

    /// Keeps a mobile session's claims under a one-time code for the app to exchange.
    pub async fn save_mobile_code(
        &self,
        code: &str,
        grant: &MobileGrant,
    ) -> Result<(), LoginStoreError> {
        let json = serde_json::to_string(&grant.claims).map_err(store_err)?;
        let item = Item::from([
            ("claims".into(), AttributeValue::S(json)),
            (
                "app_challenge".into(),
                AttributeValue::S(grant.app_challenge.clone()),
            ),
        ]);
        self.put(format!("mobile-code#{code}"), MOBILE_CODE_TTL_SECS, item)
            .await
    }

    /// What a mobile one-time code stands for, once.
    pub async fn take_mobile_code(
        &self,
        code: &str,
    ) -> Result<Option<MobileGrant>, LoginStoreError> {
        let Some(item) = self.take(format!("mobile-code#{code}")).await? else {
            return Ok(None);
        };
        let claims = s(&item, "claims").and_then(|json| serde_json::from_str(&json).ok());
        Ok(claims
            .zip(s(&item, "app_challenge"))
            .map(|(claims, app_challenge)| MobileGrant {
                claims,
                app_challenge,
            }))
    }
}
