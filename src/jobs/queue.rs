//! The durable queue: every task state change is one write transaction that also appends the
//! matching event to the outbox.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::store::{
    self, EVENTS, EventRecord, Lease, Reads, StoreError, TASK_QUEUE, TASKS, TaskRecord, TaskSpec,
    TaskStatus, TaskWarning, WorkClass, WriteTx,
};

/// What a caller asks the runner to do.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub spec: TaskSpec,
    pub org: Option<String>,
    pub app: Option<String>,
    /// Joins an existing group (an import's chain); `None` starts a new one.
    pub group: Option<String>,
    /// Serialises tasks that share it (one app's pipeline).
    pub pipeline: Option<String>,
    /// Not claimed before this time.
    pub not_before: Option<DateTime<Utc>>,
}

impl NewTask {
    /// A task of its own group, outside any pipeline.
    pub fn new(spec: TaskSpec, org: Option<String>) -> Self {
        Self {
            spec,
            org,
            app: None,
            group: None,
            pipeline: None,
            not_before: None,
        }
    }

    /// Waits until `time` before a worker may claim it.
    pub fn not_before(mut self, time: DateTime<Utc>) -> Self {
        self.not_before = Some(time);
        self
    }

    /// Runs after the unfinished tasks of `pipeline` (one app's, one deployment's ...).
    pub fn in_pipeline(mut self, pipeline: String) -> Self {
        self.pipeline = Some(pipeline);
        self
    }

    /// Belongs to `app`.
    pub fn for_app(mut self, app: String) -> Self {
        self.app = Some(app);
        self
    }
}

fn append_event(
    tx: &WriteTx,
    task: &TaskRecord,
    event: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let id = tx.next_id("events")?;
    let details = task.spec.event_details(task.result.as_ref());
    tx.open(&EVENTS)?.put(
        id,
        &EventRecord {
            id,
            kind: task.spec.kind(),
            event: event.to_string(),
            org: task.org.clone(),
            app: task.app.clone(),
            task_name: task.name.clone(),
            timestamp: now,
            exception: task.exception.clone(),
            build_name: details.build_name,
            build_id: details.build_id,
            dxf_name: details.dxf_name,
            deployment: details.deployment,
        },
    )
}

/// Records a new task at the end of the queue with its `submit` event. This is the only way
/// into the queue, so a task is always part of the transaction that makes it necessary; the
/// runner hears of it when that transaction commits.
pub fn submit(tx: &WriteTx, new: NewTask, now: DateTime<Utc>) -> Result<TaskRecord, StoreError> {
    let name = uuid::Uuid::now_v7().to_string();
    let seq = tx.next_id("task_seq")?;
    let task = TaskRecord {
        group: new.group.unwrap_or_else(|| name.clone()),
        name,
        spec: new.spec,
        org: new.org,
        app: new.app,
        pipeline: new.pipeline,
        seq,
        status: TaskStatus::Submitted,
        progress: 0.0,
        phase: None,
        not_before: new.not_before,
        created: now,
        started: None,
        ended: None,
        attempts: 0,
        resumed: 0,
        warnings: Vec::new(),
        exception: None,
        result: None,
        checkpoint: None,
        lease: None,
    };
    tx.open(&TASKS)?.put(task.name.as_str(), &task)?;
    tx.open(&TASK_QUEUE)?.put(seq, &task.name)?;
    store::task_submitted(tx, &task)?;
    tx.queue_changed();
    append_event(tx, &task, "submit", now)?;
    Ok(task)
}

/// Visits the unfinished tasks in submission order.
fn scan_queue(
    tx: &impl Reads,
    mut visit: impl FnMut(TaskRecord) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    let queue = tx.read(&TASK_QUEUE)?;
    let tasks = tx.read(&TASKS)?;
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
pub fn unfinished(tx: &impl Reads) -> Result<Vec<TaskRecord>, StoreError> {
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

/// The task a worker of `class` would claim now: submitted, or running under an expired lease
/// (resumed), and not behind an unfinished earlier task of the same pipeline. Orgs share the
/// pool fairly: of each org's first runnable task of the class, the one whose org runs the
/// fewest tasks of the class now wins (ties go to the earlier), and an org already running
/// `per_org` of them gets no more, so one org's long tasks never hold every worker. Only
/// reads: idle workers call it in a read snapshot and write nothing.
pub fn next_runnable(
    tx: &impl Reads,
    class: WorkClass,
    per_org: usize,
    now: DateTime<Utc>,
) -> Result<Choice, StoreError> {
    let mut waiting = 0;
    let mut next_due: Option<DateTime<Utc>> = None;
    let mut firsts: Vec<TaskRecord> = Vec::new();
    let mut running: HashMap<String, usize> = HashMap::new();
    let mut busy_pipelines = HashSet::new();
    scan_queue(tx, |task| {
        let blocked = task
            .pipeline
            .as_ref()
            .is_some_and(|p| busy_pipelines.contains(p));
        let live = task.status == TaskStatus::Running && lease_live(&task, now);
        if live && task.spec.class() == class {
            *running.entry(tenant(&task)).or_default() += 1;
        }
        let due = task.not_before.filter(|t| *t > now);
        if let Some(due) = due.filter(|_| task.spec.class() == class) {
            next_due = Some(next_due.map_or(due, |d| d.min(due)));
        }
        let runnable = (task.status == TaskStatus::Submitted && due.is_none())
            || (task.status == TaskStatus::Running && !live);
        if let Some(pipeline) = &task.pipeline {
            busy_pipelines.insert(pipeline.clone());
        }
        if runnable && task.spec.class() == class {
            waiting += 1;
        }
        if runnable
            && !blocked
            && task.spec.class() == class
            && !firsts.iter().any(|f| tenant(f) == tenant(&task))
        {
            firsts.push(task);
        }
        ControlFlow::Continue(())
    })?;
    let load = |task: &TaskRecord| running.get(&tenant(task)).copied().unwrap_or(0);
    let task = firsts
        .into_iter()
        .enumerate()
        .filter(|(_, task)| load(task) < per_org.max(1))
        .min_by_key(|(order, task)| (load(task), *order))
        .map(|(_, task)| task);
    Ok(Choice {
        task,
        waiting,
        next_due,
    })
}

/// What [`next_runnable`] found.
#[derive(Debug)]
pub struct Choice {
    /// The task to claim, if any may run now.
    pub task: Option<TaskRecord>,
    /// Tasks of the class waiting to run (blocked ones included).
    pub waiting: u64,
    /// When the earliest task of the class that waits for its time becomes runnable.
    pub next_due: Option<DateTime<Utc>>,
}

/// Claims the task [`next_runnable`] chooses, under a lease for `owner`.
pub fn claim(
    tx: &WriteTx,
    owner: &str,
    lease: Duration,
    class: WorkClass,
    per_org: usize,
    now: DateTime<Utc>,
) -> Result<Option<TaskRecord>, StoreError> {
    let Some(mut task) = next_runnable(tx, class, per_org, now)?.task else {
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
    // What waits changed: the other idle workers look again (reads only) and show it.
    tx.queue_changed();
    if !resuming {
        append_event(tx, &task, "begin", now)?;
    }
    Ok(Some(task))
}

/// Loads a task this runner still owns; `None` when another claim replaced ours.
fn owned(tx: &impl Reads, name: &str, owner: &str) -> Result<Option<TaskRecord>, StoreError> {
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

/// Ends an unfinished task as `expired` (an `error` event) with its `exception`, if any; a
/// worker still running it loses its claim and its outcome is discarded.
pub fn expire(
    tx: &WriteTx,
    name: &str,
    exception: Option<Value>,
    now: DateTime<Utc>,
) -> Result<TaskRecord, StoreError> {
    let mut task = tx
        .open(&TASKS)?
        .get(name)?
        .ok_or_else(|| StoreError::Corrupt {
            table: TASKS.name(),
            message: format!("task {name} vanished"),
        })?;
    task.status = TaskStatus::Expired;
    task.exception = exception;
    end(tx, task, "error", now)
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
    store::task_submitted(tx, &task)?;
    tx.queue_changed();
    append_event(tx, &task, "submit", now)?;
    Ok(task)
}
