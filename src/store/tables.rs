//! Every table of the store, declared once.

use redb::TableDefinition;

use super::build_records::AccessKeyRecord;
use super::records::{
    ApiKeyRecord, AppRecord, AuditRecord, DeploymentRecord, EventRecord, OrgRecord, RoleRecord,
    SessionRecord, SubscriptionRecord, TaskRecord, UserRecord,
};
use super::training_records::{TraceRecord, TrainingRecord};
use super::{JsonTable, StoreError, WriteTx};

/// Store metadata (`schema_version`).
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Named monotonic counters (event ids, task sequence numbers).
pub(super) const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");

/// Orgs by lower-cased name.
pub const ORGS: JsonTable<&str, OrgRecord> = JsonTable::new("orgs");
/// Roles by `org_lc/role_lc`.
pub const ROLES: JsonTable<&str, RoleRecord> = JsonTable::new("roles");
/// Users (persons and machine users) by `org_lc/user_lc`.
pub const USERS: JsonTable<&str, UserRecord> = JsonTable::new("users");
/// Apps by `org_lc/app_lc`.
pub const APPS: JsonTable<&str, AppRecord> = JsonTable::new("apps");
/// Every task by name (names are time-ordered UUIDs).
pub const TASKS: JsonTable<&str, TaskRecord> = JsonTable::new("tasks");
/// Unfinished tasks by submission sequence: the job queue.
pub const TASK_QUEUE: JsonTable<u64, String> = JsonTable::new("task_queue");
/// The event outbox by event id.
pub const EVENTS: JsonTable<u64, EventRecord> = JsonTable::new("events");
/// The orgs a username exists in, by `user_lc/org_lc` (value: the org's name).
pub const USER_ORGS: JsonTable<&str, String> = JsonTable::new("user_orgs");
/// Login sessions by id.
pub const SESSIONS: JsonTable<&str, SessionRecord> = JsonTable::new("sessions");
/// API keys by key id (unique in the instance).
pub const API_KEYS: JsonTable<&str, ApiKeyRecord> = JsonTable::new("api_keys");
/// The audit trail by entry id.
pub const AUDIT: JsonTable<u64, AuditRecord> = JsonTable::new("audit");
/// Deployments (CDN origins) by `org_lc/name_lc`.
pub const DEPLOYMENTS: JsonTable<&str, DeploymentRecord> = JsonTable::new("deployments");
/// Event subscriptions by `org_lc/name_lc`.
pub const SUBSCRIPTIONS: JsonTable<&str, SubscriptionRecord> = JsonTable::new("subscriptions");

/// Launcher access keys by `org_lc/app_lc/{key id}`.
pub const ACCESS_KEYS: JsonTable<&str, AccessKeyRecord> = JsonTable::new("access_keys");

/// Launchers' traces by `org_lc/app_lc/{dxfName}/{digest}`.
pub const TRACES: JsonTable<&str, TraceRecord> = JsonTable::new("traces");
/// Each app's training by `org_lc/app_lc`.
pub const TRAININGS: JsonTable<&str, TrainingRecord> = JsonTable::new("trainings");

/// Every task of an org, by `org_lc/{task name}`: in creation order, as task names are
/// time-ordered.
pub const ORG_TASKS: JsonTable<&str, ()> = JsonTable::new("org_tasks");
/// The unfinished tasks of an app, by `org_lc/app_lc/{task name}`.
pub const APP_TASKS: JsonTable<&str, ()> = JsonTable::new("app_tasks");
/// The audit trail of an org, by `org_lc/{entry id, 20 digits}`: in entry order.
pub const ORG_AUDIT: JsonTable<&str, ()> = JsonTable::new("org_audit");

/// Schema 1: every table exists, so readers never meet a missing one.
pub(super) fn create_initial_tables(tx: &WriteTx) -> Result<(), StoreError> {
    tx.inner.open_table(META)?;
    tx.inner.open_table(COUNTERS)?;
    tx.open(&ORGS)?;
    tx.open(&ROLES)?;
    tx.open(&USERS)?;
    tx.open(&APPS)?;
    tx.open(&TASKS)?;
    tx.open(&TASK_QUEUE)?;
    tx.open(&EVENTS)?;
    Ok(())
}

/// Schema 2: sessions, API keys, the audit trail, and the username → orgs index (backfilled).
pub(super) fn add_identity_tables(tx: &WriteTx) -> Result<(), StoreError> {
    tx.open(&SESSIONS)?;
    tx.open(&API_KEYS)?;
    tx.open(&AUDIT)?;
    let users = tx.open(&USERS)?.with_prefix("")?;
    let mut index = tx.open(&USER_ORGS)?;
    for (_, user) in users {
        index.put(user_org_key(&user.username, &user.org).as_str(), &user.org)?;
    }
    Ok(())
}

/// Schema 3: deployments and event subscriptions.
pub(super) fn add_control_plane_tables(tx: &WriteTx) -> Result<(), StoreError> {
    tx.open(&DEPLOYMENTS)?;
    tx.open(&SUBSCRIPTIONS)?;
    Ok(())
}

/// Schema 4: every org gets its never-reused id.
pub(super) fn number_orgs(tx: &WriteTx) -> Result<(), StoreError> {
    let orgs = tx.open(&ORGS)?.with_prefix("")?;
    let mut table = tx.open(&ORGS)?;
    for (key, mut org) in orgs {
        if org.id == 0 {
            org.id = tx.next_id(ORG_IDS)?;
            table.put(key.as_str(), &org)?;
        }
    }
    Ok(())
}

/// Schema 5: the per-org indexes of tasks and audit entries and the per-app index of
/// unfinished tasks, backfilled, so lists read one org's records and not every org's.
pub(super) fn index_tasks_and_audit(tx: &WriteTx) -> Result<(), StoreError> {
    tx.open(&ORG_TASKS)?;
    tx.open(&APP_TASKS)?;
    tx.open(&ORG_AUDIT)?;
    let mut tasks = Vec::new();
    tx.open(&TASKS)?.scan::<&str>(.., |_, task| {
        tasks.push(task);
        std::ops::ControlFlow::Continue(())
    })?;
    for task in &tasks {
        super::indexes::task_submitted(tx, task)?;
        if task.status.is_terminal() {
            super::indexes::task_ended(tx, task)?;
        }
    }
    let mut entries = Vec::new();
    tx.open(&AUDIT)?.scan(0u64.., |id, entry| {
        entries.push((id, entry.org));
        std::ops::ControlFlow::Continue(())
    })?;
    let mut index = tx.open(&ORG_AUDIT)?;
    for (id, org) in entries {
        if let Some(org) = org {
            index.put(super::indexes::org_audit_key(&org, id).as_str(), &())?;
        }
    }
    Ok(())
}

/// Schema 6: launcher access keys. Apps gain their builds inside their records.
pub(super) fn add_access_keys(tx: &WriteTx) -> Result<(), StoreError> {
    tx.open(&ACCESS_KEYS)?;
    Ok(())
}

/// Schema 7: launchers' traces and the apps' training.
pub(super) fn add_training_tables(tx: &WriteTx) -> Result<(), StoreError> {
    tx.open(&TRACES)?;
    tx.open(&TRAININGS)?;
    Ok(())
}

/// The counter org ids are drawn from.
pub const ORG_IDS: &str = "orgs";

/// The key of the username → org index.
pub fn user_org_key(username: &str, org: &str) -> String {
    format!(
        "{}/{}",
        username.to_ascii_lowercase(),
        org.to_ascii_lowercase()
    )
}

/// Stores a user and keeps the username → orgs index in step.
pub fn put_user(tx: &WriteTx, user: &UserRecord) -> Result<(), StoreError> {
    tx.open(&USERS)?
        .put(org_key(&user.org, &user.username).as_str(), user)?;
    tx.open(&USER_ORGS)?
        .put(user_org_key(&user.username, &user.org).as_str(), &user.org)
}

/// Removes a user, its index entry and its API keys and sessions.
pub fn remove_user(tx: &WriteTx, org: &str, username: &str) -> Result<bool, StoreError> {
    let existed = tx.open(&USERS)?.remove(org_key(org, username).as_str())?;
    tx.open(&USER_ORGS)?
        .remove(user_org_key(username, org).as_str())?;
    tx.open(&API_KEYS)?
        .remove_where(|key| key.belongs_to(org, username))?;
    end_sessions(tx, org, username, None)?;
    Ok(existed)
}

/// Ends every session of a user but `except` (the caller's own, after changing its password).
pub fn end_sessions(
    tx: &WriteTx,
    org: &str,
    username: &str,
    except: Option<&str>,
) -> Result<usize, StoreError> {
    tx.open(&SESSIONS)?.remove_where(|session| {
        session.org.eq_ignore_ascii_case(org)
            && session.username.eq_ignore_ascii_case(username)
            && except != Some(session.id.as_str())
    })
}

/// The key of an org-scoped record: names are case-insensitively unique within an org.
pub fn org_key(org: &str, name: &str) -> String {
    format!("{}/{}", org.to_ascii_lowercase(), name.to_ascii_lowercase())
}

/// The key prefix of every record of one org in an org-scoped table.
pub fn org_prefix(org: &str) -> String {
    format!("{}/", org.to_ascii_lowercase())
}
