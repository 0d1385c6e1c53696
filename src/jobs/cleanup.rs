//! `cleanup`: removes published files (layout prefixes) from the depot and from deployments'
//! origins, and finally the record of a deployment being deleted.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{TaskContext, TaskError, TaskFuture, TaskHandler};
use crate::auth::sealing::Sealer;
use crate::publish::depot::Depot;
use crate::publish::guard::AddressPolicy;
use crate::publish::origins::{origin_of, same_place};
use crate::publish::s3::PublishError;
use crate::store::{
    DEPLOYMENTS, DeploymentRecord, DeploymentStatus, S3Settings, Store, StoreError, org_key,
    org_prefix,
};

/// The task type name.
pub const CLEANUP: &str = "cleanup";

/// What to remove.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    org: Option<String>,
    /// Layout paths (`dxf/{org}`, `pat/{org}/{app}`, ...).
    prefixes: Vec<String>,
    /// Remove them from the depot.
    #[serde(default)]
    depot: bool,
    /// Remove them from these deployments' origins.
    #[serde(default)]
    deployments: Vec<String>,
    /// Delete this deployment's record at the end.
    #[serde(default)]
    remove_deployment: Option<String>,
    /// Remove them from these origins too (of deployments whose records are already gone).
    #[serde(default)]
    origins: Vec<S3Settings>,
}

/// Runs `cleanup` tasks.
pub struct CleanupTask {
    depot: Depot,
    store: Store,
    sealer: Sealer,
    policy: AddressPolicy,
}

fn params_value(params: Params) -> serde_json::Value {
    serde_json::to_value(params).unwrap_or_default()
}

impl CleanupTask {
    /// A cleanup handler for the depot and the org's origins.
    pub fn new(depot: Depot, store: Store, sealer: Sealer, policy: AddressPolicy) -> Self {
        Self {
            depot,
            store,
            sealer,
            policy,
        }
    }

    /// Removes a deleted org's layout prefixes from the depot and from its former origins.
    pub fn org_params(prefixes: Vec<String>, origins: Vec<S3Settings>) -> serde_json::Value {
        params_value(Params {
            prefixes,
            depot: true,
            origins,
            ..Params::default()
        })
    }

    /// Removes the prefixes from the depot and from the given deployments' origins.
    pub fn app_params(
        org: &str,
        prefixes: Vec<String>,
        deployments: Vec<String>,
    ) -> serde_json::Value {
        params_value(Params {
            org: Some(org.to_string()),
            prefixes,
            depot: true,
            deployments,
            ..Params::default()
        })
    }

    /// Empties a deployment's origin of the org's files, then deletes the deployment.
    pub fn deployment_params(
        org: &str,
        deployment: &str,
        prefixes: Vec<String>,
    ) -> serde_json::Value {
        params_value(Params {
            org: Some(org.to_string()),
            prefixes,
            depot: false,
            deployments: vec![deployment.to_string()],
            remove_deployment: Some(deployment.to_string()),
            ..Params::default()
        })
    }
}

fn failed(deployment: &str, message: impl std::fmt::Display) -> TaskError {
    TaskError::Failed(
        json!({ "error": { "deployment": deployment, "message": message.to_string() } }),
    )
}

impl TaskHandler for CleanupTask {
    fn kind(&self) -> &'static str {
        CLEANUP
    }

    fn run(&self, ctx: TaskContext) -> TaskFuture {
        let (depot, store, sealer) = (self.depot.clone(), self.store.clone(), self.sealer.clone());
        let policy = self.policy;
        Box::pin(async move {
            let params: Params = serde_json::from_value(ctx.params().clone())
                .map_err(|e| TaskError::internal(format!("bad cleanup parameters: {e}")))?;
            if params.depot {
                let (depot, prefixes) = (depot.clone(), params.prefixes.clone());
                tokio::task::spawn_blocking(move || {
                    prefixes.iter().try_for_each(|p| depot.remove_prefix(p))
                })
                .await
                .map_err(|e| TaskError::internal(e.to_string()))?
                .map_err(|e| TaskError::internal(format!("cannot remove depot files: {e}")))?;
            }
            let org = params.org.clone().unwrap_or_default();
            let all: Vec<DeploymentRecord> = {
                let prefix = org_prefix(&org);
                store
                    .read(move |tx| tx.open(&DEPLOYMENTS)?.with_prefix(&prefix))
                    .await
                    .map_err(|e| TaskError::internal(e.to_string()))?
                    .into_iter()
                    .map(|(_, d)| d)
                    .collect()
            };
            let mut places: Vec<(String, &S3Settings)> = Vec::new();
            for name in &params.deployments {
                let Some(deployment) = all.iter().find(|d| d.name.eq_ignore_ascii_case(name))
                else {
                    continue;
                };
                let leaving = params
                    .remove_deployment
                    .as_ref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(name));
                let shared = all.iter().any(|other| {
                    !other.name.eq_ignore_ascii_case(name) && same_place(other, deployment)
                });
                if !(leaving && shared) {
                    places.push((deployment.name.clone(), &deployment.origin));
                }
            }
            places.extend(params.origins.iter().map(|o| (o.bucket.clone(), o)));
            let mut removed = 0;
            for (name, settings) in places {
                match empty_origin(settings, &sealer, policy, &params.prefixes).await {
                    Ok(count) => removed += count,
                    Err(e) => {
                        if let Some(leaving) = &params.remove_deployment {
                            record_failed_deletion(&store, &org, leaving, &e).await;
                        }
                        return Err(failed(&name, e));
                    }
                }
            }
            if let Some(name) = &params.remove_deployment {
                let key = org_key(&org, name);
                store
                    .write(move |tx| tx.open(&DEPLOYMENTS)?.remove(key.as_str()).map(|_| ()))
                    .await
                    .map_err(|e: StoreError| TaskError::internal(e.to_string()))?;
            }
            Ok(json!({ "prefixes": params.prefixes, "originObjectsRemoved": removed }))
        })
    }
}

/// Removes the layout prefixes from one origin; how many objects went.
async fn empty_origin(
    settings: &S3Settings,
    sealer: &Sealer,
    policy: AddressPolicy,
    prefixes: &[String],
) -> Result<u64, PublishError> {
    let origin = origin_of(settings, sealer, policy)?;
    let mut removed = 0;
    for prefix in prefixes {
        removed += origin.remove_prefix(prefix).await?;
    }
    Ok(removed)
}

/// A deployment whose files could not be removed leaves `deleting` for `error`, with the cause
/// and the ways out, so it can be fixed with PATCH and deleted again.
async fn record_failed_deletion(store: &Store, org: &str, name: &str, cause: &PublishError) {
    let key = org_key(org, name);
    let message = format!(
        "deletion failed: {cause}; fix the credentials with PATCH and DELETE again, \
         or DELETE with ?keepFiles=true to remove only the record"
    );
    let result = store
        .write(move |tx| {
            let mut table = tx.open(&DEPLOYMENTS)?;
            if let Some(mut deployment) = table.get(key.as_str())? {
                deployment.status = DeploymentStatus::Error;
                deployment.status_message = message;
                deployment.updated = chrono::Utc::now();
                table.put(key.as_str(), &deployment)?;
            }
            Ok::<_, StoreError>(())
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, deployment = %name, "cannot record a failed deletion");
    }
}
