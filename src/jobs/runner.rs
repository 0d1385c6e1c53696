//! Workers that claim tasks from the queue, keep their leases alive, and record outcomes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::queue::{self, Finish, NewTask};
use super::{TaskContext, TaskError, TaskHandler, internal_exception};
use crate::store::{Store, StoreError, TaskRecord};

/// Runner settings.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Tasks running at once.
    pub workers: usize,
    /// How long a claim lasts without renewal.
    pub lease: StdDuration,
    /// Tasks of one org running at once at most.
    pub per_org: usize,
}

/// State shared by the workers, the heartbeat and every task context.
pub(super) struct Shared {
    pub(super) store: Store,
    /// This process's runner identity (lease owner).
    pub(super) owner: String,
    pub(super) cancel: CancellationToken,
    lease: Duration,
    per_org: usize,
    handlers: HashMap<&'static str, Arc<dyn TaskHandler>>,
    wake: Notify,
    running: Mutex<HashSet<String>>,
}

/// Handle to the job runner: submit tasks, wake workers, shut down.
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
        handlers: Vec<Arc<dyn TaskHandler>>,
        cancel: CancellationToken,
    ) -> Result<Jobs, StoreError> {
        let lease = Duration::from_std(config.lease).unwrap_or(Duration::seconds(30));
        let shared = Arc::new(Shared {
            store,
            owner: uuid::Uuid::new_v4().to_string(),
            cancel,
            lease,
            per_org: config.per_org,
            handlers: handlers.into_iter().map(|h| (h.kind(), h)).collect(),
            wake: Notify::new(),
            running: Mutex::new(HashSet::new()),
        });
        let interrupted = shared
            .store
            .write(|tx| queue::release_stale_leases(tx, Utc::now()))
            .await?;
        for name in &interrupted {
            tracing::warn!(task = %name, "resuming task interrupted by a crash or restart");
        }
        let mut threads = Vec::new();
        for _ in 0..config.workers.max(1) {
            threads.push(tokio::spawn(worker(Arc::clone(&shared))));
        }
        threads.push(tokio::spawn(heartbeat(Arc::clone(&shared))));
        Ok(Jobs {
            shared,
            threads: Arc::new(Mutex::new(threads)),
        })
    }

    /// Queues a task and wakes a worker.
    pub async fn submit(&self, new: NewTask) -> Result<TaskRecord, StoreError> {
        let task = self
            .shared
            .store
            .write(move |tx| queue::submit(tx, new, Utc::now()))
            .await?;
        self.wake();
        Ok(task)
    }

    /// Tells a worker to look at the queue (after tasks were submitted in a caller's transaction).
    pub fn wake(&self) {
        self.shared.wake.notify_one();
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

/// How long an idle worker waits before looking at the queue again (expired leases).
const POLL: StdDuration = StdDuration::from_secs(1);

async fn worker(shared: Arc<Shared>) {
    while !shared.cancel.is_cancelled() {
        let (owner, lease, per_org) = (shared.owner.clone(), shared.lease, shared.per_org);
        let claimed = shared
            .store
            .write(move |tx| queue::claim(tx, &owner, lease, per_org, Utc::now()))
            .await;
        match claimed {
            Ok(Some(task)) => run(&shared, task).await,
            Ok(None) => {
                tokio::select! {
                    _ = shared.wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                    _ = shared.cancel.cancelled() => {}
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot claim a task");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

fn set_running(shared: &Shared, name: &str, running: bool) {
    if let Ok(mut set) = shared.running.lock() {
        if running {
            set.insert(name.to_string());
        } else {
            set.remove(name);
        }
    }
}

/// Runs one claimed task on its own tokio task, so a panic fails the task and nothing else.
async fn run(shared: &Arc<Shared>, task: TaskRecord) {
    let name = task.name.clone();
    tracing::info!(task = %name, kind = %task.kind, attempt = task.attempts, "task started");
    let outcome = match shared.handlers.get(task.kind.as_str()) {
        None => Finish::Failed(internal_exception(format!(
            "no handler for task type {}",
            task.kind
        ))),
        Some(handler) => {
            set_running(shared, &name, true);
            let ctx = TaskContext {
                name: name.clone(),
                params: task.params,
                checkpoint: task.checkpoint,
                resumed: task.resumed > 0,
                shared: Arc::clone(shared),
            };
            let outcome = match tokio::spawn(handler.run(ctx)).await {
                Ok(Ok(result)) => Finish::Done(result),
                Ok(Err(TaskError::Failed(exception))) => Finish::Failed(exception),
                Ok(Err(TaskError::Interrupted)) => Finish::Interrupted,
                Err(e) if e.is_panic() => {
                    let message = panic_message(e.into_panic());
                    tracing::error!(task = %name, %message, "task panicked");
                    Finish::Failed(internal_exception(format!("task panicked: {message}")))
                }
                Err(_) => Finish::Interrupted,
            };
            set_running(shared, &name, false);
            outcome
        }
    };
    let label = match &outcome {
        Finish::Done(_) => "done",
        Finish::Failed(_) => "failed",
        Finish::Interrupted => "interrupted",
    };
    let (owner, task_name) = (shared.owner.clone(), name.clone());
    let recorded = shared
        .store
        .write(move |tx| queue::finish(tx, &task_name, &owner, outcome, Utc::now()))
        .await;
    match recorded {
        Ok(true) => tracing::info!(task = %name, outcome = label, "task finished"),
        Ok(false) => tracing::warn!(task = %name, "task lost its lease; outcome discarded"),
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

/// Renews every running task's lease in one transaction, three times per lease period.
async fn heartbeat(shared: Arc<Shared>) {
    let every = (shared.lease / 3)
        .to_std()
        .unwrap_or(StdDuration::from_secs(10));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shared.cancel.cancelled() => return,
        }
        let names: Vec<String> = match shared.running.lock() {
            Ok(set) => set.iter().cloned().collect(),
            Err(_) => continue,
        };
        if names.is_empty() {
            continue;
        }
        let (owner, lease) = (shared.owner.clone(), shared.lease);
        if let Err(e) = shared
            .store
            .write(move |tx| queue::renew(tx, &names, &owner, lease, Utc::now()))
            .await
        {
            tracing::error!(error = %e, "cannot renew task leases");
        }
    }
}
