//! The administrator's view of any task (`/adm/v1/tasks/{name}`).

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::error::ApiError;
use super::extract::AdminCaller;
use super::render::success;
use super::state::AppState;

/// One task of any org.
pub async fn details(
    state: web::Data<AppState>,
    _admin: AdminCaller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let task = state.tasks.any(&name).await?;
    success("task", json!({ "task": task }))
}
