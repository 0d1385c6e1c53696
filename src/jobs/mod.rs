//! The durable job runner: tasks are store records, submitted inside the write transaction
//! that makes them necessary, claimed under a renewable lease, resumed after a crash, run with
//! bounded concurrency (light and heavy pools) and one at a time per pipeline. What a task
//! does is not here: a [`Dispatcher`] (the `pipeline` module) runs each [`TaskSpec`].

mod context;
pub mod queue;
mod runner;

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::codes::{self, ErrorCode};
use crate::store::TaskSpec;
pub use context::TaskContext;
pub use queue::{NewTask, submit};
pub use runner::{Jobs, Pool, RunnerConfig};

/// How a task run failed.
#[derive(Debug)]
pub enum TaskError {
    /// The task failed for good; the value is its structured `exception` (one key).
    Failed(Value),
    /// Shutdown or a lost claim stopped the run after a checkpoint; a later claim resumes it.
    Interrupted,
    /// The task's time ran out; the value is its exception.
    Expired(Value),
}

impl TaskError {
    /// An `internal {message}` exception.
    pub fn internal(message: impl Into<String>) -> Self {
        TaskError::Failed(internal_exception(message))
    }
}

impl From<crate::store::StoreError> for TaskError {
    fn from(e: crate::store::StoreError) -> Self {
        TaskError::internal(e.to_string())
    }
}

/// The `internal` exception object.
pub fn internal_exception(message: impl Into<String>) -> Value {
    exception(
        codes::TASK_INTERNAL,
        serde_json::json!({ "message": message.into() }),
    )
}

/// A task exception: one key, the code, holding the details.
pub fn exception(code: ErrorCode, details: Value) -> Value {
    let mut object = serde_json::Map::new();
    object.insert(code.code.to_string(), details);
    Value::Object(object)
}

/// What a successful run produced: the task's `result`, and the tasks that follow it in its
/// group (submitted in the transaction that records the result, so a crash cannot lose them
/// nor submit them twice).
#[derive(Debug)]
pub struct TaskOutput {
    pub result: Value,
    pub next: Vec<NewTask>,
}

impl TaskOutput {
    /// Submits `task` when this run's result is recorded.
    pub fn then(mut self, task: NewTask) -> Self {
        self.next.push(task);
        self
    }
}

impl From<Value> for TaskOutput {
    fn from(result: Value) -> Self {
        Self {
            result,
            next: Vec::new(),
        }
    }
}

/// The future a task run returns.
pub type TaskFuture = Pin<Box<dyn Future<Output = Result<TaskOutput, TaskError>> + Send>>;

/// Runs tasks: one exhaustive match over [`TaskSpec`], so every kind has its handler.
pub trait Dispatcher: Send + Sync + 'static {
    /// Runs (or resumes, see [`TaskContext::checkpoint`]) one task.
    fn run(&self, spec: TaskSpec, ctx: TaskContext) -> TaskFuture;
}
