//! Deployments (CDN origins) of the caller's org.

use actix_web::{HttpRequest, web};
use serde::Deserialize;

use super::tasks::time_filter;
use crate::domain::caller::Caller;
use crate::domain::deployments::{
    DeploymentChanges, DeploymentFilter, DeploymentView, NewDeployment,
};
use crate::http::answers::{Listed, One, Partial, Reply, Resource, reply, reply_page};
use crate::http::answers::{Nothing, done};
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::state::AppState;

/// `POST /be/v1/deployments`: 200 even when the credential probe fails (see `status`).
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewDeployment>,
) -> Result<Reply<Nothing>, ApiError> {
    state.deployments.create(&caller, body.into_inner()).await?;
    done("deployment created")
}

/// `GET /be/v1/deployments` (filters `name`, `error`, `createdAfter`, `updatedAfter`).
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<Reply<Listed<DeploymentView>>, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let mut filter = DeploymentFilter::default();
    for (key, value) in &query.filters {
        match key.as_str() {
            "name" => filter.name = Some(value.clone()),
            "error" => {
                filter.error = Some(value.parse().map_err(|_| {
                    ApiError::invalid(format!("error must be true or false, got {value:?}"))
                })?)
            }
            "createdAfter" => filter.created_after = Some(time_filter(key, value)?),
            "updatedAfter" => filter.updated_after = Some(time_filter(key, value)?),
            other => return Err(ApiError::invalid(format!("unknown filter {other}"))),
        }
    }
    let page = state
        .deployments
        .list(&caller, filter, query.params)
        .await?;
    reply_page(page, &query.fields)
}

/// `GET /be/v1/deployments/{name}`.
pub async fn details(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    req: HttpRequest,
) -> Result<Reply<One<Partial<DeploymentView>>>, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let deployment = state.deployments.get(&caller, &name).await?;
    reply("deployment", One(Partial::of(deployment, &query.fields)?))
}

/// `PATCH /be/v1/deployments`: partial; `null` removes optional parts; `********` keeps secrets.
pub async fn modify(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<DeploymentChanges>,
) -> Result<Reply<Nothing>, ApiError> {
    state
        .deployments
        .modify(&caller, body.into_inner().0)
        .await?;
    done("deployment modified")
}

/// `?keepFiles=true`: remove only the record, leave the origin's files.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteQuery {
    #[serde(default)]
    pub keep_files: bool,
}

/// `DELETE /be/v1/deployments/{name}`: exactly the seed's body; a `cleanup` task follows
/// (none with `?keepFiles=true`, which the message then says).
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    query: web::Query<DeleteQuery>,
) -> Result<Reply<Nothing>, ApiError> {
    let keep_files = query.keep_files;
    state.deployments.delete(&caller, &name, keep_files).await?;
    if keep_files {
        done("deployment deleted; its files were left on the origin (keepFiles)")
    } else {
        done("deployment deleted")
    }
}

impl Resource for DeploymentView {
    const ONE: &'static str = "deployment";
    const MANY: &'static str = "deployments";
}
