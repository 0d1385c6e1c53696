//! What a running task's owner does to its record: renew the lease, save checkpoints,
//! report progress and warnings. Each fails softly (false) when the claim is gone.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::store::{Lease, Reads, StoreError, TASKS, TaskRecord, TaskStatus, TaskWarning, WriteTx};

/// Loads a task this runner still owns; `None` when another claim replaced ours.
pub(super) fn owned(
    tx: &impl Reads,
    name: &str,
    owner: &str,
) -> Result<Option<TaskRecord>, StoreError> {
    let task = tx.read(&TASKS)?.get(name)?;
    Ok(task.filter(|t| {
        t.status == TaskStatus::Running && t.lease.as_ref().is_some_and(|l| l.owner == owner)
    }))
}

/// The named tasks this runner no longer owns (expired, or claimed by another run).
pub fn not_owned(
    tx: &impl Reads,
    names: &[String],
    owner: &str,
) -> Result<Vec<String>, StoreError> {
    let mut lost = Vec::new();
    for name in names {
        if owned(tx, name, owner)?.is_none() {
            lost.push(name.clone());
        }
    }
    Ok(lost)
}

/// Extends the leases of the named tasks (one transaction for all of a runner's tasks);
/// returns the names whose claim is gone.
pub fn renew(
    tx: &WriteTx,
    names: &[String],
    owner: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let mut lost = Vec::new();
    for name in names {
        match owned(tx, name, owner)? {
            Some(mut task) => {
                task.lease = Some(Lease {
                    owner: owner.to_string(),
                    expires: now + lease,
                });
                tx.open(&TASKS)?.put(name.as_str(), &task)?;
            }
            None => lost.push(name.clone()),
        }
    }
    Ok(lost)
}

/// Saves a task's checkpoint and progress; false when the task is no longer ours.
pub fn checkpoint(
    tx: &WriteTx,
    name: &str,
    owner: &str,
    state: Value,
    progress: f64,
) -> Result<bool, StoreError> {
    let Some(mut task) = owned(tx, name, owner)? else {
        return Ok(false);
    };
    task.checkpoint = Some(state);
    task.progress = progress.clamp(0.0, 100.0);
    tx.open(&TASKS)?.put(name, &task)?;
    Ok(true)
}

/// Adds a warning to a running task; false when it is no longer ours.
pub fn warn(
    tx: &WriteTx,
    name: &str,
    owner: &str,
    code: &str,
    message: &str,
) -> Result<bool, StoreError> {
    let Some(mut task) = owned(tx, name, owner)? else {
        return Ok(false);
    };
    let id = task.warnings.iter().map(|w| w.id).max().unwrap_or(0) + 1;
    task.warnings.push(TaskWarning {
        id,
        code: code.to_string(),
        message: message.to_string(),
        acknowledged: false,
    });
    tx.open(&TASKS)?.put(name, &task)?;
    Ok(true)
}

/// Records the progress and phase of a running task; false when it is no longer ours.
pub fn report(
    tx: &WriteTx,
    name: &str,
    owner: &str,
    phase: &str,
    progress: f64,
) -> Result<bool, StoreError> {
    let Some(mut task) = owned(tx, name, owner)? else {
        return Ok(false);
    };
    task.phase = Some(phase.to_string());
    task.progress = progress.clamp(0.0, 100.0);
    tx.open(&TASKS)?.put(name, &task)?;
    Ok(true)
}
