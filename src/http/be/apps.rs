//! Apps of the caller's org.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::domain::apps::{APP_FIELDS, AppFilter, AppPatch, NewApp};
use crate::domain::caller::Caller;
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::render::{project, success};
use crate::http::state::AppState;

/// `POST /be/v1/apps`.
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewApp>,
) -> Result<HttpResponse, ApiError> {
    let app = state.apps.create(&caller, body.into_inner()).await?;
    success("app created", json!({ "app": app }))
}

/// `GET /be/v1/apps` (filters `name` partial, `state`; `fields[]`).
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let mut filter = AppFilter::default();
    for (key, value) in &query.filters {
        match key.as_str() {
            "name" => filter.name = Some(value.clone()),
            "state" => filter.state = Some(value.clone()),
            other => return Err(ApiError::invalid(format!("unknown filter {other}"))),
        }
    }
    let page = state.apps.list(&caller, filter, query.params).await?;
    let apps = page
        .items
        .into_iter()
        .map(|app| project(app, &query.fields, Some(&APP_FIELDS)))
        .collect::<Result<Vec<_>, _>>()?;
    success("apps", json!({ "apps": apps, "total": page.total }))
}

/// `GET /be/v1/apps/{app}` (`fields[]`).
pub async fn details(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let app = state.apps.get(&caller, &name).await?;
    success(
        "app details",
        json!({ "app": project(app, &query.fields, Some(&APP_FIELDS))? }),
    )
}

/// `PATCH /be/v1/apps`.
pub async fn patch(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<AppPatch>,
) -> Result<HttpResponse, ApiError> {
    let app = state.apps.patch(&caller, body.into_inner()).await?;
    success("app modified", json!({ "app": app }))
}

/// `DELETE /be/v1/apps/{app}`: files are removed by a `cleanup` task.
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let task = state.apps.delete(&caller, &name).await?;
    success("app deleted", json!({ "taskName": task }))
}
