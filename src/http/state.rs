//! What every handler can reach: the domain services, never the store.

use std::net::IpAddr;

use super::actor::AddressRange;
use crate::auth::admin::AdminAuth;
use crate::domain::apikeys::ApiKeyService;
use crate::domain::apps::AppService;
use crate::domain::audit::AuditService;
use crate::domain::backups::BackupService;
use crate::domain::builds::BuildService;
use crate::domain::deployments::DeploymentService;
use crate::domain::depot::DepotService;
use crate::domain::downloads::DownloadService;
use crate::domain::health::HealthService;
use crate::domain::identity::IdentityService;
use crate::domain::instance::InstanceService;
use crate::domain::keys::KeyService;
use crate::domain::orgs::OrgService;
use crate::domain::publishing::PublishingService;
use crate::domain::roles::RoleService;
use crate::domain::sessions::SessionService;
use crate::domain::subscriptions::SubscriptionService;
use crate::domain::tasks::TaskService;
use crate::domain::trainings::TrainingService;
use crate::domain::users::UserService;
use crate::workers::Workers;

/// Shared handler state, built once and cloned into every HTTP worker.
#[derive(Clone)]
pub struct AppState {
    pub admin: AdminAuth,
    pub identity: IdentityService,
    pub sessions: SessionService,
    pub instance: InstanceService,
    pub orgs: OrgService,
    pub users: UserService,
    pub roles: RoleService,
    pub apikeys: ApiKeyService,
    pub apps: AppService,
    pub builds: BuildService,
    pub publishing: PublishingService,
    pub keys: KeyService,
    pub downloads: DownloadService,
    pub depot: DepotService,
    pub audit: AuditService,
    pub subscriptions: SubscriptionService,
    pub deployments: DeploymentService,
    pub tasks: TaskService,
    pub trainings: TrainingService,
    pub health: HealthService,
    pub backups: BackupService,
    /// The background workers, for `GET /adm/v1/workers`.
    pub workers: Workers,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Who may read `/metrics` without an admin token.
    pub metrics_allow: Vec<AddressRange>,
}
