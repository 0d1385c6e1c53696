//! The background workers as the instance administrator sees them (`/adm/v1/workers`).

use actix_web::web;
use schemars::JsonSchema;
use serde::Serialize;

use super::answers::{Reply, reply};
use super::error::ApiError;
use super::extract::AdminCaller;
use super::state::AppState;
use crate::workers::WorkerStatus;

/// Every background worker with its state, queue and last error.
pub async fn list(
    state: web::Data<AppState>,
    _admin: AdminCaller,
) -> Result<Reply<WorkerList>, ApiError> {
    reply(
        "workers",
        WorkerList {
            workers: state.workers.list(),
        },
    )
}

/// Every worker and what it does now.
#[derive(Serialize, JsonSchema)]
pub struct WorkerList {
    workers: Vec<WorkerStatus>,
}
