//! Apps of the caller's org.

use actix_web::{HttpRequest, web};

use crate::domain::apps::{APP_FIELDS, AppFilter, AppPatch, AppView, NewApp};
use crate::domain::caller::Caller;
use crate::http::answers::TaskStarted;
use crate::http::answers::{Listed, One, Partial, Reply, Resource, reply, reply_page};
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::state::AppState;

/// `POST /be/v1/apps`.
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewApp>,
) -> Result<Reply<One<AppView>>, ApiError> {
    let app = state.apps.create(&caller, body.into_inner()).await?;
    reply("app created", One(app))
}

/// `GET /be/v1/apps` (filters `name` partial, `state`; `fields[]`).
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<Reply<Listed<AppView>>, ApiError> {
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
    reply_page(page, &query.fields)
}

/// `GET /be/v1/apps/{app}` (`fields[]`).
pub async fn details(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    req: HttpRequest,
) -> Result<Reply<One<Partial<AppView>>>, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let app = state.apps.get(&caller, &name).await?;
    reply("app details", One(Partial::of(app, &query.fields)?))
}

/// `PATCH /be/v1/apps`.
pub async fn patch(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<AppPatch>,
) -> Result<Reply<One<AppView>>, ApiError> {
    let app = state.apps.patch(&caller, body.into_inner()).await?;
    reply("app modified", One(app))
}

/// `DELETE /be/v1/apps/{app}`: files are removed by a `cleanup` task.
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<Reply<TaskStarted>, ApiError> {
    let task = state.apps.delete(&caller, &name).await?;
    reply("app deleted", TaskStarted { task_name: task })
}

impl Resource for AppView {
    const ONE: &'static str = "app";
    const MANY: &'static str = "apps";
    const FIELDS: Option<&'static [&'static str]> = Some(&APP_FIELDS);
}
