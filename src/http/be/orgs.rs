//! The backend twin of org deletion: an org's own administrators delete their org.

use actix_web::web;

use crate::domain::caller::Caller;
use crate::http::answers::{Reply, reply};
use crate::http::error::ApiError;
use crate::http::orgs::DeleteQuery;
use crate::http::orgs::OrgDeleted;
use crate::http::state::AppState;

/// `DELETE /be/v1/orgs/{org}?prune=true`: only the caller's own org exists for it.
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<String>,
    query: web::Query<DeleteQuery>,
) -> Result<Reply<OrgDeleted>, ApiError> {
    crate::domain::names::check_name("org", &org)?;
    if *org != caller.org {
        return Err(crate::domain::DomainError::not_found(format!("org {org}")).into());
    }
    let task = state.orgs.delete(&caller.org, query.prune).await?;
    reply("org deleted", OrgDeleted { task_name: task })
}
