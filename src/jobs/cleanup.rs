//! `cleanup`: removes published files (an org's or app's layout prefixes) from the depot.

use serde::Deserialize;
use serde_json::json;

use super::{TaskContext, TaskError, TaskFuture, TaskHandler};
use crate::publish::depot::Depot;

/// The task type name.
pub const CLEANUP: &str = "cleanup";

#[derive(Deserialize)]
struct Params {
    /// Object key prefixes to remove.
    prefixes: Vec<String>,
}

/// Runs `cleanup` tasks.
pub struct CleanupTask {
    depot: Depot,
}

impl CleanupTask {
    /// A cleanup handler removing from `depot`.
    pub fn new(depot: Depot) -> Self {
        Self { depot }
    }

    /// The parameters of a cleanup of the given key prefixes.
    pub fn params(prefixes: Vec<String>) -> serde_json::Value {
        json!({ "prefixes": prefixes })
    }
}

impl TaskHandler for CleanupTask {
    fn kind(&self) -> &'static str {
        CLEANUP
    }

    fn run(&self, ctx: TaskContext) -> TaskFuture {
        let depot = self.depot.clone();
        Box::pin(async move {
            let params: Params = serde_json::from_value(ctx.params().clone())
                .map_err(|e| TaskError::internal(format!("bad cleanup parameters: {e}")))?;
            let removed = params.prefixes.clone();
            tokio::task::spawn_blocking(move || {
                params
                    .prefixes
                    .iter()
                    .try_for_each(|prefix| depot.remove_prefix(prefix))
            })
            .await
            .map_err(|e| TaskError::internal(e.to_string()))?
            .map_err(|e| TaskError::internal(format!("cannot remove depot files: {e}")))?;
            Ok(json!({ "removed": removed }))
        })
    }
}
