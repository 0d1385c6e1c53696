//! The background workers as the instance administrator sees them (`/adm/v1/workers`).

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::error::ApiError;
use super::extract::AdminCaller;
use super::render::success;
use super::state::AppState;

/// Every background worker with its state, queue and last error.
pub async fn list(
    state: web::Data<AppState>,
    _admin: AdminCaller,
) -> Result<HttpResponse, ApiError> {
    success("workers", json!({ "workers": state.workers.list() }))
}
