//! Roles of the caller's org.

use actix_web::{HttpRequest, web};

use crate::domain::caller::Caller;
use crate::domain::roles::{NewRole, RolePatch, RoleView};
use crate::http::answers::{Listed, One, Reply, Resource, reply, reply_page};
use crate::http::answers::{Nothing, done};
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::state::AppState;

/// `POST /be/v1/roles`.
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewRole>,
) -> Result<Reply<One<RoleView>>, ApiError> {
    let role = state.roles.create(&caller, body.into_inner()).await?;
    reply("role created", One(role))
}

/// `GET /be/v1/roles`.
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<Reply<Listed<RoleView>>, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let page = state.roles.list(&caller, query.params).await?;
    reply_page(page, &query.fields)
}

/// `GET /be/v1/roles/{name}`.
pub async fn details(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<Reply<One<RoleView>>, ApiError> {
    let role = state.roles.get(&caller, &name).await?;
    reply("role", One(role))
}

/// `PATCH /be/v1/roles`.
pub async fn patch(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<RolePatch>,
) -> Result<Reply<One<RoleView>>, ApiError> {
    let role = state.roles.patch(&caller, body.into_inner()).await?;
    reply("role modified", One(role))
}

/// `DELETE /be/v1/roles/{name}`.
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<Reply<Nothing>, ApiError> {
    state.roles.delete(&caller, &name).await?;
    done("role deleted")
}

impl Resource for RoleView {
    const ONE: &'static str = "role";
    const MANY: &'static str = "roles";
}
