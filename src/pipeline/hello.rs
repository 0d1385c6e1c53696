//! `hello`: echoes a message after a delay; proves the runner (leases, checkpoints, resume,
//! stopping, the heavy pool).

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::jobs::{TaskContext, TaskError};
use crate::store::HelloParams;

/// How often a hello task saves its progress.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checkpoint {
    elapsed_ms: u64,
}

/// Runs one `hello` task.
pub async fn run(params: HelloParams, ctx: TaskContext) -> Result<Value, TaskError> {
    let mut elapsed = ctx
        .checkpoint()
        .and_then(|c| serde_json::from_value::<Checkpoint>(c.clone()).ok())
        .map_or(0, |c| c.elapsed_ms);
    while elapsed < params.delay_ms {
        let step = CHECKPOINT_EVERY.min(Duration::from_millis(params.delay_ms - elapsed));
        tokio::select! {
            _ = tokio::time::sleep(step) => {}
            _ = ctx.stop().cancelled() => {
                ctx.save(json!({ "elapsedMs": elapsed }), percent(elapsed, params.delay_ms)).await?;
                return Err(TaskError::Interrupted);
            }
        }
        elapsed += step.as_millis() as u64;
        ctx.save(
            json!({ "elapsedMs": elapsed }),
            percent(elapsed, params.delay_ms),
        )
        .await?;
    }
    Ok(json!({ "message": params.message, "resumed": ctx.resumed() }))
}

fn percent(done: u64, total: u64) -> f64 {
    if total == 0 {
        100.0
    } else {
        done as f64 * 100.0 / total as f64
    }
}
