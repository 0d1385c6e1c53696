//! Roles of the caller's org.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::domain::caller::Caller;
use crate::domain::roles::{NewRole, RolePatch};
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::render::{success, success_page};
use crate::http::state::AppState;

/// `POST /be/v1/roles`.
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewRole>,
) -> Result<HttpResponse, ApiError> {
    let role = state.roles.create(&caller, body.into_inner()).await?;
    success("role created", json!({ "role": role }))
}

/// `GET /be/v1/roles`.
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let page = state.roles.list(&caller, query.params).await?;
    success_page("roles", page, &query.fields)
}

/// `GET /be/v1/roles/{name}`.
pub async fn details(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let role = state.roles.get(&caller, &name).await?;
    success("role", json!({ "role": role }))
}

/// `PATCH /be/v1/roles`.
pub async fn patch(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<RolePatch>,
) -> Result<HttpResponse, ApiError> {
    let role = state.roles.patch(&caller, body.into_inner()).await?;
    success("role modified", json!({ "role": role }))
}

/// `DELETE /be/v1/roles/{name}`.
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.roles.delete(&caller, &name).await?;
    success("role deleted", ())
}
