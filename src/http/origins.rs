//! `POST /adm/v1/origins/check`: every deployment's origin checked with its credentials (a
//! probe object written and deleted), for `rockit-edge doctor`.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::error::ApiError;
use super::extract::AdminCaller;
use super::render::success;
use super::state::AppState;

/// One entry per deployment of every org: `ok` and what the origin said.
pub async fn check(
    state: web::Data<AppState>,
    admin: AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let origins = state.deployments.check_all().await?;
    let failing = origins.iter().filter(|o| !o.ok).count();
    tracing::info!(admin = %admin.username, checked = origins.len(), failing, "origins checked");
    success("origins checked", json!({ "origins": origins }))
}
