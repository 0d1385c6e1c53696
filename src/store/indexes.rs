//! Secondary indexes, kept in step with their records in the same transaction: the tasks and
//! the audit trail of an org, and the unfinished tasks of an app. Lists and app views read
//! them instead of scanning every org's records.

use super::{
    APP_TASKS, AUDIT, AuditRecord, JsonTable, ORG_AUDIT, ORG_TASKS, Reads, StoreError, TaskRecord,
    WriteTx, org_prefix,
};

fn org_task_key(org: &str, task: &str) -> String {
    format!("{}{task}", org_prefix(org))
}

fn app_task_key(org: &str, app: &str, task: &str) -> String {
    format!("{}{}/{task}", org_prefix(org), app.to_ascii_lowercase())
}

/// The key of an audit entry in its org's index (ids zero-padded, so keys sort by id).
pub fn org_audit_key(org: &str, id: u64) -> String {
    format!("{}{id:020}", org_prefix(org))
}

/// Indexes a new (or re-queued) task: its org's list, and its app's unfinished tasks.
pub fn task_submitted(tx: &WriteTx, task: &TaskRecord) -> Result<(), StoreError> {
    let Some(org) = &task.org else {
        return Ok(());
    };
    tx.open(&ORG_TASKS)?
        .put(org_task_key(org, &task.name).as_str(), &())?;
    if let Some(app) = &task.app {
        tx.open(&APP_TASKS)?
            .put(app_task_key(org, app, &task.name).as_str(), &())?;
    }
    Ok(())
}

/// A task ended (done, failed, expired): it no longer keeps its app busy.
pub fn task_ended(tx: &WriteTx, task: &TaskRecord) -> Result<(), StoreError> {
    if let (Some(org), Some(app)) = (&task.org, &task.app) {
        tx.open(&APP_TASKS)?
            .remove(app_task_key(org, app, &task.name).as_str())?;
    }
    Ok(())
}

/// What follows `prefix` in the keys of an index table, in key order.
fn suffixes(
    tx: &impl Reads,
    table: &JsonTable<&'static str, ()>,
    prefix: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(tx
        .read(table)?
        .keys_with_prefix(prefix)?
        .into_iter()
        .map(|key| key[prefix.len()..].to_string())
        .collect())
}

/// The names of an org's tasks, oldest first.
pub fn org_task_names(tx: &impl Reads, org: &str) -> Result<Vec<String>, StoreError> {
    suffixes(tx, &ORG_TASKS, &org_prefix(org))
}

/// How many tasks an org has.
pub fn org_task_count(tx: &impl Reads, org: &str) -> Result<usize, StoreError> {
    tx.read(&ORG_TASKS)?.count_prefix(&org_prefix(org))
}

/// One page of an org's task names, newest first.
pub fn org_task_names_newest(
    tx: &impl Reads,
    org: &str,
    skip: usize,
    take: usize,
) -> Result<Vec<String>, StoreError> {
    let prefix = org_prefix(org);
    Ok(tx
        .read(&ORG_TASKS)?
        .keys_with_prefix_rev(&prefix, skip, take)?
        .into_iter()
        .map(|key| key[prefix.len()..].to_string())
        .collect())
}

/// The names of an app's unfinished tasks.
pub fn app_unfinished_tasks(
    tx: &impl Reads,
    org: &str,
    app: &str,
) -> Result<Vec<String>, StoreError> {
    suffixes(tx, &APP_TASKS, &app_task_key(org, app, ""))
}

/// Appends an audit entry (its id and time set here) and indexes it under its org.
pub fn append_audit(tx: &WriteTx, mut entry: AuditRecord) -> Result<(), StoreError> {
    entry.id = tx.next_id("audit")?;
    entry.time = chrono::Utc::now();
    if let Some(org) = &entry.org {
        tx.open(&ORG_AUDIT)?
            .put(org_audit_key(org, entry.id).as_str(), &())?;
    }
    tx.open(&AUDIT)?.put(entry.id, &entry)
}

/// The ids of an org's audit entries, oldest first.
pub fn org_audit_ids(tx: &impl Reads, org: &str) -> Result<Vec<u64>, StoreError> {
    suffixes(tx, &ORG_AUDIT, &org_prefix(org))?
        .into_iter()
        .map(|id| {
            id.parse().map_err(|_| StoreError::Corrupt {
                table: ORG_AUDIT.name(),
                message: format!("bad audit id {id}"),
            })
        })
        .collect()
}
