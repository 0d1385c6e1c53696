//! The audit trail of the caller's org.

use actix_web::{HttpRequest, HttpResponse, web};

use super::tasks::time_filter;
use crate::domain::audit::AuditFilter;
use crate::domain::caller::Caller;
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::render::success_page;
use crate::http::state::AppState;

/// `GET /be/v1/activities` (filters `actor`, `action`, `createdAfter`, `createdBefore`).
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let mut filter = AuditFilter::default();
    for (key, value) in &query.filters {
        match key.as_str() {
            "actor" => filter.actor = Some(value.clone()),
            "action" => filter.action = Some(value.clone()),
            "createdAfter" => filter.after = Some(time_filter(key, value)?),
            "createdBefore" => filter.before = Some(time_filter(key, value)?),
            other => return Err(ApiError::invalid(format!("unknown filter {other}"))),
        }
    }
    let page = state.audit.list(&caller, filter, query.params).await?;
    success_page("activities", page, &query.fields)
}
