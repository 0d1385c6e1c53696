//! What every handler can reach: the domain services, never the store.

use crate::auth::admin::AdminAuth;
use crate::domain::health::HealthService;
use crate::domain::instance::InstanceService;
use crate::domain::orgs::OrgService;
use crate::domain::tasks::TaskService;

/// Shared handler state, built once and cloned into every HTTP worker.
#[derive(Clone)]
pub struct AppState {
    pub admin: AdminAuth,
    pub instance: InstanceService,
    pub orgs: OrgService,
    pub tasks: TaskService,
    pub health: HealthService,
}
