//! Publishing the caller's org's apps: export (re-publish the current build).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::domain::caller::Caller;
use crate::domain::publishing::ExportRequest;
use crate::http::error::ApiError;
use crate::http::render::success;
use crate::http::state::AppState;

/// `POST /be/v1/export` `{"appName","deployments"?}`: one deploy task per deployment.
pub async fn export(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ExportRequest>,
) -> Result<HttpResponse, ApiError> {
    let tasks = state.publishing.export(&caller, body.into_inner()).await?;
    success("export started", json!({ "taskNames": tasks }))
}
