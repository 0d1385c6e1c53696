//! The service API (`/srv/v1`) and its 2025 aliases under `/adm/v1`.

use actix_web::web;
use schemars::JsonSchema;
use serde::Serialize;

use super::answers::{Nothing, Reply, TaskStarted, done, reply};
use super::error::ApiError;
use super::extract::AdminCaller;
use super::state::AppState;
use crate::domain::instance::HelloRequest;
use crate::domain::instance::Versions;

/// Liveness; no credentials needed.
pub async fn ping() -> Result<Reply<Nothing>, ApiError> {
    done("pong")
}

/// Submits a `hello` task (and applies a maintenance switch).
pub async fn hello(
    state: web::Data<AppState>,
    admin: AdminCaller,
    body: web::Json<HelloRequest>,
) -> Result<Reply<TaskStarted>, ApiError> {
    let task = state.instance.hello(body.into_inner()).await?;
    tracing::info!(admin = %admin.username, task = %task, "hello submitted");
    reply("hello submitted", TaskStarted { task_name: task })
}

/// Versions of the appliance, its store schema and formats.
pub async fn versions(
    state: web::Data<AppState>,
    _admin: AdminCaller,
) -> Result<Reply<VersionsAnswer>, ApiError> {
    reply(
        "versions",
        VersionsAnswer {
            versions: state.instance.versions(),
        },
    )
}

/// The appliance's versions.
#[derive(Serialize, JsonSchema)]
pub struct VersionsAnswer {
    versions: Versions,
}
