//! How tasks leave the queue: a run's outcome (with the tasks that follow it), an expiry, an
//! interrupted start; and how a failed one comes back.

use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::running::owned;
use super::{NewTask, append_event, scan_queue, submit};
use crate::store::{
    self, Lease, Reads, StoreError, TASK_QUEUE, TASKS, TaskRecord, TaskStatus, WriteTx,
};

/// How a run ended.
#[derive(Debug, Clone)]
pub enum Finish {
    /// The result, and the tasks that follow in the same group, submitted in the same
    /// transaction.
    Done(Value, Vec<NewTask>),
    Failed(Value),
    /// The task's time ran out (an upload never completed), with its exception.
    Expired(Value),
    /// Shutdown: keep the task running-but-unleased so the next start resumes it.
    Interrupted,
}

/// Records the end of a run with its `end`/`error` event and leaves the queue;
/// false when the task is no longer ours (its result is then discarded).
pub fn finish(
    tx: &WriteTx,
    name: &str,
    owner: &str,
    outcome: Finish,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(mut task) = owned(tx, name, owner)? else {
        return Ok(false);
    };
    let event = match outcome {
        Finish::Interrupted => {
            task.lease = Some(Lease {
                owner: owner.to_string(),
                expires: now,
            });
            tx.open(&TASKS)?.put(name, &task)?;
            tx.queue_changed();
            return Ok(true);
        }
        Finish::Done(result, next) => return complete(tx, task, result, next, now).map(|_| true),
        Finish::Failed(exception) => {
            task.status = TaskStatus::Failed;
            task.exception = Some(exception);
            "error"
        }
        Finish::Expired(exception) => {
            task.status = TaskStatus::Expired;
            task.exception = Some(exception);
            "error"
        }
    };
    end(tx, task, event, now)?;
    Ok(true)
}

/// Ends a task as done with `result` and submits the tasks that follow it in its group;
/// returns it and them.
fn complete(
    tx: &WriteTx,
    mut task: TaskRecord,
    result: Value,
    next: Vec<NewTask>,
    now: DateTime<Utc>,
) -> Result<(TaskRecord, Vec<TaskRecord>), StoreError> {
    task.status = TaskStatus::Done;
    task.progress = 100.0;
    task.phase = None;
    task.result = Some(result);
    let group = task.group.clone();
    let task = end(tx, task, "end", now)?;
    let mut followers = Vec::new();
    for mut follow in next {
        follow.group.get_or_insert_with(|| group.clone());
        followers.push(submit(tx, follow, now)?);
    }
    Ok((task, followers))
}

/// Takes an ended task out of the queue and records its last event.
fn end(
    tx: &WriteTx,
    mut task: TaskRecord,
    event: &str,
    now: DateTime<Utc>,
) -> Result<TaskRecord, StoreError> {
    task.ended = Some(now);
    task.lease = None;
    tx.open(&TASKS)?.put(task.name.as_str(), &task)?;
    tx.open(&TASK_QUEUE)?.remove(task.seq)?;
    store::task_ended(tx, &task)?;
    tx.queue_changed();
    append_event(tx, &task, event, now)?;
    Ok(task)
}

/// Completes a task that waits for outside input (an upload) and was never claimed: done,
/// with `begin` and `end` events, its followers submitted (and returned). `None` when it no
/// longer waits.
pub fn complete_waiting(
    tx: &WriteTx,
    name: &str,
    result: Value,
    next: Vec<NewTask>,
    now: DateTime<Utc>,
) -> Result<Option<(TaskRecord, Vec<TaskRecord>)>, StoreError> {
    let Some(mut task) = tx
        .read(&TASKS)?
        .get(name)?
        .filter(|t| t.status == TaskStatus::Submitted)
    else {
        return Ok(None);
    };
    task.started = Some(now);
    task.attempts += 1;
    append_event(tx, &task, "begin", now)?;
    complete(tx, task, result, next, now).map(Some)
}

/// At start-up no other process can hold a lease (the store file is locked), so every running
/// task was interrupted: expire its lease so the next claim resumes it at once.
pub fn release_stale_leases(tx: &WriteTx, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
    let mut interrupted = Vec::new();
    scan_queue(tx, |task| {
        if task.status == TaskStatus::Running {
            interrupted.push(task);
        }
        ControlFlow::Continue(())
    })?;
    let mut tasks = tx.open(&TASKS)?;
    for task in &mut interrupted {
        if let Some(lease) = &mut task.lease {
            lease.expires = now;
        }
        tasks.put(task.name.as_str(), task)?;
    }
    Ok(interrupted.into_iter().map(|t| t.name).collect())
}

/// A task the caller knows exists (it read it in this transaction).
fn load(tx: &WriteTx, name: &str) -> Result<TaskRecord, StoreError> {
    tx.open(&TASKS)?
        .get(name)?
        .ok_or_else(|| StoreError::Corrupt {
            table: TASKS.name(),
            message: format!("task {name} vanished"),
        })
}

/// Ends an unfinished task as `expired` (an `error` event) with its `exception`, if any; a
/// worker still running it loses its claim and its outcome is discarded.
pub fn expire(
    tx: &WriteTx,
    name: &str,
    exception: Option<Value>,
    now: DateTime<Utc>,
) -> Result<TaskRecord, StoreError> {
    let mut task = load(tx, name)?;
    task.status = TaskStatus::Expired;
    task.exception = exception;
    end(tx, task, "error", now)
}

/// Puts a failed or expired task back at the end of the queue (a new `submit` event).
pub fn requeue(tx: &WriteTx, name: &str, now: DateTime<Utc>) -> Result<TaskRecord, StoreError> {
    let mut task = load(tx, name)?;
    task.status = TaskStatus::Submitted;
    task.seq = tx.next_id("task_seq")?;
    task.exception = None;
    task.ended = None;
    task.progress = 0.0;
    tx.open(&TASKS)?.put(name, &task)?;
    tx.open(&TASK_QUEUE)?.put(task.seq, &task.name)?;
    store::task_submitted(tx, &task)?;
    tx.queue_changed();
    append_event(tx, &task, "submit", now)?;
    Ok(task)
}
