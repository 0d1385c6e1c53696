//! Removing an org: every record that names it goes in the deletion's transaction, so nothing
//! of it can be inherited by an org re-created under the same name.

use std::ops::ControlFlow;

use super::{
    API_KEYS, APPS, AUDIT, DEPLOYMENTS, DeploymentRecord, EVENTS, ORGS, OrgRecord, ROLES, SESSIONS,
    SUBSCRIPTIONS, StoreError, TASK_QUEUE, TASKS, USER_ORGS, USERS, WriteTx, org_prefix,
    user_org_key,
};

fn same_org(record_org: Option<&str>, org: &str) -> bool {
    record_org.is_some_and(|o| o.eq_ignore_ascii_case(org))
}

/// Deletes the org and every record of it: roles, users and their index entries, sessions
/// and API keys, apps, deployments, subscriptions, tasks (queued ones leave the queue),
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
    tx.open(&SUBSCRIPTIONS)?.remove_prefix(&prefix)?;
    let deployments = tx.open(&DEPLOYMENTS)?.with_prefix(&prefix)?;
    tx.open(&DEPLOYMENTS)?.remove_prefix(&prefix)?;
    tx.open(&API_KEYS)?
        .remove_where(|key| same_org(Some(&key.org), name))?;
    tx.open(&SESSIONS)?
        .remove_where(|session| same_org(Some(&session.org), name))?;
    let mut doomed = Vec::new();
    tx.open(&TASKS)?.scan::<&str>(.., |_, task| {
        if same_org(task.org.as_deref(), name) {
            doomed.push((task.name, task.seq));
        }
        ControlFlow::Continue(())
    })?;
    let (mut tasks, mut queue) = (tx.open(&TASKS)?, tx.open(&TASK_QUEUE)?);
    for (task, seq) in doomed {
        tasks.remove(task.as_str())?;
        queue.remove(seq)?;
    }
    tx.open(&EVENTS)?
        .remove_where(|event| same_org(event.org.as_deref(), name))?;
    tx.open(&AUDIT)?
        .remove_where(|entry| same_org(entry.org.as_deref(), name))?;
    tx.open(&ORGS)?.remove(name.to_ascii_lowercase().as_str())?;
    Ok(deployments.into_iter().map(|(_, d)| d).collect())
}
