//! `deploy`: makes one deployment's origin hold the app's current build: the image's data,
//! the patches to it, then every `app.json` (the files a launcher starts from) last. Objects
//! the origin already holds are skipped; a multipart upload in progress is saved after each
//! part, so a run that stops continues it. Success records the deployment in the app's
//! `deployed`; failure puts the app in `error` until a retried deploy succeeds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::app_pipeline;
use crate::auth::sealing::Sealer;
use crate::codes;
use crate::crashpoints::crash_point;
use crate::jobs::{NewTask, TaskContext, TaskError, TaskOutput, exception};
use crate::metrics::{self, Counter};
use crate::publish::PublishError;
use crate::publish::depot::Depot;
use crate::publish::guard::AddressPolicy;
use crate::publish::layout::{self, IMAGE_INSTALL, PATCH_INSTALL};
use crate::publish::origins::origin_of;
use crate::publish::transfer::{LocalFile, Partial, Sent, Transfer, TransferSettings};
use crate::store::{
    APPS, AppRecord, BuildRecord, DEPLOYMENTS, DeployParams, DeploymentRecord, DeploymentStatus,
    FileEntry, Reads, Store, StoreError, TaskSpec, WriteTx, org_key, org_prefix,
};

/// The deployments an app publishes to: those it registers, or every deployment of its org
/// when it registers none; never one being deleted.
pub fn targets(tx: &impl Reads, app: &AppRecord) -> Result<Vec<DeploymentRecord>, StoreError> {
    Ok(tx
        .read(&DEPLOYMENTS)?
        .with_prefix(&org_prefix(&app.org))?
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| d.status != DeploymentStatus::Deleting)
        .filter(|d| {
            app.deployments.is_empty()
                || app
                    .deployments
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(&d.name))
        })
        .collect())
}

/// The deploy of `app`'s current build to `deployment`, in the app's pipeline (after the
/// build tasks queued before it).
pub fn deploy_task(app: &AppRecord, deployment: &DeploymentRecord) -> NewTask {
    NewTask::new(
        TaskSpec::Deploy(DeployParams {
            org: app.org.clone(),
            app: app.name.clone(),
            deployment: deployment.name.clone(),
            label: deployment.label.clone(),
        }),
        Some(app.org.clone()),
    )
    .for_app(app.name.clone())
    .in_pipeline(app_pipeline(&app.org, &app.name))
}

/// A deploy to every deployment `app` publishes to.
pub fn deploy_tasks(tx: &impl Reads, app: &AppRecord) -> Result<Vec<NewTask>, StoreError> {
    Ok(targets(tx, app)?
        .iter()
        .map(|deployment| deploy_task(app, deployment))
        .collect())
}

/// The deploys that publish an app's current build to its deployments, as they are now.
pub async fn deploys_of(store: &Store, org: &str, app: &str) -> Result<Vec<NewTask>, StoreError> {
    let key = org_key(org, app);
    store
        .read(move |tx| match tx.open(&APPS)?.get(key.as_str())? {
            Some(app) => deploy_tasks(tx, &app),
            None => Ok(Vec::new()),
        })
        .await
}

/// Every file of the app's current build in publishing order: the image's data, the patches'
/// data, then the `app.json` of each.
fn publication(
    app: &AppRecord,
    build: &BuildRecord,
    depot: &Depot,
) -> Result<Vec<LocalFile>, PublishError> {
    let mut dirs: Vec<(String, &[FileEntry], &[&str])> = vec![(
        layout::image_dir(&app.org, &app.name, build.id, &build.dxf_name),
        &build.files,
        &IMAGE_INSTALL,
    )];
    for patch in &app.builds.patches {
        dirs.push((
            layout::patch_dir(&app.org, &app.name, patch.to, patch.from),
            &patch.files,
            &PATCH_INSTALL,
        ));
    }
    let (mut data, mut pointers) = (Vec::new(), Vec::new());
    for (dir, files, order) in dirs {
        for name in order {
            let Some(entry) = files.iter().find(|f| f.name == *name) else {
                continue;
            };
            let path = format!("{dir}/{name}");
            let file = LocalFile {
                local: depot.path_of(&path)?,
                path,
                size: entry.size,
                md5: entry.md5.clone(),
            };
            if *name == layout::POINTER_FILE {
                pointers.push(file);
            } else {
                data.push(file);
            }
        }
    }
    data.extend(pointers);
    Ok(data)
}

/// What a run got done: the multipart uploads under way, by layout path, for one image.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checkpoint {
    dxf_name: String,
    uploads: BTreeMap<String, Partial>,
}

/// Runs `deploy` tasks.
#[derive(Clone)]
pub struct Deploys {
    store: Store,
    depot: Depot,
    sealer: Sealer,
    policy: AddressPolicy,
    settings: Arc<TransferSettings>,
}

/// The task's exception: `error {deployment, message}`.
fn failed(deployment: &str, message: impl std::fmt::Display) -> TaskError {
    metrics::add(Counter::OriginErrors, 1);
    TaskError::Failed(exception(
        codes::TASK_ERROR,
        json!({ "deployment": deployment, "message": message.to_string() }),
    ))
}

/// How often progress is recorded.
const REPORT_EVERY: Duration = Duration::from_secs(1);

impl Deploys {
    /// Deploys from `depot` to origins reached under `policy`, sending as `settings` say.
    pub fn new(
        store: Store,
        depot: Depot,
        sealer: Sealer,
        policy: AddressPolicy,
        settings: TransferSettings,
    ) -> Self {
        Self {
            store,
            depot,
            sealer,
            policy,
            settings: Arc::new(settings),
        }
    }

    /// Runs one `deploy` task; a failure is recorded on the app and the deployment.
    pub async fn run(
        &self,
        params: DeployParams,
        ctx: TaskContext,
    ) -> Result<TaskOutput, TaskError> {
        match self.deploy(&params, &ctx).await {
            Err(TaskError::Failed(exception)) => {
                self.record_failure(&params, ctx.name(), &exception).await?;
                Err(TaskError::Failed(exception))
            }
            outcome => outcome.map(TaskOutput::from),
        }
    }

    async fn deploy(&self, params: &DeployParams, ctx: &TaskContext) -> Result<Value, TaskError> {
        let (org, app_name, name) = (
            params.org.clone(),
            params.app.clone(),
            params.deployment.clone(),
        );
        let found = self
            .store
            .read(move |tx| {
                let Some(app) = tx.open(&APPS)?.get(org_key(&org, &app_name).as_str())? else {
                    return Ok::<_, StoreError>(None);
                };
                let target = targets(tx, &app)?
                    .into_iter()
                    .find(|d| d.name.eq_ignore_ascii_case(&name));
                Ok(Some((app, target)))
            })
            .await
            .map_err(|e| TaskError::internal(e.to_string()))?;
        let skipped = |why: &str| json!({ "deployment": params.deployment, "skipped": why });
        let Some((app, target)) = found else {
            return Ok(skipped("the app was deleted"));
        };
        let Some(deployment) = target else {
            self.settle(params, None).await?;
            return Ok(skipped("the app no longer publishes to this deployment"));
        };
        let Some(build) = app.builds.current().cloned() else {
            return Ok(skipped("the app has no build yet"));
        };
        let origin = origin_of(&deployment.origin, &self.sealer, self.policy)
            .and_then(|o| o.with_timeout(self.settings.request_timeout))
            .map_err(|e| failed(&deployment.name, e))?;
        origin
            .admit()
            .await
            .map_err(|e| failed(&deployment.name, e))?;
        let files =
            publication(&app, &build, &self.depot).map_err(|e| failed(&deployment.name, e))?;
        let mut state = match ctx.checkpoint().cloned().map(serde_json::from_value) {
            Some(Ok::<Checkpoint, _>(state)) if state.dxf_name == build.dxf_name => state,
            _ => Checkpoint {
                dxf_name: build.dxf_name.clone(),
                uploads: BTreeMap::new(),
            },
        };
        let sent = Arc::new(AtomicU64::new(0));
        let total: u64 = files.iter().map(|f| f.size).sum();
        let transfer = Transfer {
            http: origin
                .body_client(self.settings.request_timeout)
                .map_err(|e| failed(&deployment.name, e))?,
            origin: &origin,
            settings: &self.settings,
            sent: Arc::clone(&sent),
        };
        let (mut present, mut uploaded) = (0u32, 0u32);
        for (index, file) in files.iter().enumerate() {
            let outcome = self
                .send(
                    &transfer,
                    file,
                    &mut state,
                    ctx,
                    (index, files.len(), total),
                )
                .await
                .map_err(|e| match e {
                    Sending::Stopped(stop) => stop,
                    Sending::Failed(e) => failed(&deployment.name, e),
                })?;
            match outcome {
                Sent::Present => present += 1,
                Sent::Uploaded(_) => uploaded += 1,
            }
            crash_point("deploy.object_published");
        }
        self.settle(params, Some(&build)).await?;
        Ok(json!({
            "deployment": deployment.name,
            "buildId": build.id,
            "dxfName": build.dxf_name,
            "objects": files.len(),
            "objectsSent": uploaded,
            "objectsPresent": present,
            "bytesSent": sent.load(Ordering::Relaxed),
        }))
    }

    /// Publishes one file while saving its upload's progress as parts arrive and reporting
    /// the deploy's progress; a stop saves the upload and ends the run as interrupted.
    async fn send(
        &self,
        transfer: &Transfer<'_>,
        file: &LocalFile,
        state: &mut Checkpoint,
        ctx: &TaskContext,
        (index, count, total): (usize, usize, u64),
    ) -> Result<Sent, Sending> {
        let (progress, mut parts) = watch::channel(None);
        let resume = state.uploads.get(&file.path).cloned();
        let publishing = transfer.publish(file, resume, &progress);
        tokio::pin!(publishing);
        let percent = || {
            let done = transfer.sent.load(Ordering::Relaxed) as f64;
            (100.0 * done / total.max(1) as f64).min(99.0)
        };
        let phase = format!("file {}/{count}", index + 1);
        let mut tick = tokio::time::interval(REPORT_EVERY);
        loop {
            tokio::select! {
                outcome = &mut publishing => {
                    let sent = outcome.map_err(Sending::Failed)?;
                    if state.uploads.remove(&file.path).is_some() {
                        ctx.save(json!(state), percent()).await.map_err(Sending::Stopped)?;
                    }
                    return Ok(sent);
                }
                Ok(()) = parts.changed() => {
                    let latest = parts.borrow_and_update().clone();
                    if let Some(partial) = latest {
                        state.uploads.insert(file.path.clone(), partial);
                        ctx.save(json!(state), percent()).await.map_err(Sending::Stopped)?;
                        crash_point("deploy.part_saved");
                    }
                }
                _ = tick.tick() => {
                    ctx.report(&phase, percent()).await.map_err(Sending::Stopped)?;
                }
                _ = ctx.stop().cancelled() => {
                    let latest = parts.borrow().clone();
                    if let Some(partial) = latest {
                        state.uploads.insert(file.path.clone(), partial);
                    }
                    let _ = ctx.save(json!(state), percent()).await;
                    return Err(Sending::Stopped(TaskError::Interrupted));
                }
            }
        }
    }

    /// Records the outcome on the app and the deployment: `build` deployed there (when it is
    /// still current), or with `None` that the deployment is no longer the app's concern.
    async fn settle(
        &self,
        params: &DeployParams,
        build: Option<&BuildRecord>,
    ) -> Result<(), TaskError> {
        let (app_key, deployment_key) = (
            org_key(&params.org, &params.app),
            org_key(&params.org, &params.deployment),
        );
        let (name, app_name, build) = (
            params.deployment.clone(),
            params.app.clone(),
            build.cloned(),
        );
        self.store
            .write(move |tx| {
                let mut apps = tx.open(&APPS)?;
                if let Some(mut app) = apps.get(app_key.as_str())? {
                    match &build {
                        Some(build) if app.builds.current == build.id => {
                            app.builds.mark_deployed(&name, build);
                        }
                        Some(_) => {}
                        None => app.builds.forget_deployment(&name),
                    }
                    apps.put(app_key.as_str(), &app)?;
                }
                if let Some(build) = &build {
                    let message = format!("build {} of app {app_name} deployed", build.id);
                    set_status(tx, &deployment_key, DeploymentStatus::Ok, message)?;
                }
                Ok(())
            })
            .await
            .map_err(|e: StoreError| TaskError::internal(e.to_string()))
    }

    /// Puts the app in `error` and the deployment in status `error`, with the cause.
    async fn record_failure(
        &self,
        params: &DeployParams,
        task: &str,
        exception: &Value,
    ) -> Result<(), TaskError> {
        let (app_key, deployment_key) = (
            org_key(&params.org, &params.app),
            org_key(&params.org, &params.deployment),
        );
        let (name, task, exception) = (
            params.deployment.clone(),
            task.to_string(),
            exception.clone(),
        );
        let message = exception
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("the deploy failed")
            .to_string();
        self.store
            .write(move |tx| {
                let mut apps = tx.open(&APPS)?;
                if let Some(mut app) = apps.get(app_key.as_str())? {
                    app.builds.mark_failed(&name, &task, exception);
                    apps.put(app_key.as_str(), &app)?;
                }
                let message = format!("deploy failed: {message}");
                set_status(tx, &deployment_key, DeploymentStatus::Error, message)?;
                Ok(())
            })
            .await
            .map_err(|e: StoreError| TaskError::internal(e.to_string()))
    }
}

/// Records a deploy's outcome as the deployment's status (unless it is being deleted).
fn set_status(
    tx: &WriteTx,
    key: &str,
    status: DeploymentStatus,
    message: String,
) -> Result<(), StoreError> {
    let mut deployments = tx.open(&DEPLOYMENTS)?;
    match deployments.get(key)? {
        Some(mut deployment) if deployment.status != DeploymentStatus::Deleting => {
            deployment.status = status;
            deployment.status_message = message;
            deployment.updated = Utc::now();
            deployments.put(key, &deployment)
        }
        _ => Ok(()),
    }
}

/// Why sending a file ended early.
enum Sending {
    /// The run must stop (shutdown, lost claim): its state is saved.
    Stopped(TaskError),
    Failed(PublishError),
}
