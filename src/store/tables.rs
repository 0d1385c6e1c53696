//! Every table of the store, declared once.

use redb::TableDefinition;

use super::records::{AppRecord, EventRecord, OrgRecord, RoleRecord, TaskRecord, UserRecord};
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

/// Schema 1: every table exists, so readers never meet a missing one.
pub(super) fn create_initial_tables(tx: &WriteTx) -> Result<(), StoreError> {
    tx.0.open_table(META)?;
    tx.0.open_table(COUNTERS)?;
    tx.open(&ORGS)?;
    tx.open(&ROLES)?;
    tx.open(&USERS)?;
    tx.open(&APPS)?;
    tx.open(&TASKS)?;
    tx.open(&TASK_QUEUE)?;
    tx.open(&EVENTS)?;
    Ok(())
}

/// The key of an org-scoped record: names are case-insensitively unique within an org.
pub fn org_key(org: &str, name: &str) -> String {
    format!("{}/{}", org.to_ascii_lowercase(), name.to_ascii_lowercase())
}

/// The key prefix of every record of one org in an org-scoped table.
pub fn org_prefix(org: &str) -> String {
    format!("{}/", org.to_ascii_lowercase())
}
