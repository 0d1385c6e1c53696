//! The audit trail of the caller's org.

use actix_web::{HttpRequest, web};

use super::tasks::time_filter;
use crate::domain::audit::AuditFilter;
use crate::domain::caller::Caller;
use crate::http::answers::{Listed, Reply, Resource, reply_page};
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::state::AppState;
use crate::store::AuditRecord;

/// `GET /be/v1/activities` (filters `actor`, `action`, `createdAfter`, `createdBefore`).
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<Reply<Listed<AuditRecord>>, ApiError> {
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
    reply_page(page, &query.fields)
}

impl Resource for AuditRecord {
    const ONE: &'static str = "activity";
    const MANY: &'static str = "activities";
}
