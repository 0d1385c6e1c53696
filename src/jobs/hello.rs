//! `hello`: echoes a message after a delay; proves the runner (leases, checkpoints, resume).

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::{TaskContext, TaskError, TaskFuture, TaskHandler};

/// The task type name.
pub const HELLO: &str = "hello";

/// How often a hello task saves its progress.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    message: String,
    delay_ms: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checkpoint {
    elapsed_ms: u64,
}

/// Runs `hello` tasks.
pub struct HelloTask;

impl TaskHandler for HelloTask {
    fn kind(&self) -> &'static str {
        HELLO
    }

    fn run(&self, ctx: TaskContext) -> TaskFuture {
        Box::pin(async move {
            let params: Params = serde_json::from_value(ctx.params().clone())
                .map_err(|e| TaskError::internal(format!("bad hello parameters: {e}")))?;
            let mut elapsed = ctx
                .checkpoint()
                .and_then(|c| serde_json::from_value::<Checkpoint>(c.clone()).ok())
                .map_or(0, |c| c.elapsed_ms);
            while elapsed < params.delay_ms {
                let step = CHECKPOINT_EVERY.min(Duration::from_millis(params.delay_ms - elapsed));
                tokio::select! {
                    _ = tokio::time::sleep(step) => {}
                    _ = ctx.shutdown().cancelled() => {
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
        })
    }
}

fn percent(done: u64, total: u64) -> f64 {
    if total == 0 {
        100.0
    } else {
        done as f64 * 100.0 / total as f64
    }
}
