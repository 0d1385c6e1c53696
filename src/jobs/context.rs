//! What a running task sees: its last checkpoint, and the signal to stop.

use std::sync::Arc;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::TaskError;
use super::queue;
use super::runner::Shared;
use crate::store::{StoreError, WriteTx};

/// Handed to a task run.
pub struct TaskContext {
    pub(super) name: String,
    pub(super) checkpoint: Option<Value>,
    pub(super) resumed: bool,
    pub(super) stop: CancellationToken,
    pub(super) shared: Arc<Shared>,
}

impl TaskContext {
    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The state saved by the previous run, when this run resumes one.
    pub fn checkpoint(&self) -> Option<&Value> {
        self.checkpoint.as_ref()
    }

    /// Whether this run continues an interrupted one.
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// Cancelled when the run must stop: the appliance shuts down, or the task was expired or
    /// lost its claim. Save a checkpoint and return [`TaskError::Interrupted`]; blocking
    /// engine work polls [`CancellationToken::is_cancelled`].
    pub fn stop(&self) -> &CancellationToken {
        &self.stop
    }

    /// Shows what the run is doing and how far it got (no checkpoint); a lost claim ends the
    /// run as interrupted.
    pub async fn report(&self, phase: &str, progress: f64) -> Result<(), TaskError> {
        let phase = phase.to_string();
        self.update(move |tx, name, owner| queue::report(tx, name, owner, &phase, progress))
            .await
    }

    /// Adds a warning the task's readers can acknowledge.
    pub async fn warn(&self, code: &str, message: &str) -> Result<(), TaskError> {
        let (code, message) = (code.to_string(), message.to_string());
        self.update(move |tx, name, owner| queue::warn(tx, name, owner, &code, &message))
            .await
    }

    /// Durably saves progress; a lost claim ends the run as interrupted.
    pub async fn save(&self, state: Value, progress: f64) -> Result<(), TaskError> {
        self.update(move |tx, name, owner| queue::checkpoint(tx, name, owner, state, progress))
            .await
    }

    /// Changes the task's record while this run owns it.
    async fn update(
        &self,
        change: impl FnOnce(&WriteTx, &str, &str) -> Result<bool, StoreError> + Send + 'static,
    ) -> Result<(), TaskError> {
        let (name, owner) = (self.name.clone(), self.shared.owner.clone());
        let still_ours = self
            .shared
            .store
            .write(move |tx| change(tx, &name, &owner))
            .await
            .map_err(|e: StoreError| TaskError::internal(e.to_string()))?;
        if still_ours {
            Ok(())
        } else {
            Err(TaskError::Interrupted)
        }
    }
}
