//! The administrator's view of any task (`/adm/v1/tasks/{name}`).

use actix_web::web;

use super::answers::{One, Reply, reply};
use super::error::ApiError;
use super::extract::AdminCaller;
use super::state::AppState;
use crate::domain::tasks::TaskView;

/// One task of any org.
pub async fn details(
    state: web::Data<AppState>,
    _admin: AdminCaller,
    name: web::Path<String>,
) -> Result<Reply<One<TaskView>>, ApiError> {
    let task = state.tasks.any(&name).await?;
    reply("task", One(task))
}
