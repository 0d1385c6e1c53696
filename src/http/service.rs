//! The service API (`/srv/v1`) and its 2025 aliases under `/adm/v1`.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::error::ApiError;
use super::extract::AdminCaller;
use super::render::success;
use super::state::AppState;
use crate::domain::instance::HelloRequest;

/// Liveness; no credentials needed.
pub async fn ping() -> Result<HttpResponse, ApiError> {
    success("pong", ())
}

/// Submits a `hello` task (and applies a maintenance switch).
pub async fn hello(
    state: web::Data<AppState>,
    admin: AdminCaller,
    body: web::Json<HelloRequest>,
) -> Result<HttpResponse, ApiError> {
    let task = state.instance.hello(body.into_inner()).await?;
    tracing::info!(admin = %admin.username, task = %task, "hello submitted");
    success("hello submitted", json!({ "taskName": task }))
}

/// Versions of the appliance, its store schema and formats.
pub async fn versions(
    state: web::Data<AppState>,
    _admin: AdminCaller,
) -> Result<HttpResponse, ApiError> {
    success("versions", json!({ "versions": state.instance.versions() }))
}
