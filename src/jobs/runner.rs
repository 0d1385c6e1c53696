//! Workers that claim tasks from the queue, keep their leases alive, and record outcomes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::queue::{self, Finish};
use super::{Dispatcher, TaskContext, TaskError, internal_exception};
use crate::store::{Store, StoreError, TaskRecord, WorkClass};
use crate::workers::{Worker, Workers};

/// One worker pool's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    /// Tasks of the pool running at once.
    pub workers: usize,
    /// Tasks of one org running at once in the pool, at most.
    pub per_org: usize,
}

/// Runner settings.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Light tasks (cleanups, downloads, publishing).
    pub light: Pool,
    /// Heavy tasks (engine processing), bounded apart from the light ones.
    pub heavy: Pool,
    /// How long a claim lasts without renewal.
    pub lease: StdDuration,
}

/// State shared by the workers, the heartbeat and every task context.
pub(super) struct Shared {
    pub(super) store: Store,
    /// This process's runner identity (lease owner).
    pub(super) owner: String,
    cancel: CancellationToken,
    lease: Duration,
    light: Pool,
    heavy: Pool,
    dispatcher: Arc<dyn Dispatcher>,
    /// The running tasks of this process and the tokens that stop them.
    running: Mutex<HashMap<String, CancellationToken>>,
    /// The lease renewal's entry in the worker registry; its queue is the running tasks.
    leases: Worker,
}

/// Handle to the job runner: it claims what transactions submit; shut it down at the end.
#[derive(Clone)]
pub struct Jobs {
    shared: Arc<Shared>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Jobs {
    /// Starts the runner: interrupted tasks become claimable at once, then workers start.
    pub async fn start(
        store: Store,
        config: RunnerConfig,
        dispatcher: Arc<dyn Dispatcher>,
        cancel: CancellationToken,
        workers: &Workers,
    ) -> Result<Jobs, StoreError> {
        let lease = Duration::from_std(config.lease).unwrap_or(Duration::seconds(30));
        let shared = Arc::new(Shared {
            store,
            owner: uuid::Uuid::new_v4().to_string(),
            cancel,
            lease,
            light: config.light,
            heavy: config.heavy,
            dispatcher,
            running: Mutex::new(HashMap::new()),
            leases: workers.register("jobs/leases"),
        });
        shared.leases.queue(0);
        let interrupted = shared
            .store
            .write(|tx| queue::release_stale_leases(tx, Utc::now()))
            .await?;
        for name in &interrupted {
            tracing::warn!(task = %name, "resuming task interrupted by a crash or restart");
        }
        let mut threads = Vec::new();
        for (class, pool) in [(WorkClass::Light, "light"), (WorkClass::Heavy, "heavy")] {
            for number in 1..=shared.pool(class).workers.max(1) {
                let status = workers.register(format!("jobs/{pool}-{number}"));
                threads.push(tokio::spawn(worker(Arc::clone(&shared), class, status)));
            }
        }
        threads.push(tokio::spawn(heartbeat(Arc::clone(&shared))));
        Ok(Jobs {
            shared,
            threads: Arc::new(Mutex::new(threads)),
        })
    }

    /// Stops claiming, lets running tasks checkpoint, and waits for them up to `deadline`.
    pub async fn shutdown(&self, deadline: StdDuration) {
        self.shared.cancel.cancel();
        let threads: Vec<_> = match self.threads.lock() {
            Ok(mut guard) => guard.drain(..).collect(),
            Err(_) => return,
        };
        let drained = tokio::time::timeout(deadline, futures_util::future::join_all(threads)).await;
        if drained.is_err() {
            tracing::warn!(
                "job runner did not drain in time; unfinished tasks resume on next start"
            );
        }
    }
}

impl Shared {
    fn pool(&self, class: WorkClass) -> Pool {
        match class {
            WorkClass::Light => self.light,
            WorkClass::Heavy => self.heavy,
        }
    }
}

/// How long an idle worker waits for a queue change before looking anyway (a lease that
/// expired because its renewal failed). Looking only reads: an idle runner writes nothing.
fn idle_wait(shared: &Shared) -> StdDuration {
    shared.lease.to_std().unwrap_or(StdDuration::from_secs(30))
}

/// Claims and runs tasks of one class until shutdown; waits for queue changes (or the next
/// task waiting for its time) when idle.
async fn worker(shared: Arc<Shared>, class: WorkClass, status: Worker) {
    let mut changes = shared.store.queue_changes();
    while !shared.cancel.is_cancelled() {
        changes.borrow_and_update();
        match claim(&shared, class, &status).await {
            Ok(Claimed::Task(task)) => {
                status.busy(format!("{} {}", task.spec.kind(), task.name));
                run(&shared, *task).await;
                status.done();
                status.idle();
            }
            Ok(Claimed::Nothing { next_due }) => {
                let until_due = next_due
                    .and_then(|due| (due - Utc::now()).to_std().ok())
                    .map_or(idle_wait(&shared), |wait| wait.min(idle_wait(&shared)));
                tokio::select! {
                    _ = changes.changed() => {}
                    _ = tokio::time::sleep(until_due) => {}
                    _ = shared.cancel.cancelled() => {}
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot claim a task");
                status.failed(format!("cannot claim a task: {e}"));
                tokio::select! {
                    _ = tokio::time::sleep(StdDuration::from_secs(1)) => {}
                    _ = shared.cancel.cancelled() => {}
                }
            }
        }
    }
}

/// What a worker's look at the queue gave.
enum Claimed {
    Task(Box<TaskRecord>),
    /// Nothing to run now; the earliest task waiting for its time, if any.
    Nothing {
        next_due: Option<DateTime<Utc>>,
    },
}

/// Looks for a runnable task in a read snapshot, and claims one in a write transaction only
/// when there is one.
async fn claim(shared: &Shared, class: WorkClass, status: &Worker) -> Result<Claimed, StoreError> {
    let per_org = shared.pool(class).per_org;
    let found = shared
        .store
        .read(move |tx| queue::next_runnable(tx, class, per_org, Utc::now()))
        .await?;
    status.queue(found.waiting);
    let nothing = Claimed::Nothing {
        next_due: found.next_due,
    };
    if found.task.is_none() {
        return Ok(nothing);
    }
    let (owner, lease) = (shared.owner.clone(), shared.lease);
    let claimed = shared
        .store
        .write(move |tx| queue::claim(tx, &owner, lease, class, per_org, Utc::now()))
        .await?;
    Ok(match claimed {
        Some(task) => {
            status.queue(found.waiting.saturating_sub(1));
            Claimed::Task(Box::new(task))
        }
        None => nothing,
    })
}

/// A token that stops one task: on shutdown, or when its claim is lost (expired, replaced).
fn start_running(shared: &Shared, name: &str) -> CancellationToken {
    let token = shared.cancel.child_token();
    if let Ok(mut running) = shared.running.lock() {
        running.insert(name.to_string(), token.clone());
        shared.leases.queue(running.len() as u64);
    }
    token
}

fn stop_running(shared: &Shared, name: &str) {
    if let Ok(mut running) = shared.running.lock() {
        running.remove(name);
        shared.leases.queue(running.len() as u64);
    }
}

/// Runs one claimed task on its own tokio task, so a panic fails the task and nothing else.
async fn run(shared: &Arc<Shared>, task: TaskRecord) {
    let name = task.name.clone();
    let kind = task.spec.kind().as_str();
    tracing::info!(task = %name, kind, attempt = task.attempts, "task started");
    let ctx = TaskContext {
        name: name.clone(),
        checkpoint: task.checkpoint,
        resumed: task.resumed > 0,
        stop: start_running(shared, &name),
        shared: Arc::clone(shared),
    };
    let outcome = match tokio::spawn(shared.dispatcher.run(task.spec, ctx)).await {
        Ok(Ok(output)) => Finish::Done(output.result, output.next),
        Ok(Err(TaskError::Failed(exception))) => Finish::Failed(exception),
        Ok(Err(TaskError::Expired(exception))) => Finish::Expired(exception),
        Ok(Err(TaskError::Interrupted)) => Finish::Interrupted,
        Err(e) if e.is_panic() => {
            let message = panic_message(e.into_panic());
            tracing::error!(task = %name, %message, "task panicked");
            Finish::Failed(internal_exception(format!("task panicked: {message}")))
        }
        Err(_) => Finish::Interrupted,
    };
    stop_running(shared, &name);
    let label = match &outcome {
        Finish::Done(..) => "done",
        Finish::Failed(_) => "failed",
        Finish::Expired(_) => "expired",
        Finish::Interrupted => "interrupted",
    };
    let (owner, task_name) = (shared.owner.clone(), name.clone());
    let recorded = shared
        .store
        .write(move |tx| queue::finish(tx, &task_name, &owner, outcome, Utc::now()))
        .await;
    match recorded {
        Ok(true) => tracing::info!(task = %name, outcome = label, "task finished"),
        Ok(false) => tracing::warn!(task = %name, "task lost its claim; outcome discarded"),
        Err(e) => tracing::error!(task = %name, error = %e, "cannot record task outcome"),
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload
            .downcast::<&'static str>()
            .map_or_else(|_| "unknown panic".to_string(), |m| m.to_string()),
    }
}

/// Renews every running task's lease in one transaction, three times per lease period, and
/// stops the tasks whose claim is gone: at each renewal, and as soon as the queue changes
/// (a task expired through the API stops at once, not at the next renewal).
async fn heartbeat(shared: Arc<Shared>) {
    let status = &shared.leases;
    let every = (shared.lease / 3)
        .to_std()
        .unwrap_or(StdDuration::from_secs(10));
    let mut changes = shared.store.queue_changes();
    let mut next_renewal = tokio::time::Instant::now() + every;
    loop {
        let renew = tokio::select! {
            _ = tokio::time::sleep_until(next_renewal) => true,
            _ = changes.changed() => false,
            _ = shared.cancel.cancelled() => return,
        };
        let names: Vec<String> = match shared.running.lock() {
            Ok(running) => running.keys().cloned().collect(),
            Err(_) => continue,
        };
        if renew {
            next_renewal = tokio::time::Instant::now() + every;
        }
        if names.is_empty() {
            continue;
        }
        let (owner, lease) = (shared.owner.clone(), shared.lease);
        let lost = if renew {
            shared
                .store
                .write(move |tx| queue::renew(tx, &names, &owner, lease, Utc::now()))
                .await
        } else {
            shared
                .store
                .read(move |tx| queue::not_owned(tx, &names, &owner))
                .await
        };
        match lost {
            Ok(lost) => {
                stop_lost(&shared, &lost);
                status.done();
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot renew task leases");
                status.failed(format!("cannot renew task leases: {e}"));
            }
        }
    }
}

/// Stops the tasks whose claim this runner no longer holds.
fn stop_lost(shared: &Shared, lost: &[String]) {
    let Ok(running) = shared.running.lock() else {
        return;
    };
    for name in lost {
        if let Some(token) = running.get(name) {
            tracing::warn!(task = %name, "task lost its claim (expired or replaced); stopping it");
            token.cancel();
        }
    }
}
