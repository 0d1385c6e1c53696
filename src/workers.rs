//! One registry of the background workers (job runner, lease renewal, event delivery, TLS
//! watcher, ...): each reports its state, its queue and its last error, so an operator sees
//! with `rockit-edge workers` or `GET /adm/v1/workers` what the appliance is doing and what
//! is stuck. Modelled on Garage's `worker list`.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a worker is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    /// Waiting for work.
    Idle,
    /// Working on something (see `doing`).
    Busy,
    /// Ended (shutdown, or its loop stopped).
    Stopped,
}

/// The last failure a worker met.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LastError {
    pub message: String,
    pub time: DateTime<Utc>,
}

/// One worker as listed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStatus {
    pub name: String,
    pub state: WorkerState,
    /// What it works on while busy (a task name, a subscription ...).
    pub doing: Option<String>,
    /// Items waiting for it (runnable tasks, subscriptions in backoff ...), when it has a queue.
    pub queue: Option<u64>,
    /// Items it finished.
    pub done: u64,
    /// Failures so far.
    pub errors: u64,
    /// Failures since its last success.
    pub consecutive_errors: u64,
    pub last_error: Option<LastError>,
    /// When its state last changed.
    pub since: DateTime<Utc>,
}

/// The registry; cheap to clone.
#[derive(Clone, Default)]
pub struct Workers {
    all: Arc<Mutex<Vec<Arc<Mutex<WorkerStatus>>>>>,
}

/// A worker's handle on its own entry; the entry shows `stopped` once the handle is dropped.
pub struct Worker {
    status: Arc<Mutex<WorkerStatus>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind: keep using it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Workers {
    /// Adds a worker, idle.
    pub fn register(&self, name: impl Into<String>) -> Worker {
        let status = Arc::new(Mutex::new(WorkerStatus {
            name: name.into(),
            state: WorkerState::Idle,
            doing: None,
            queue: None,
            done: 0,
            errors: 0,
            consecutive_errors: 0,
            last_error: None,
            since: Utc::now(),
        }));
        lock(&self.all).push(Arc::clone(&status));
        Worker { status }
    }

    /// Every worker, in registration order.
    pub fn list(&self) -> Vec<WorkerStatus> {
        lock(&self.all)
            .iter()
            .map(|status| lock(status).clone())
            .collect()
    }
}

impl Worker {
    fn change(&self, f: impl FnOnce(&mut WorkerStatus)) {
        f(&mut lock(&self.status));
    }

    fn set_state(status: &mut WorkerStatus, state: WorkerState, doing: Option<String>) {
        if status.state != state || status.doing != doing {
            status.since = Utc::now();
        }
        status.state = state;
        status.doing = doing;
    }

    /// Starts working on `doing`.
    pub fn busy(&self, doing: impl Into<String>) {
        self.change(|s| Self::set_state(s, WorkerState::Busy, Some(doing.into())));
    }

    /// Waits for work again.
    pub fn idle(&self) {
        self.change(|s| Self::set_state(s, WorkerState::Idle, None));
    }

    /// Finished one item.
    pub fn done(&self) {
        self.change(|s| {
            s.done += 1;
            s.consecutive_errors = 0;
        });
    }

    /// Met a failure.
    pub fn failed(&self, message: impl std::fmt::Display) {
        let message = message.to_string();
        self.change(|s| {
            s.errors += 1;
            s.consecutive_errors += 1;
            s.last_error = Some(LastError {
                message,
                time: Utc::now(),
            });
        });
    }

    /// How many items wait for it.
    pub fn queue(&self, waiting: u64) {
        self.change(|s| s.queue = Some(waiting));
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.change(|s| Self::set_state(s, WorkerState::Stopped, None));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_reports_its_state_counts_and_last_error_and_stops_when_dropped() {
        let workers = Workers::default();
        let worker = workers.register("jobs/light-1");
        worker.busy("task a");
        worker.queue(3);
        worker.failed("store unavailable");
        worker.done();
        let listed = &workers.list()[0];
        assert_eq!(listed.state, WorkerState::Busy);
        assert_eq!(listed.doing.as_deref(), Some("task a"));
        assert_eq!((listed.queue, listed.done, listed.errors), (Some(3), 1, 1));
        assert_eq!(listed.consecutive_errors, 0);
        assert_eq!(
            listed.last_error.as_ref().map(|e| e.message.as_str()),
            Some("store unavailable")
        );
        drop(worker);
        assert_eq!(workers.list()[0].state, WorkerState::Stopped);
    }
}
