//! `POST /adm/v1/origins/check` `{"orgName"?}`: every deployment's origin (or one org's)
//! checked with its credentials (a probe object written and deleted), for `rockit-edge doctor`.

use actix_web::web;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::answers::{Reply, reply};
use super::error::ApiError;
use super::extract::AdminCaller;
use super::state::AppState;
use crate::domain::deployments::OriginCheck;

/// `{"orgName"?}`: the org whose deployments to check; all orgs' when absent.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckRequest {
    pub org_name: Option<String>,
}

/// One entry per deployment: `ok` and what the origin said.
pub async fn check(
    state: web::Data<AppState>,
    admin: AdminCaller,
    body: web::Json<CheckRequest>,
) -> Result<Reply<OriginsChecked>, ApiError> {
    let origins = state
        .deployments
        .check_all(body.org_name.as_deref())
        .await?;
    let failing = origins.iter().filter(|o| !o.ok).count();
    tracing::info!(admin = %admin.username, checked = origins.len(), failing, "origins checked");
    reply("origins checked", OriginsChecked { origins })
}

/// One line per deployment checked.
#[derive(Serialize, JsonSchema)]
pub struct OriginsChecked {
    origins: Vec<OriginCheck>,
}
