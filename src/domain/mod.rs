//! The rules: services that validate input, enforce invariants and call the store, the job
//! runner and the origins. No HTTP types here.

pub mod apikeys;
pub mod apps;
pub mod audit;
pub mod backups;
pub mod builds;
pub mod caller;
pub mod deployments;
pub mod depot;
pub mod downloads;
mod error;
pub mod health;
pub mod identity;
pub mod instance;
pub mod keys;
pub mod listing;
pub mod names;
pub mod orgs;
pub mod permissions;
pub mod publishing;
pub mod roles;
pub mod sessions;
pub mod subscriptions;
pub mod tasks;
pub mod text;
pub mod trainings;
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

/// A name check ([`names::check_name`], [`names::check_deployment_name`]).
pub(crate) type NameCheck = fn(&str, &str) -> Result<(), DomainError>;

/// `record`, looked up as `what` `name`, or the 404 naming it.
pub(crate) fn found<V>(record: Option<V>, what: &str, name: &str) -> Result<V, DomainError> {
    record.ok_or_else(|| DomainError::not_found(format!("{what} {name}")))
}

/// The record spelled exactly `name` of `org` in an org-scoped table: 400 when `name` breaks
/// `rule`, 404 naming `what` when there is none.
pub(crate) async fn find_in_org<V>(
    store: &crate::store::Store,
    table: &'static crate::store::JsonTable<&'static str, V>,
    org: &str,
    name: &str,
    what: &'static str,
    rule: NameCheck,
) -> Result<V, DomainError>
where
    V: serde::de::DeserializeOwned + crate::store::Named + Send + 'static,
{
    rule(what, name)?;
    let (org, name) = (org.to_string(), name.to_string());
    store
        .read(move |tx| found(tx.open(table)?.named(Some(&org), &name)?, what, &name))
        .await
}

/// Write transactions on behalf of a caller, with the request's audit entry: each first checks that the caller's org still
/// exists as the one it authenticated in, so a request in flight while its org is deleted (or
/// re-created under the same name) cannot leave records behind.
pub(crate) struct OrgWriter<'a> {
    store: &'a crate::store::Store,
    org: String,
    org_id: u64,
    /// The audit entry of the request, written in the change's transaction.
    entry: Option<crate::store::AuditRecord>,
}

/// The writer for `caller`'s org.
pub(crate) fn in_org<'a>(store: &'a crate::store::Store, caller: &caller::Caller) -> OrgWriter<'a> {
    OrgWriter {
        store,
        org: caller.org.clone(),
        org_id: caller.org_id,
        entry: audit::entry_for(caller),
    }
}

impl OrgWriter<'_> {
    /// Runs `f` in a write transaction of the caller's live org.
    pub(crate) async fn write<R: Send + 'static>(
        self,
        f: impl FnOnce(&crate::store::WriteTx) -> Result<R, DomainError> + Send + 'static,
    ) -> Result<R, DomainError> {
        let (org, org_id, entry) = (self.org, self.org_id, self.entry);
        let audited = entry.is_some();
        let result = self
            .store
            .write(move |tx| {
                let live = tx
                    .open(&crate::store::ORGS)?
                    .get(org.to_ascii_lowercase().as_str())?
                    .is_some_and(|record| record.id == org_id);
                if !live {
                    return Err(DomainError::not_found(format!("org {org}")));
                }
                let result = f(tx)?;
                if let Some(entry) = entry {
                    audit::append(tx, entry)?;
                }
                Ok(result)
            })
            .await;
        if audited && result.is_ok() {
            audit::mark_recorded();
        }
        result
    }
}
