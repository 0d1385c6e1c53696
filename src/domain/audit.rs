//! The audit trail: every mutating request, who made it, and what came of it.

use std::ops::ControlFlow;

use chrono::{DateTime, Utc};

use super::DomainError;
use super::caller::Caller;
use super::listing::{ListParams, Page};
use crate::store::{AUDIT, AuditRecord, Store};

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

    /// Appends an entry (its id and time are assigned here).
    pub async fn record(&self, mut entry: AuditRecord) -> Result<(), DomainError> {
        self.store
            .write(move |tx| {
                entry.id = tx.next_id("audit")?;
                entry.time = Utc::now();
                tx.open(&AUDIT)?.put(entry.id, &entry)?;
                Ok(())
            })
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
                tx.open(&AUDIT)?.scan(0u64.., |_, entry| {
                    let keep = entry
                        .org
                        .as_deref()
                        .is_some_and(|o| o.eq_ignore_ascii_case(&org))
                        && filter
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
                    ControlFlow::Continue(())
                })?;
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
