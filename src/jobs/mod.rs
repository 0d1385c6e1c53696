//! The durable job runner: tasks are store records, claimed under a renewable lease, resumed
//! after a crash, run with bounded concurrency and one at a time per pipeline.

mod cleanup;
mod context;
mod hello;
pub mod queue;
mod runner;

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

pub use cleanup::{CLEANUP, CleanupTask};
pub use context::TaskContext;
pub use hello::{HELLO, HelloTask};
pub use runner::{Jobs, RunnerConfig};

/// How a task run failed.
#[derive(Debug)]
pub enum TaskError {
    /// The task failed for good; the value is its structured `exception` (one key).
    Failed(Value),
    /// Shutdown interrupted the run after a checkpoint; the next start resumes it.
    Interrupted,
}

impl TaskError {
    /// An `internal {message}` exception.
    pub fn internal(message: impl Into<String>) -> Self {
        TaskError::Failed(internal_exception(message))
    }
}

/// The `internal` exception object.
pub fn internal_exception(message: impl Into<String>) -> Value {
    serde_json::json!({ "internal": { "message": message.into() } })
}

/// The future a handler returns: the task's `result` on success.
pub type TaskFuture = Pin<Box<dyn Future<Output = Result<Value, TaskError>> + Send>>;

/// Runs one task type.
pub trait TaskHandler: Send + Sync + 'static {
    /// The task type this handler runs (`hello`, `cleanup`, ...).
    fn kind(&self) -> &'static str;
    /// Runs (or resumes, see [`TaskContext::checkpoint`]) one task.
    fn run(&self, ctx: TaskContext) -> TaskFuture;
}
