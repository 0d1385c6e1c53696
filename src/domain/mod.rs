//! The rules: services that validate input, enforce invariants and call the store, the job
//! runner and the origins. No HTTP types here.

pub mod apikeys;
pub mod apps;
pub mod audit;
pub mod caller;
pub mod deployments;
mod error;
pub mod health;
pub mod identity;
pub mod instance;
pub mod listing;
pub mod names;
pub mod orgs;
pub mod permissions;
pub mod roles;
pub mod sessions;
pub mod subscriptions;
pub mod tasks;
pub mod users;

pub use error::DomainError;

/// Runs CPU- or disk-bound work (hashing, directory walks) off the async reactor.
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, DomainError> + Send + 'static,
) -> Result<R, DomainError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DomainError::Internal(format!("background work failed: {e}")))?
}

/// The record `name` of `org` in an org-scoped table, or a 404 naming `what` and the name.
pub(crate) async fn find_in_org<V>(
    store: &crate::store::Store,
    table: &'static crate::store::JsonTable<&'static str, V>,
    org: &str,
    name: &str,
    what: &'static str,
) -> Result<V, DomainError>
where
    V: serde::de::DeserializeOwned + Send + 'static,
{
    let key = crate::store::org_key(org, name);
    let shown = name.to_string();
    store
        .read(move |tx| {
            tx.open(table)?
                .get(key.as_str())?
                .ok_or_else(|| DomainError::not_found(format!("{what} {shown}")))
        })
        .await
}
