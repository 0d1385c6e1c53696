//! Org administration (`/adm/v1/orgs`, and the admin-token twin `POST /be/v1/orgs`).

use actix_web::{HttpRequest, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::answers::{Listed, One, Reply, Resource, reply, reply_page};
use super::error::ApiError;
use super::extract::AdminCaller;
use super::query::ListQuery;
use super::state::AppState;
use crate::domain::orgs::CreatedOrg;
use crate::domain::orgs::NewOrg;
use crate::domain::orgs::OrgView;

/// Creates an org with its administrator.
pub async fn create(
    state: web::Data<AppState>,
    admin: AdminCaller,
    body: web::Json<NewOrg>,
) -> Result<Reply<CreatedOrg>, ApiError> {
    let created = state.orgs.create(body.into_inner()).await?;
    tracing::info!(admin = %admin.username, org = %created.org.name, "org created");
    reply("org created", created)
}

/// Lists orgs.
pub async fn list(
    state: web::Data<AppState>,
    _admin: AdminCaller,
    req: HttpRequest,
) -> Result<Reply<Listed<OrgView>>, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let page = state.orgs.list(query.params).await?;
    reply_page(page, &query.fields)
}

/// One org.
pub async fn details(
    state: web::Data<AppState>,
    _admin: AdminCaller,
    name: web::Path<String>,
) -> Result<Reply<One<OrgView>>, ApiError> {
    let org = state.orgs.get(&name).await?;
    reply("org", One(org))
}

/// `?prune=true` also removes the org's published files.
#[derive(Deserialize)]
pub struct DeleteQuery {
    #[serde(default)]
    pub prune: bool,
}

/// Deletes an org's records (and with `prune=true` its published files).
pub async fn delete(
    state: web::Data<AppState>,
    admin: AdminCaller,
    name: web::Path<String>,
    query: web::Query<DeleteQuery>,
) -> Result<Reply<OrgDeleted>, ApiError> {
    let task = state.orgs.delete(&name, query.prune).await?;
    tracing::info!(admin = %admin.username, org = %name, prune = query.prune, "org deleted");
    reply("org deleted", OrgDeleted { task_name: task })
}

impl Resource for OrgView {
    const ONE: &'static str = "org";
    const MANY: &'static str = "orgs";
}

/// A deleted org: the `cleanup` task removing its files, when it had any.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgDeleted {
    pub task_name: Option<String>,
}
