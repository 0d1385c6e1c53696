//! Publishing apps: commit (set-live of a staged build) and export (re-publish the current
//! build), and the instance administrator's commit of an org's staged builds.

use actix_web::web;
use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::caller::Caller;
use crate::domain::publishing::Committed;
use crate::domain::publishing::{CommitRequest, ExportRequest, OrgCommitRequest};
use crate::http::answers::{Reply, reply};
use crate::http::error::ApiError;
use crate::http::extract::AdminCaller;
use crate::http::state::AppState;

/// `POST /be/v1/export` `{"appName","deployments"?}`: one deploy task per deployment.
pub async fn export(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ExportRequest>,
) -> Result<Reply<ExportStarted>, ApiError> {
    let tasks = state.publishing.export(&caller, body.into_inner()).await?;
    reply("export started", ExportStarted { task_names: tasks })
}

/// `POST /be/v1/commit` `{"appName"}`: the staged build goes live and is published.
pub async fn commit(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CommitRequest>,
) -> Result<Reply<BuildCommitted>, ApiError> {
    let committed = state.publishing.commit(&caller, body.into_inner()).await?;
    reply("build committed", BuildCommitted { commit: committed })
}

/// `POST /adm/v1/commit` `{"orgName","appName"?}`: every staged build of the org (or app).
pub async fn commit_org(
    state: web::Data<AppState>,
    admin: AdminCaller,
    body: web::Json<OrgCommitRequest>,
) -> Result<Reply<BuildsCommitted>, ApiError> {
    let committed = state.publishing.commit_org(body.into_inner()).await?;
    tracing::info!(admin = %admin.username, count = committed.len(), "staged builds committed");
    let total = committed.len();
    reply(
        "builds committed",
        BuildsCommitted {
            commits: committed,
            total,
        },
    )
}

/// An export's tasks, one per deployment.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportStarted {
    task_names: Vec<String>,
}

/// The build that went live.
#[derive(Serialize, JsonSchema)]
pub struct BuildCommitted {
    commit: Committed,
}

/// Every build that went live.
#[derive(Serialize, JsonSchema)]
pub struct BuildsCommitted {
    commits: Vec<Committed>,
    total: usize,
}
