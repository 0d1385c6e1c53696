//! Additional API keys of machine users, and their revocation.

use schemars::JsonSchema;
use serde::Serialize;

use super::caller::Caller;
use super::names::check_key_id;
use super::text::check_label;
use super::users::add_api_key;
use super::{DomainError, found, in_org};
use crate::store::{API_KEYS, Account, Store, USERS};

/// A minted key, shown once.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MintedKey {
    pub api_key: String,
    pub key_id: String,
}

/// API key rules.
#[derive(Clone)]
pub struct ApiKeyService {
    store: Store,
}

impl ApiKeyService {
    /// Keys in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Mints another key for a machine user of the caller's org.
    pub async fn create(
        &self,
        caller: &Caller,
        username: &str,
        label: Option<String>,
    ) -> Result<MintedKey, DomainError> {
        if let Some(label) = &label {
            check_label("label", label)?;
        }
        let org = caller.org.clone();
        let username = username.to_string();
        in_org(&self.store, caller)
            .write(move |tx| {
                let user = found(
                    tx.open(&USERS)?.named(Some(&org), &username)?,
                    "user",
                    &username,
                )?;
                if !matches!(user.account, Account::Machine { .. }) {
                    return Err(DomainError::invalid(
                        "username",
                        "API keys are for machine users",
                    ));
                }
                let (api_key, key_id) =
                    add_api_key(tx, &org, &user.username, label.as_deref().unwrap_or(""))?;
                Ok(MintedKey { api_key, key_id })
            })
            .await
    }

    /// Revokes a key of the caller's org.
    pub async fn delete(&self, caller: &Caller, key_id: &str) -> Result<(), DomainError> {
        check_key_id("keyId", key_id)?;
        let org = caller.org.clone();
        let key_id = key_id.to_string();
        in_org(&self.store, caller)
            .write(move |tx| {
                let mut keys = tx.open(&API_KEYS)?;
                match keys.get(key_id.as_str())? {
                    Some(key) if key.org.eq_ignore_ascii_case(&org) => {
                        keys.remove(key_id.as_str())?;
                        Ok(())
                    }
                    _ => Err(DomainError::not_found(format!("API key {key_id}"))),
                }
            })
            .await
    }
}
