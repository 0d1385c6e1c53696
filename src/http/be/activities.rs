//! The audit trail of the caller's org.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::domain::audit::AuditFilter;
use crate::domain::caller::Caller;
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::render::success;
use crate::http::state::AppState;

fn time(name: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::invalid(format!("{name} must be an RFC 3339 time, got {value:?}")))
}

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
            "createdAfter" => filter.after = Some(time(key, value)?),
            "createdBefore" => filter.before = Some(time(key, value)?),
            other => return Err(ApiError::invalid(format!("unknown filter {other}"))),
        }
    }
    let page = state.audit.list(&caller, filter, query.params).await?;
    success(
        "activities",
        json!({ "activities": page.items, "total": page.total }),
    )
}
