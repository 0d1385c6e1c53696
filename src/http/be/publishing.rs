//! Publishing apps: commit (set-live of a staged build) and export (re-publish the current
//! build), and the instance administrator's commit of an org's staged builds.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::domain::caller::Caller;
use crate::domain::publishing::{CommitRequest, ExportRequest, OrgCommitRequest};
use crate::http::error::ApiError;
use crate::http::extract::AdminCaller;
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

/// `POST /be/v1/commit` `{"appName"}`: the staged build goes live and is published.
pub async fn commit(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CommitRequest>,
) -> Result<HttpResponse, ApiError> {
    let committed = state.publishing.commit(&caller, body.into_inner()).await?;
    success("build committed", json!({ "commit": committed }))
}

/// `POST /adm/v1/commit` `{"orgName","appName"?}`: every staged build of the org (or app).
pub async fn commit_org(
    state: web::Data<AppState>,
    admin: AdminCaller,
    body: web::Json<OrgCommitRequest>,
) -> Result<HttpResponse, ApiError> {
    let committed = state.publishing.commit_org(body.into_inner()).await?;
    tracing::info!(admin = %admin.username, count = committed.len(), "staged builds committed");
    success(
        "builds committed",
        json!({ "commits": committed, "total": committed.len() }),
    )
}
