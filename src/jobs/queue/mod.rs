//! The durable queue: every task state change is one write transaction that also appends the
//! matching event to the outbox.

mod ending;
mod running;

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use chrono::{DateTime, Duration, Utc};

use crate::store::{
    self, EVENTS, EventRecord, Lease, Reads, StoreError, TASK_QUEUE, TASKS, TaskRecord, TaskSpec,
    TaskStatus, WorkClass, WriteTx,
};
pub use ending::{Finish, complete_waiting, expire, finish, release_stale_leases, requeue};
pub use running::{checkpoint, not_owned, renew, report, warn};

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

pub(super) fn append_event(
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
pub(super) fn scan_queue(
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
