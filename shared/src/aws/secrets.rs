//! Secrets: a type that cannot be printed, and a store that reads each secret from Secrets
//! Manager once per instance, the first time it is needed.

use crate::secret::Secret;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {name} could not be read")]
    Read {
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("secret {name} has no string value")]
    NotAString { name: String },
}

type Cell = Arc<OnceCell<Secret<String>>>;

/// Reads secrets named `{prefix}{name}` once each and keeps them for the instance's life.
#[derive(Clone)]
pub struct SecretStore {
    aws: crate::aws::Aws,
    prefix: String,
    cells: Arc<Mutex<HashMap<String, Cell>>>,
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl SecretStore {
    pub fn new(aws: crate::aws::Aws, prefix: impl Into<String>) -> Self {
        Self {
            aws,
            prefix: prefix.into(),
            cells: Arc::default(),
        }
    }

    /// The full secret id for a short name.
    pub fn secret_id(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    fn cell(&self, name: &str) -> Cell {
        let mut cells = self
            .cells
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cells.entry(name.to_owned()).or_default().clone()
    }

    /// The secret `name`, read from Secrets Manager on first use. Concurrent first uses share
    /// one read; a failed read is retried by the next caller.
    pub async fn get(&self, name: &str) -> Result<Secret<String>, SecretError> {
        let cell = self.cell(name);
        let value = cell
            .get_or_try_init(|| self.read_by_id(self.secret_id(name)))
            .await?;
        Ok(value.clone())
    }

    /// Several secrets, read concurrently.
    pub async fn get_many(&self, names: &[&str]) -> Result<Vec<Secret<String>>, SecretError> {
        futures_util::future::try_join_all(names.iter().map(|n| self.get(n))).await
    }

    /// A secret by its full id, uncached (for ids given whole in configuration).
    pub async fn read_by_id(&self, id: String) -> Result<Secret<String>, SecretError> {
        let out = self
            .aws
            .clients()
            .await
            .secrets
            .get_secret_value()
            .secret_id(&id)
            .send()
            .await
            .map_err(|e| SecretError::Read {
                name: id.clone(),
                source: Box::new(e.into_service_error()),
            })?;
        out.secret_string
            .map(Secret::new)
            .ok_or(SecretError::NotAString { name: id })
    }
}

/// A secret that cannot be read is the service being unavailable, not a client's mistake.
impl From<SecretError> for crate::error::ApiError {
    fn from(err: SecretError) -> Self {
        crate::error::ApiError::new(crate::error::ErrorCode::ServiceUnavailable)
            .with_retry_after(1)
            .with_source(err)
    }
}

impl SecretStore {
    /// The keys that sign and check session tokens.
    pub async fn session_keys(
        &self,
    ) -> Result<crate::domain::session::SessionKeys, crate::error::ApiError> {
        let secret = self.get("jwt-signing-key").await?;
        crate::domain::session::SessionKeys::new(&secret).map_err(crate::error::ApiError::internal)
    }

    /// The fødselsnummer vault, from its two keys.
    pub async fn fnr_vault(&self) -> Result<crate::crypto::FnrVault, crate::error::ApiError> {
        self.vault(["fnr-encryption-key", "fnr-hmac-key"]).await
    }

    /// The keys that seal and find bank account numbers (`account-encryption-key`,
    /// `account-hmac-key`), read in one call.
    pub async fn account_vault(
        &self,
    ) -> Result<crate::crypto::AccountVault, crate::error::ApiError> {
        self.vault(["account-encryption-key", "account-hmac-key"])
            .await
    }

    async fn vault<T: crate::crypto::Sealable>(
        &self,
        [encryption, hmac]: [&str; 2],
    ) -> Result<crate::crypto::Vault<T>, crate::error::ApiError> {
        match self.get_many(&[encryption, hmac]).await?.as_slice() {
            [encryption, hmac] => crate::crypto::Vault::new(encryption, hmac)
                .map_err(crate::error::ApiError::internal),
            _ => Err(crate::error::ApiError::msg(
                crate::error::ErrorCode::Internal,
                "vault keys",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?} {s}"), "Secret([redacted]) [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }
}
