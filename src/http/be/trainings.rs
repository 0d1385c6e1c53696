//! Training of the caller's org's apps: the per-image view and `nTracesReliable`.

use actix_web::{HttpRequest, web};

use crate::domain::caller::Caller;
use crate::domain::trainings::{TrainingModified, TrainingPatch, TrainingView};
use crate::http::answers::{Listed, Reply, Resource, reply, reply_page};
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::state::AppState;

/// `GET /be/v1/trainings` (filter `appName`): one row per retained build's image.
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<Reply<Listed<TrainingView>>, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let app = query.filter("appName");
    let page = state.trainings.list(&caller, app, query.params).await?;
    reply_page(page, &query.fields)
}

/// `PATCH /be/v1/trainings`: `{"appName","nTracesReliable"}`.
pub async fn patch(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<TrainingPatch>,
) -> Result<Reply<TrainingModified>, ApiError> {
    let answer = state.trainings.patch(&caller, body.into_inner()).await?;
    reply("training modified", answer)
}

impl Resource for TrainingView {
    const ONE: &'static str = "training";
    const MANY: &'static str = "trainings";
}
