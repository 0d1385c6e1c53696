//! Apps of the caller's org.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::domain::caller::Caller;
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::render::success;
use crate::http::state::AppState;

/// `GET /be/v1/apps`.
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let page = state.apps.list(&caller, query.params).await?;
    success("apps", json!({ "apps": page.items, "total": page.total }))
}
