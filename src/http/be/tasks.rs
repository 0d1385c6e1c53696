//! Tasks of the caller's org, and triggers.

use actix_web::{HttpRequest, web};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::caller::Caller;
use crate::domain::tasks::{TaskFilter, TaskPatch, TaskView};
use crate::http::answers::{Listed, One, Reply, Resource, reply, reply_page};
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::state::AppState;
use crate::store::{TaskKind, TaskStatus};

/// An RFC 3339 time filter.
pub fn time_filter(name: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::invalid(format!("{name} must be an RFC 3339 time, got {value:?}")))
}

fn status(value: &str) -> Result<TaskStatus, ApiError> {
    serde_json::from_value(json!(value)).map_err(|_| {
        ApiError::invalid(format!(
            "status must be submitted, running, done, failed or expired, got {value:?}"
        ))
    })
}

fn kind(value: &str) -> Result<TaskKind, ApiError> {
    serde_json::from_value(json!(value)).map_err(|_| {
        let known: Vec<&str> = TaskKind::ALL.iter().map(|k| k.as_str()).collect();
        ApiError::invalid(format!(
            "type must be one of {}, got {value:?}",
            known.join(", ")
        ))
    })
}

/// `GET /be/v1/tasks` (filters `appName`, `group`, `status`, `type`, `createdAfter`, `createdBefore`).
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<Reply<Listed<TaskView>>, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let mut filter = TaskFilter::default();
    for (key, value) in &query.filters {
        match key.as_str() {
            "appName" => filter.app_name = Some(value.clone()),
            "group" => filter.group = Some(value.clone()),
            "status" => filter.status = Some(status(value)?),
            "type" => filter.kind = Some(kind(value)?),
            "createdAfter" => filter.created_after = Some(time_filter(key, value)?),
            "createdBefore" => filter.created_before = Some(time_filter(key, value)?),
            other => return Err(ApiError::invalid(format!("unknown filter {other}"))),
        }
    }
    let page = state.tasks.list(&caller, filter, query.params).await?;
    reply_page(page, &query.fields)
}

/// `GET /be/v1/tasks/{taskName}`.
pub async fn details(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<Reply<One<TaskView>>, ApiError> {
    let task = state.tasks.get(&caller, &name).await?;
    reply("task", One(task))
}

/// `PATCH /be/v1/tasks`: acknowledge warnings, or expire.
pub async fn patch(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<TaskPatch>,
) -> Result<Reply<One<TaskView>>, ApiError> {
    let task = state.tasks.patch(&caller, body.into_inner()).await?;
    reply("task modified", One(task))
}

/// A trigger request.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Trigger {
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["retry", "traces"]))]
    kind: String,
    task_name: Option<String>,
    app_name: Option<String>,
}

/// `POST /be/v1/trigger`: `{"type":"retry","taskName"}` or `{"type":"traces","appName"}`.
pub async fn trigger(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<Trigger>,
) -> Result<Reply<Triggered>, ApiError> {
    let body = body.into_inner();
    match body.kind.as_str() {
        "retry" => {
            let name = body
                .task_name
                .ok_or_else(|| ApiError::missing("taskName is required for a retry"))?;
            let task = state.tasks.retry(&caller, &name).await?;
            reply("task resubmitted", Triggered::from(task))
        }
        "traces" => {
            let app = body
                .app_name
                .ok_or_else(|| ApiError::missing("appName is required for traces"))?;
            let task = state.trainings.trigger(&caller, &app).await?;
            reply("training submitted", Triggered::from(task))
        }
        other => Err(ApiError::invalid(format!(
            "unknown trigger type {other:?}; use retry or traces"
        ))),
    }
}

/// A triggered task: its name (as every submission answers) and the task.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Triggered {
    task_name: String,
    task: TaskView,
}

impl From<TaskView> for Triggered {
    fn from(task: TaskView) -> Self {
        Self {
            task_name: task.name.clone(),
            task,
        }
    }
}

impl Resource for TaskView {
    const ONE: &'static str = "task";
    const MANY: &'static str = "tasks";
}
