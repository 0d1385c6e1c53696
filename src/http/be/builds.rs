//! Importing builds into the caller's org's apps.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::domain::builds::ImportRequest;
use crate::domain::caller::Caller;
use crate::http::error::ApiError;
use crate::http::render::{base_url, success};
use crate::http::state::AppState;

/// `POST /be/v1/builds`: a download (with `url`) or an upload URL (without).
pub async fn import(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: web::Json<ImportRequest>,
) -> Result<HttpResponse, ApiError> {
    let import = state.builds.import(&caller, body.into_inner()).await?;
    let mut payload = json!({ "taskName": import.task_name, "buildName": import.build_name });
    if let Some((path, expires)) = import.upload {
        payload["uploadUrl"] = json!(format!("{}{path}", base_url(&req)));
        payload["expires"] = json!(expires);
    }
    success("build import started", payload)
}
