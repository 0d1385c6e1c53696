//! Removing an org: every record that names it goes in the deletion's transaction, so nothing
//! of it can be inherited by an org re-created under the same name.

use super::indexes::{org_audit_ids, org_task_names};
use super::{
    ACCESS_KEYS, API_KEYS, APP_TASKS, APPS, AUDIT, DEPLOYMENTS, DeploymentRecord, EVENTS,
    ORG_AUDIT, ORG_TASKS, ORGS, OrgRecord, ROLES, SESSIONS, SUBSCRIPTIONS, StoreError, TASK_QUEUE,
    TASKS, TRACES, TRAININGS, USER_ORGS, USERS, WriteTx, org_prefix, user_org_key,
};

fn same_org(record_org: Option<&str>, org: &str) -> bool {
    record_org.is_some_and(|o| o.eq_ignore_ascii_case(org))
}

/// Deletes the org and every record of it: roles, users and their index entries, sessions
/// and API keys, apps with their access keys and training, deployments, subscriptions, tasks (queued ones leave the queue),
/// events and the audit trail. Returns the deployments it removed, whose origins may still
/// hold the org's files.
pub fn purge_org(tx: &WriteTx, org: &OrgRecord) -> Result<Vec<DeploymentRecord>, StoreError> {
    let name = org.name.as_str();
    let prefix = org_prefix(name);
    let users = tx.open(&USERS)?.with_prefix(&prefix)?;
    let mut index = tx.open(&USER_ORGS)?;
    for (_, user) in &users {
        index.remove(user_org_key(&user.username, name).as_str())?;
    }
    tx.open(&USERS)?.remove_prefix(&prefix)?;
    tx.open(&ROLES)?.remove_prefix(&prefix)?;
    tx.open(&APPS)?.remove_prefix(&prefix)?;
    tx.open(&ACCESS_KEYS)?.remove_prefix(&prefix)?;
    tx.open(&TRACES)?.remove_prefix(&prefix)?;
    tx.open(&TRAININGS)?.remove_prefix(&prefix)?;
    tx.open(&SUBSCRIPTIONS)?.remove_prefix(&prefix)?;
    let deployments = tx.open(&DEPLOYMENTS)?.with_prefix(&prefix)?;
    tx.open(&DEPLOYMENTS)?.remove_prefix(&prefix)?;
    tx.open(&API_KEYS)?
        .remove_where(|key| same_org(Some(&key.org), name))?;
    tx.open(&SESSIONS)?
        .remove_where(|session| same_org(Some(&session.org), name))?;
    let (mut tasks, mut queue) = (tx.open(&TASKS)?, tx.open(&TASK_QUEUE)?);
    for task in org_task_names(tx, name)? {
        if let Some(record) = tasks.get(task.as_str())? {
            tasks.remove(task.as_str())?;
            queue.remove(record.seq)?;
        }
    }
    tx.open(&ORG_TASKS)?.remove_prefix(&prefix)?;
    tx.open(&APP_TASKS)?.remove_prefix(&prefix)?;
    tx.open(&EVENTS)?
        .remove_where(|event| same_org(event.org.as_deref(), name))?;
    let mut audit = tx.open(&AUDIT)?;
    for id in org_audit_ids(tx, name)? {
        audit.remove(id)?;
    }
    tx.open(&ORG_AUDIT)?.remove_prefix(&prefix)?;
    tx.open(&ORGS)?.remove(name.to_ascii_lowercase().as_str())?;
    Ok(deployments.into_iter().map(|(_, d)| d).collect())
}
