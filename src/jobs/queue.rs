//! The durable queue: every task state change is one write transaction that also appends the
//! matching event to the outbox.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::store::{
    EVENTS, EventRecord, Lease, StoreError, TASK_QUEUE, TASKS, TaskRecord, TaskStatus, WriteTx,
};

/// What a caller asks the runner to do.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub kind: String,
    pub org: Option<String>,
    pub app: Option<String>,
    /// Joins an existing group (an import's chain); `None` starts a new one.
    pub group: Option<String>,
    /// Serialises tasks that share it (one app's pipeline).
    pub pipeline: Option<String>,
    pub params: Value,
}

fn append_event(
    tx: &WriteTx,
    task: &TaskRecord,
    event: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let id = tx.next_id("events")?;
    tx.open(&EVENTS)?.put(
        id,
        &EventRecord {
            id,
            kind: task.kind.clone(),
            event: event.to_string(),
            org: task.org.clone(),
            app: task.app.clone(),
            task_name: task.name.clone(),
            timestamp: now,
            exception: task.exception.clone(),
            build_name: task
                .params
                .get("buildName")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            build_id: task
                .params
                .get("buildId")
                .and_then(|v| v.as_u64())
                .and_then(|id| u32::try_from(id).ok()),
            dxf_name: task
                .params
                .get("dxfName")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            deployment: task.params.get("deployment").cloned(),
        },
    )
}

/// Records a new task at the end of the queue with its `submit` event.
pub fn submit(tx: &WriteTx, new: NewTask, now: DateTime<Utc>) -> Result<TaskRecord, StoreError> {
    let name = uuid::Uuid::now_v7().to_string();
    let seq = tx.next_id("task_seq")?;
    let task = TaskRecord {
        group: new.group.unwrap_or_else(|| name.clone()),
        name,
        kind: new.kind,
        org: new.org,
        app: new.app,
        pipeline: new.pipeline,
        seq,
        status: TaskStatus::Submitted,
        progress: 0.0,
        created: now,
        started: None,
        ended: None,
        attempts: 0,
        resumed: 0,
        warnings: Vec::new(),
        exception: None,
        result: None,
        params: new.params,
        checkpoint: None,
        lease: None,
    };
    tx.open(&TASKS)?.put(task.name.as_str(), &task)?;
    tx.open(&TASK_QUEUE)?.put(seq, &task.name)?;
    append_event(tx, &task, "submit", now)?;
    Ok(task)
}

/// Visits the unfinished tasks in submission order.
fn scan_queue(
    tx: &WriteTx,
    mut visit: impl FnMut(TaskRecord) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    let queue = tx.open(&TASK_QUEUE)?;
    let tasks = tx.open(&TASKS)?;
    let mut failure = None;
    queue.scan(0u64.., |_, name| match tasks.get(name.as_str()) {
        Ok(Some(task)) => visit(task),
        Ok(None) => ControlFlow::Continue(()),
        Err(e) => {
            failure = Some(e);
            ControlFlow::Break(())
        }
    })?;
    failure.map_or(Ok(()), Err)
}

/// Every unfinished task, in submission order.
pub fn unfinished(tx: &WriteTx) -> Result<Vec<TaskRecord>, StoreError> {
    let mut found = Vec::new();
    scan_queue(tx, |task| {
        found.push(task);
        ControlFlow::Continue(())
    })?;
    Ok(found)
}

fn lease_live(task: &TaskRecord, now: DateTime<Utc>) -> bool {
    task.lease.as_ref().is_some_and(|lease| lease.expires > now)
}

/// The org a task counts against when sharing workers (instance tasks share one slot).
fn tenant(task: &TaskRecord) -> String {
    task.org.as_deref().unwrap_or("").to_ascii_lowercase()
}

/// Claims a runnable task: submitted, or running under an expired lease (resumed), and not
/// behind an unfinished earlier task of the same pipeline. Orgs share the workers fairly: of
/// each org's first runnable task, the one whose org runs the fewest tasks now wins (ties go
/// to the earlier), and an org already running `per_org` tasks gets no more, so one org's long
/// tasks never hold every worker.
pub fn claim(
    tx: &WriteTx,
    owner: &str,
    lease: Duration,
    per_org: usize,
    now: DateTime<Utc>,
) -> Result<Option<TaskRecord>, StoreError> {
    let mut firsts: Vec<TaskRecord> = Vec::new();
    let mut running: HashMap<String, usize> = HashMap::new();
    let mut busy_pipelines = HashSet::new();
    scan_queue(tx, |task| {
        let blocked = task
            .pipeline
            .as_ref()
            .is_some_and(|p| busy_pipelines.contains(p));
        let live = task.status == TaskStatus::Running && lease_live(&task, now);
        if live {
            *running.entry(tenant(&task)).or_default() += 1;
        }
        let runnable =
            task.status == TaskStatus::Submitted || (task.status == TaskStatus::Running && !live);
        if let Some(pipeline) = &task.pipeline {
            busy_pipelines.insert(pipeline.clone());
        }
        if runnable && !blocked && !firsts.iter().any(|f| tenant(f) == tenant(&task)) {
            firsts.push(task);
        }
        ControlFlow::Continue(())
    })?;
    let load = |task: &TaskRecord| running.get(&tenant(task)).copied().unwrap_or(0);
    let chosen = firsts
        .into_iter()
        .enumerate()
        .filter(|(_, task)| load(task) < per_org.max(1))
        .min_by_key(|(order, task)| (load(task), *order))
        .map(|(_, task)| task);
    let Some(mut task) = chosen else {
        return Ok(None);
    };
    let resuming = task.status == TaskStatus::Running;
    task.status = TaskStatus::Running;
    task.attempts += 1;
    if resuming {
        task.resumed += 1;
    }
    task.started.get_or_insert(now);
    task.lease = Some(Lease {
        owner: owner.to_string(),
        expires: now + lease,
    });
    tx.open(&TASKS)?.put(task.name.as_str(), &task)?;
    if !resuming {
        append_event(tx, &task, "begin", now)?;
    }
    Ok(Some(task))
}

/// Loads a task this runner still owns; `None` when another claim replaced ours.
fn owned(tx: &WriteTx, name: &str, owner: &str) -> Result<Option<TaskRecord>, StoreError> {
    let task = tx.open(&TASKS)?.get(name)?;
    Ok(task.filter(|t| {
        t.status == TaskStatus::Running && t.lease.as_ref().is_some_and(|l| l.owner == owner)
    }))
}

/// Extends the leases of the named tasks (one transaction for all of a runner's tasks).
pub fn renew(
    tx: &WriteTx,
    names: &[String],
    owner: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for name in names {
        if let Some(mut task) = owned(tx, name, owner)? {
            task.lease = Some(Lease {
                owner: owner.to_string(),
                expires: now + lease,
            });
            tx.open(&TASKS)?.put(name.as_str(), &task)?;
        }
    }
    Ok(())
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

/// How a run ended.
#[derive(Debug, Clone)]
pub enum Finish {
    Done(Value),
    Failed(Value),
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
            return Ok(true);
        }
        Finish::Done(result) => {
            task.status = TaskStatus::Done;
            task.progress = 100.0;
            task.result = Some(result);
            "end"
        }
        Finish::Failed(exception) => {
            task.status = TaskStatus::Failed;
            task.exception = Some(exception);
            "error"
        }
    };
    task.ended = Some(now);
    task.lease = None;
    tx.open(&TASKS)?.put(name, &task)?;
    tx.open(&TASK_QUEUE)?.remove(task.seq)?;
    append_event(tx, &task, event, now)?;
    Ok(true)
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

/// Ends an unfinished task as `expired` (an `error` event); a worker still running it loses
/// its claim and its outcome is discarded.
pub fn expire(tx: &WriteTx, name: &str, now: DateTime<Utc>) -> Result<TaskRecord, StoreError> {
    let mut task = tx
        .open(&TASKS)?
        .get(name)?
        .ok_or_else(|| StoreError::Corrupt {
            table: TASKS.name(),
            message: format!("task {name} vanished"),
        })?;
    task.status = TaskStatus::Expired;
    task.ended = Some(now);
    task.lease = None;
    tx.open(&TASKS)?.put(name, &task)?;
    tx.open(&TASK_QUEUE)?.remove(task.seq)?;
    append_event(tx, &task, "error", now)?;
    Ok(task)
}

/// Puts a failed or expired task back at the end of the queue (a new `submit` event).
pub fn requeue(tx: &WriteTx, name: &str, now: DateTime<Utc>) -> Result<TaskRecord, StoreError> {
    let mut task = tx
        .open(&TASKS)?
        .get(name)?
        .ok_or_else(|| StoreError::Corrupt {
            table: TASKS.name(),
            message: format!("task {name} vanished"),
        })?;
    task.status = TaskStatus::Submitted;
    task.seq = tx.next_id("task_seq")?;
    task.exception = None;
    task.ended = None;
    task.progress = 0.0;
    tx.open(&TASKS)?.put(name, &task)?;
    tx.open(&TASK_QUEUE)?.put(task.seq, &task.name)?;
    append_event(tx, &task, "submit", now)?;
    Ok(task)
}
