//! `cleanup`: removes published files (layout prefixes) from the depot and from deployments'
//! origins, and finally the record of a deployment being deleted. The tasks are made here too,
//! so the deletions that need one submit it in their own transaction.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::auth::sealing::Sealer;
use crate::codes;
use crate::crashpoints::crash_point;
use crate::jobs::{NewTask, TaskError, exception};
use crate::publish::PublishError;
use crate::publish::depot::Depot;
use crate::publish::guard::AddressPolicy;
use crate::publish::layout;
use crate::publish::origin::Origin;
use crate::publish::origins::origin_of;
use crate::store::{
    self, APPS, CleanupParams, DEPLOYMENTS, DeploymentRecord, DeploymentStatus, S3Settings, Store,
    StoreError, TASKS, TaskSpec, org_key, org_prefix,
};

/// Runs `cleanup` tasks.
#[derive(Clone)]
pub struct Cleanup {
    depot: Depot,
    store: Store,
    sealer: Sealer,
    policy: AddressPolicy,
}

/// Removes a deleted org's layout prefixes from the depot and from its former origins; an
/// instance task in the org name's prune pipeline.
pub fn org_task(pipeline: String, prefixes: Vec<String>, origins: Vec<S3Settings>) -> NewTask {
    NewTask::new(
        TaskSpec::Cleanup(CleanupParams {
            prefixes,
            depot: true,
            origins,
            ..CleanupParams::default()
        }),
        None,
    )
    .in_pipeline(pipeline)
}

/// Removes a deleted app's prefixes from the depot and from the given deployments' origins.
pub fn app_task(
    org: &str,
    app: &str,
    pipeline: String,
    prefixes: Vec<String>,
    deployments: Vec<String>,
) -> NewTask {
    NewTask::new(
        TaskSpec::Cleanup(CleanupParams {
            org: Some(org.to_string()),
            prefixes,
            depot: true,
            deployments,
            ..CleanupParams::default()
        }),
        Some(org.to_string()),
    )
    .for_app(app.to_string())
    .in_pipeline(pipeline)
}

/// Removes an app's files that stopped being current (rotated builds, patches to a former
/// current build) from the depot and the given deployments' origins once `due` has come:
/// launchers mid-download finish first. Outside the app's pipeline, so it never holds up the
/// app's next build.
pub fn stale_task(
    org: &str,
    app: &str,
    prefixes: Vec<String>,
    deployments: Vec<String>,
    due: DateTime<Utc>,
) -> NewTask {
    NewTask::new(
        TaskSpec::Cleanup(CleanupParams {
            org: Some(org.to_string()),
            app: Some(app.to_string()),
            prefixes,
            depot: true,
            deployments,
            ..CleanupParams::default()
        }),
        Some(org.to_string()),
    )
    .for_app(app.to_string())
    .not_before(due)
}

/// Empties a deployment's origin of the org's files, then deletes the deployment.
pub fn deployment_task(
    org: &str,
    deployment: &str,
    pipeline: String,
    prefixes: Vec<String>,
) -> NewTask {
    NewTask::new(
        TaskSpec::Cleanup(CleanupParams {
            org: Some(org.to_string()),
            prefixes,
            depot: false,
            deployments: vec![deployment.to_string()],
            remove_deployment: Some(deployment.to_string()),
            ..CleanupParams::default()
        }),
        Some(org.to_string()),
    )
    .in_pipeline(pipeline)
}

fn failed(deployment: &str, message: impl std::fmt::Display) -> TaskError {
    TaskError::Failed(exception(
        codes::TASK_ERROR,
        json!({ "deployment": deployment, "message": message.to_string() }),
    ))
}

impl Cleanup {
    /// A cleanup handler for the depot and the origins of deployments.
    pub fn new(depot: Depot, store: Store, sealer: Sealer, policy: AddressPolicy) -> Self {
        Self {
            depot,
            store,
            sealer,
            policy,
        }
    }

    /// Runs one `cleanup` task: the depot first, then every origin concerned, then the
    /// record of a deployment being deleted.
    pub async fn run(&self, mut params: CleanupParams) -> Result<Value, TaskError> {
        if let (Some(org), Some(app)) = (&params.org, &params.app) {
            let live = self.live_dirs(org, app).await?;
            params.prefixes.retain(|prefix| {
                let inside = format!("{prefix}/");
                !live
                    .iter()
                    .any(|dir| dir == prefix || dir.starts_with(&inside))
            });
        }
        if params.depot {
            for prefix in &params.prefixes {
                self.depot
                    .remove_prefix(prefix)
                    .await
                    .map_err(|e| TaskError::internal(format!("cannot remove depot files: {e}")))?;
            }
            crash_point("cleanup.depot_emptied");
        }
        let org = params.org.clone().unwrap_or_default();
        let all = self.deployments_of(&org).await?;
        let mut places = origins_to_empty(&params, &all);
        places.extend(params.origins.iter().map(|o| (o.bucket.clone(), o)));
        let mut removed = 0;
        for (name, settings) in places {
            match empty_origin(settings, &self.sealer, self.policy, &params.prefixes).await {
                Ok(count) => {
                    removed += count;
                    crash_point("cleanup.origin_emptied");
                }
                Err(e) => {
                    if let Some(leaving) = &params.remove_deployment {
                        record_failed_deletion(&self.store, &org, leaving, &e).await;
                    }
                    return Err(failed(&name, e));
                }
            }
        }
        if let Some(name) = &params.remove_deployment {
            let key = org_key(&org, name);
            self.store
                .write(move |tx| tx.open(&DEPLOYMENTS)?.remove(key.as_str()).map(|_| ()))
                .await
                .map_err(|e: StoreError| TaskError::internal(e.to_string()))?;
            crash_point("cleanup.record_removed");
        }
        Ok(json!({ "prefixes": params.prefixes, "originObjectsRemoved": removed }))
    }

    /// The directories of an app's current and staged images and patches, and of the patches
    /// an unfinished switch (roll back or forward) makes.
    async fn live_dirs(&self, org: &str, app: &str) -> Result<Vec<String>, TaskError> {
        let (key, org, name) = (org_key(org, app), org.to_string(), app.to_string());
        let found = self
            .store
            .read(move |tx| {
                let Some(app) = tx.open(&APPS)?.get(key.as_str())? else {
                    return Ok(None);
                };
                let tasks = tx.open(&TASKS)?;
                let mut switching = Vec::new();
                for task in store::app_unfinished_tasks(tx, &org, &name)? {
                    if let Some(TaskSpec::Mkraw(params)) = tasks.get(task.as_str())?.map(|t| t.spec)
                    {
                        switching.extend(params.switch_to);
                    }
                }
                Ok::<_, StoreError>(Some((app, switching)))
            })
            .await
            .map_err(|e| TaskError::internal(e.to_string()))?;
        let Some((app, switching)) = found else {
            return Ok(Vec::new());
        };
        let builds = &app.builds;
        let staged = builds.staged.iter();
        let images = builds
            .current()
            .into_iter()
            .chain(staged.clone().map(|s| &s.build))
            .map(|b| layout::image_dir(&app.org, &app.name, b.id, &b.dxf_name));
        let patches = builds
            .patches
            .iter()
            .chain(staged.flat_map(|s| &s.patches))
            .map(|p| layout::patch_dir(&app.org, &app.name, p.to, p.from));
        let targets = switching
            .into_iter()
            .map(|id| layout::patches_to(&app.org, &app.name, id));
        Ok(images.chain(patches).chain(targets).collect())
    }

    async fn deployments_of(&self, org: &str) -> Result<Vec<DeploymentRecord>, TaskError> {
        let prefix = org_prefix(org);
        Ok(self
            .store
            .read(move |tx| tx.open(&DEPLOYMENTS)?.with_prefix(&prefix))
            .await
            .map_err(|e| TaskError::internal(e.to_string()))?
            .into_iter()
            .map(|(_, d)| d)
            .collect())
    }
}

/// The origins of the named deployments, by deployment name. A deployment being deleted keeps
/// its files when another deployment of the org uses the same place (they are that one's).
fn origins_to_empty<'a>(
    params: &CleanupParams,
    all: &'a [DeploymentRecord],
) -> Vec<(String, &'a S3Settings)> {
    let mut places = Vec::new();
    for name in &params.deployments {
        let Some(deployment) = all.iter().find(|d| d.name.eq_ignore_ascii_case(name)) else {
            continue;
        };
        let leaving = params
            .remove_deployment
            .as_ref()
            .is_some_and(|r| r.eq_ignore_ascii_case(name));
        let shared = all.iter().any(|other| {
            !other.name.eq_ignore_ascii_case(name) && other.origin.same_place(&deployment.origin)
        });
        if !(leaving && shared) {
            places.push((deployment.name.clone(), &deployment.origin));
        }
    }
    places
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
