//! What a running task sees: its last checkpoint, and the signal to stop.

use std::sync::Arc;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::TaskError;
use super::queue;
use super::runner::Shared;
use crate::store::StoreError;

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

    /// Durably saves progress; a lost claim ends the run as interrupted.
    pub async fn save(&self, state: Value, progress: f64) -> Result<(), TaskError> {
        let (name, owner) = (self.name.clone(), self.shared.owner.clone());
        let still_ours = self
            .shared
            .store
            .write(move |tx| queue::checkpoint(tx, &name, &owner, state, progress))
            .await
            .map_err(|e: StoreError| TaskError::internal(e.to_string()))?;
        if still_ours {
            Ok(())
        } else {
            Err(TaskError::Interrupted)
        }
    }
}
