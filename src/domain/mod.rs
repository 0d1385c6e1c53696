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
