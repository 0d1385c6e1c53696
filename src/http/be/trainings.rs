//! Training of the caller's org's apps: the per-image view and `nTracesReliable`.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::caller::Caller;
use crate::domain::trainings::TrainingPatch;
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::render::{project, success};
use crate::http::state::AppState;

/// `GET /be/v1/trainings` (filter `appName`): one row per retained build's image.
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let app = query.filter("appName");
    let page = state.trainings.list(&caller, app, query.params).await?;
    let trainings = page
        .items
        .into_iter()
        .map(|row| project(row, &query.fields, None))
        .collect::<Result<Vec<_>, _>>()?;
    success(
        "trainings",
        serde_json::json!({ "trainings": trainings, "total": page.total }),
    )
}

/// `PATCH /be/v1/trainings`: `{"appName","nTracesReliable"}`.
pub async fn patch(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<TrainingPatch>,
) -> Result<HttpResponse, ApiError> {
    let answer = state.trainings.patch(&caller, body.into_inner()).await?;
    success("training modified", answer)
}
