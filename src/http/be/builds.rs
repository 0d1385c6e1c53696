//! Importing builds into the caller's org's apps.

use actix_web::{HttpRequest, web};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::builds::ImportRequest;
use crate::domain::caller::Caller;
use crate::http::address::base_url;
use crate::http::answers::{Reply, reply};
use crate::http::error::ApiError;
use crate::http::state::AppState;

/// `POST /be/v1/builds`: a download (with `url`) or an upload URL (without).
pub async fn import(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: web::Json<ImportRequest>,
) -> Result<Reply<ImportStarted>, ApiError> {
    let import = state.builds.import(&caller, body.into_inner()).await?;
    let (upload_url, expires) = match import.upload {
        Some((path, expires)) => (Some(format!("{}{path}", base_url(&req))), Some(expires)),
        None => (None, None),
    };
    reply(
        "build import started",
        ImportStarted {
            task_name: import.task_name,
            build_name: import.build_name,
            upload_url,
            expires,
        },
    )
}

/// A started import: its task, and for an upload where to `PUT` the tar until when.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportStarted {
    task_name: String,
    build_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<DateTime<Utc>>,
}
