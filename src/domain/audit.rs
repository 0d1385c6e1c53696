//! The audit trail: every mutating request, who made it, and what came of it.

use chrono::{DateTime, Utc};

use super::DomainError;
use super::caller::Caller;
use super::listing::{ListParams, Page};
use crate::store::{self, AUDIT, AuditRecord, Store, StoreError, WriteTx};

/// What the audit trail will say of the request being served, until an entry is written.
#[derive(Debug)]
pub struct PendingAudit {
    pub action: String,
    pub target: String,
    pub client_address: String,
    recorded: std::cell::Cell<bool>,
}

tokio::task_local! {
    static PENDING: PendingAudit;
}

impl PendingAudit {
    /// The entry-to-be of one mutating request.
    pub fn new(action: String, target: String, client_address: String) -> Self {
        Self {
            action,
            target,
            client_address,
            recorded: std::cell::Cell::new(false),
        }
    }

    /// Runs a request's handling with this pending entry; true when a change wrote the entry
    /// in its own transaction (else the caller records the outcome itself).
    pub async fn scope<F: std::future::Future>(self, handling: F) -> (F::Output, bool) {
        PENDING
            .scope(self, async move {
                let output = handling.await;
                (output, PENDING.with(|p| p.recorded.get()))
            })
            .await
    }
}

/// The entry a change by `caller` writes in its own transaction, when the request being
/// served has none yet: the change and its record of who made it commit together.
pub(crate) fn entry_for(caller: &Caller) -> Option<AuditRecord> {
    PENDING
        .try_with(|pending| {
            (!pending.recorded.get()).then(|| AuditRecord {
                id: 0,
                time: Utc::now(),
                org: Some(caller.org.clone()),
                actor: caller.username.clone(),
                action: pending.action.clone(),
                target: pending.target.clone(),
                result: 200,
                client_address: pending.client_address.clone(),
            })
        })
        .ok()
        .flatten()
}

/// Notes that the request's entry was committed.
pub(crate) fn mark_recorded() {
    let _ = PENDING.try_with(|pending| pending.recorded.set(true));
}

/// Appends an entry in `tx` (its id and time are assigned here).
pub(crate) fn append(tx: &WriteTx, entry: AuditRecord) -> Result<(), StoreError> {
    store::append_audit(tx, entry)
}

/// Filters of `GET /be/v1/activities`.
#[derive(Debug, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub after: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
}

/// Records and lists audit entries.
#[derive(Clone)]
pub struct AuditService {
    store: Store,
}

impl AuditService {
    /// The trail in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Appends an entry in its own transaction: for requests whose outcome changed nothing.
    pub async fn record(&self, entry: AuditRecord) -> Result<(), DomainError> {
        self.store
            .write(move |tx| Ok::<_, DomainError>(append(tx, entry)?))
            .await
    }

    /// The caller's org's entries, newest first unless `order[]` says otherwise.
    pub async fn list(
        &self,
        caller: &Caller,
        filter: AuditFilter,
        params: ListParams,
    ) -> Result<Page<AuditRecord>, DomainError> {
        let org = caller.org.clone();
        let entries = self
            .store
            .read(move |tx| {
                let mut found = Vec::new();
                let table = tx.open(&AUDIT)?;
                for id in store::org_audit_ids(tx, &org)? {
                    let Some(entry) = table.get(id)? else {
                        continue;
                    };
                    let keep = filter
                        .actor
                        .as_ref()
                        .is_none_or(|a| entry.actor.eq_ignore_ascii_case(a))
                        && filter.action.as_ref().is_none_or(|a| {
                            entry
                                .action
                                .to_ascii_lowercase()
                                .contains(&a.to_ascii_lowercase())
                        })
                        && filter.after.is_none_or(|t| entry.time > t)
                        && filter.before.is_none_or(|t| entry.time < t);
                    if keep {
                        found.push(entry);
                    }
                }
                Ok::<_, DomainError>(found)
            })
            .await?;
        params.apply(
            entries,
            &["time", "actor", "action"],
            |a, b| b.id.cmp(&a.id),
            |field, a, b| match field {
                "actor" => a.actor.cmp(&b.actor),
                "action" => a.action.cmp(&b.action),
                _ => a.id.cmp(&b.id),
            },
        )
    }
}
