//! Apps: what an org publishes. Each app has its retention, its registered deployments and
//! its publishing mode; builds, images and patches attach to it.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::caller::Caller;
use super::listing::{ListParams, Page, named};
use super::names::{DEPLOYMENT_NAME_RULE, NAME_RULE, check_name};
use super::text::check_label;
use super::{DomainError, in_org};
use crate::crashpoints::crash_point;
use crate::jobs;
use crate::pipeline::builds::{TraceFiles, build_files, switching};
use crate::pipeline::{app_pipeline, cleanup, deploy};
use crate::publish::layout;
use crate::store::{
    self, APPS, AppActivity, AppBuilds, AppRecord, BuildRecord, DEPLOYMENTS, DeploymentStatus,
    Reads, Store, TASKS, TRAININGS, WriteTx, forget_traces, org_key, org_prefix,
};

/// Retention bounds.
pub const MAX_BUILDS: std::ops::RangeInclusive<u32> = 1..=100;

/// Keys `fields[]` may name on an app.
pub const APP_FIELDS: [&str; 18] = [
    "name",
    "label",
    "iCurBuild",
    "maxBuilds",
    "processing",
    "exporting",
    "deployed",
    "files",
    "dxfName",
    "deployments",
    "builds",
    "state",
    "error",
    "staged",
    "sizeBytes",
    "created",
    "updated",
    "autoCommit",
];

/// A create request.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApp {
    #[schemars(pattern(NAME_RULE.pattern()))]
    pub name: String,
    pub label: String,
    pub max_builds: Option<u32>,
    #[serde(default)]
    #[schemars(inner(pattern(DEPLOYMENT_NAME_RULE.pattern())))]
    pub deployments: Vec<String>,
    pub auto_commit: Option<bool>,
}

/// A `PATCH /be/v1/apps` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppPatch {
    #[schemars(pattern(NAME_RULE.pattern()))]
    pub name: String,
    pub label: Option<String>,
    #[schemars(inner(pattern(DEPLOYMENT_NAME_RULE.pattern())))]
    pub deployments: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(inner(pattern(DEPLOYMENT_NAME_RULE.pattern())))]
    pub register: Vec<String>,
    #[serde(default)]
    #[schemars(inner(pattern(DEPLOYMENT_NAME_RULE.pattern())))]
    pub deregister: Vec<String>,
    pub max_builds: Option<u32>,
    pub i_cur_build: Option<u32>,
    pub auto_commit: Option<bool>,
}

/// An app in the seed-002 shape plus the extra keys of API.md.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    pub name: String,
    pub label: String,
    pub dxf_name: String,
    pub i_cur_build: u32,
    pub max_builds: u32,
    pub processing: bool,
    pub exporting: bool,
    pub deployed: Vec<String>,
    pub files: Value,
    pub deployments: Vec<String>,
    pub builds: Vec<Value>,
    pub state: &'static str,
    pub error: Option<Value>,
    pub staged: Option<Value>,
    pub size_bytes: u64,
    pub auto_commit: bool,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

named!(AppView);

/// Filters of `GET /be/v1/apps`.
#[derive(Debug, Default)]
pub struct AppFilter {
    pub name: Option<String>,
    pub state: Option<String>,
}

/// Whether unfinished tasks make the app busy: (processing, exporting), from the app's index
/// of unfinished tasks.
fn activity(tx: &impl Reads, org: &str, app: &str) -> Result<(bool, bool), DomainError> {
    let mut busy = (false, false);
    let tasks = tx.read(&TASKS)?;
    for name in store::app_unfinished_tasks(tx, org, app)? {
        let activity = tasks
            .get(name.as_str())?
            .and_then(|task| task.spec.kind().app_activity());
        match activity {
            Some(AppActivity::Processing) => busy.0 = true,
            Some(AppActivity::Exporting) => busy.1 = true,
            None => {}
        }
    }
    Ok(busy)
}

/// A build as `builds` and `staged` list it.
fn build_summary(build: &BuildRecord) -> Value {
    json!({
        "id": build.id,
        "name": build.name,
        "dxfName": build.dxf_name,
        "created": build.created,
        "sizeBytes": build.size_bytes(),
    })
}

/// Refuses `what` while the app processes or publishes a build.
pub(super) fn check_idle(tx: &impl Reads, app: &AppRecord, what: &str) -> Result<(), DomainError> {
    match activity(tx, &app.org, &app.name)? {
        (false, false) => Ok(()),
        (_, true) => Err(DomainError::Locked(format!(
            "app {} is publishing a build; {what} when it is idle",
            app.name
        ))),
        (true, false) => Err(DomainError::Locked(format!(
            "app {} is processing a build; {what} when it is idle",
            app.name
        ))),
    }
}

/// Refuses new builds while a failed deploy keeps the app in `error`.
pub(super) fn check_healthy(app: &AppRecord) -> Result<(), DomainError> {
    match app.builds.failures.first() {
        None => Ok(()),
        Some(failure) => Err(DomainError::Locked(format!(
            "app {} is in error: its deploy to {} failed (task {}); fix the deployment with \
             PATCH /be/v1/deployments or deregister it, then POST /be/v1/trigger \
             {{\"type\":\"retry\",\"taskName\":\"{}\"}}",
            app.name, failure.deployment, failure.task, failure.task
        ))),
    }
}

/// Every registered deployment must exist (and not be on its way out).
fn check_deployments(
    tx: &WriteTx,
    org: &str,
    names: &[String],
) -> Result<Vec<String>, DomainError> {
    let table = tx.open(&DEPLOYMENTS)?;
    let mut found: Vec<String> = Vec::new();
    for name in names {
        let deployment = table
            .named(Some(org), name)?
            .filter(|d| d.status != DeploymentStatus::Deleting)
            .ok_or_else(|| {
                DomainError::invalid("deployments", format!("no deployment {name} in this org"))
            })?;
        if !found
            .iter()
            .any(|f| f.eq_ignore_ascii_case(&deployment.name))
        {
            found.push(deployment.name);
        }
    }
    Ok(found)
}

fn check_max_builds(value: u32) -> Result<u32, DomainError> {
    if MAX_BUILDS.contains(&value) {
        Ok(value)
    } else {
        Err(DomainError::invalid(
            "maxBuilds",
            format!(
                "must be between {} and {}",
                MAX_BUILDS.start(),
                MAX_BUILDS.end()
            ),
        ))
    }
}

/// App rules.
#[derive(Clone)]
pub struct AppService {
    store: Store,
    /// How long files dropped by retention stay on the depot.
    grace: std::time::Duration,
    /// The apps' traces, which go with them.
    traces: TraceFiles,
}

impl AppService {
    /// Apps in `store`; files dropped by retention are removed after `grace`.
    pub fn new(store: Store, grace: std::time::Duration, traces: TraceFiles) -> Self {
        Self {
            store,
            grace,
            traces,
        }
    }

    /// Creates an app.
    pub async fn create(&self, caller: &Caller, new: NewApp) -> Result<AppView, DomainError> {
        check_name("name", &new.name)?;
        check_label("label", &new.label)?;
        if new.label.trim().is_empty() {
            return Err(DomainError::Missing {
                field: "label".into(),
            });
        }
        let max_builds = check_max_builds(new.max_builds.unwrap_or(5))?;
        let org = caller.org.clone();
        let now = Utc::now();
        let record = in_org(&self.store, caller)
            .write(move |tx| {
                let key = org_key(&org, &new.name);
                if tx.open(&APPS)?.get(key.as_str())?.is_some() {
                    return Err(DomainError::Exists {
                        what: format!("app {}", new.name),
                    });
                }
                let record = AppRecord {
                    deployments: check_deployments(tx, &org, &new.deployments)?,
                    org,
                    name: new.name,
                    label: new.label,
                    created: now,
                    updated: now,
                    max_builds,
                    auto_commit: new.auto_commit.unwrap_or(true),
                    builds: AppBuilds::default(),
                };
                tx.open(&APPS)?.put(key.as_str(), &record)?;
                Ok(record)
            })
            .await?;
        self.view(record).await
    }

    async fn view(&self, app: AppRecord) -> Result<AppView, DomainError> {
        let mut views = self.views(vec![app]).await?;
        views
            .pop()
            .ok_or_else(|| DomainError::Internal("an app view went missing".into()))
    }

    /// The views of several apps, their activity and deployments read in one snapshot.
    async fn views(&self, apps: Vec<AppRecord>) -> Result<Vec<AppView>, DomainError> {
        let snapshot = apps.clone();
        let activities = self
            .store
            .read(move |tx| {
                snapshot
                    .iter()
                    .map(|app| {
                        let targets: Vec<String> = deploy::targets(tx, app)?
                            .into_iter()
                            .map(|d| d.name)
                            .collect();
                        Ok::<_, DomainError>((activity(tx, &app.org, &app.name)?, targets))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        Ok(apps
            .into_iter()
            .zip(activities)
            .map(|(app, ((processing, exporting), targets))| {
                let failure = app.builds.failures.first();
                let state = if failure.is_some() {
                    "error"
                } else if exporting {
                    "exporting"
                } else if processing {
                    "processing"
                } else {
                    "idle"
                };
                let builds = &app.builds;
                let current = builds.current();
                let mut patches = serde_json::Map::new();
                for patch in &builds.patches {
                    patches.insert(patch.key(), json!(patch.files));
                }
                AppView {
                    dxf_name: current.map(|b| b.dxf_name.clone()).unwrap_or_default(),
                    i_cur_build: builds.current,
                    files: json!({
                        "dxf": current.map(|b| b.files.clone()).unwrap_or_default(),
                        "patches": patches,
                    }),
                    builds: builds.retained.iter().map(build_summary).collect(),
                    staged: builds.staged.as_ref().map(|s| build_summary(&s.build)),
                    name: app.name,
                    label: app.label,
                    max_builds: app.max_builds,
                    processing,
                    exporting,
                    deployed: builds.deployed_to(&targets),
                    deployments: app.deployments,
                    state,
                    error: failure.map(|f| {
                        json!({ "taskName": f.task, "type": "deploy", "exception": f.exception })
                    }),
                    size_bytes: builds.retained_bytes(),
                    auto_commit: app.auto_commit,
                    created: app.created,
                    updated: app.updated,
                }
            })
            .collect())
    }

    async fn load(&self, org: &str, name: &str) -> Result<AppRecord, DomainError> {
        super::find_in_org(&self.store, &APPS, org, name, "app", check_name).await
    }

    /// One app.
    pub async fn get(&self, caller: &Caller, name: &str) -> Result<AppView, DomainError> {
        let app = self.load(&caller.org, name).await?;
        self.view(app).await
    }

    /// A page of the org's apps.
    pub async fn list(
        &self,
        caller: &Caller,
        filter: AppFilter,
        params: ListParams,
    ) -> Result<Page<AppView>, DomainError> {
        let prefix = org_prefix(&caller.org);
        let apps = self
            .store
            .read(move |tx| Ok::<_, DomainError>(tx.open(&APPS)?.with_prefix(&prefix)?))
            .await?;
        let named: Vec<AppRecord> = apps
            .into_iter()
            .map(|(_, app)| app)
            .filter(|app| {
                filter.name.as_ref().is_none_or(|n| {
                    app.name
                        .to_ascii_lowercase()
                        .contains(&n.to_ascii_lowercase())
                })
            })
            .collect();
        let mut views = self.views(named).await?;
        views.retain(|v| filter.state.as_ref().is_none_or(|s| v.state == s));
        params.apply_named(views)
    }

    /// Changes label, deployments, retention, publishing mode.
    pub async fn patch(&self, caller: &Caller, patch: AppPatch) -> Result<AppView, DomainError> {
        if let Some(label) = &patch.label {
            check_label("label", label)?;
        }
        let max_builds = patch.max_builds.map(check_max_builds).transpose()?;
        let org = caller.org.clone();
        let grace = self.grace;
        let record = in_org(&self.store, caller)
            .write(move |tx| {
                let key = org_key(&org, &patch.name);
                let mut app = tx
                    .open(&APPS)?
                    .named(Some(&org), &patch.name)?
                    .ok_or_else(|| DomainError::not_found(format!("app {}", patch.name)))?;
                let mut switch = None;
                if let Some(target) = patch.i_cur_build.filter(|b| *b != app.builds.current) {
                    let build = app
                        .builds
                        .retained
                        .iter()
                        .find(|b| b.id == target)
                        .ok_or_else(|| {
                            DomainError::invalid(
                                "iCurBuild",
                                format!("build {target} is not retained by this app"),
                            )
                        })?;
                    check_idle(tx, &app, "switch its current build")?;
                    switch = Some(switching(&app.org, &app.name, &build.name, target));
                }
                if let Some(label) = patch.label {
                    app.label = label;
                }
                if let Some(list) = &patch.deployments {
                    app.deployments = check_deployments(tx, &org, list)?;
                }
                for name in check_deployments(tx, &org, &patch.register)? {
                    if !app.deployments.contains(&name) {
                        app.deployments.push(name);
                    }
                }
                for name in &patch.deregister {
                    let before = app.deployments.len();
                    app.deployments.retain(|d| d != name);
                    if app.deployments.len() == before {
                        return Err(DomainError::invalid(
                            "deregister",
                            format!("{name} is not registered"),
                        ));
                    }
                }
                let targets = deploy::targets(tx, &app)?;
                app.builds.keep_deployments(|name| {
                    targets.iter().any(|t| t.name.eq_ignore_ascii_case(name))
                });
                if let Some(max) = max_builds {
                    check_idle(tx, &app, "change maxBuilds")?;
                    app.max_builds = max;
                    let dropped = app.builds.beyond(max as usize, app.builds.current);
                    if !dropped.is_empty() {
                        app.builds.drop_builds(&dropped);
                        let stale = dropped
                            .iter()
                            .flat_map(|id| build_files(&app.org, &app.name, *id))
                            .collect();
                        let now = Utc::now();
                        let due = now + chrono::Duration::from_std(grace).unwrap_or_default();
                        let origins = targets.iter().map(|d| d.name.clone()).collect();
                        let task = cleanup::stale_task(&app.org, &app.name, stale, origins, due);
                        jobs::submit(tx, task, now)?;
                    }
                }
                if let Some(auto) = patch.auto_commit {
                    app.auto_commit = auto;
                }
                app.updated = Utc::now();
                tx.open(&APPS)?.put(key.as_str(), &app)?;
                if let Some(task) = switch {
                    jobs::submit(tx, task, app.updated)?;
                }
                Ok(app)
            })
            .await?;
        self.view(record).await
    }

    /// Removes the app; a `cleanup` task, submitted in the same transaction, removes its files
    /// from the depot and its origins.
    pub async fn delete(&self, caller: &Caller, name: &str) -> Result<String, DomainError> {
        check_name("app", name)?;
        let (org, wanted) = (caller.org.clone(), name.to_string());
        let task = in_org(&self.store, caller)
            .write(move |tx| {
                let org = &org;
                let key = org_key(org, &wanted);
                let app = tx
                    .open(&APPS)?
                    .get(key.as_str())?
                    .filter(|app| app.name == wanted)
                    .ok_or_else(|| DomainError::not_found(format!("app {wanted}")))?;
                check_idle(tx, &app, "delete it")?;
                let targets: Vec<String> = if app.deployments.is_empty() {
                    tx.open(&DEPLOYMENTS)?
                        .with_prefix(&org_prefix(org))?
                        .into_iter()
                        .map(|(_, d)| d.name)
                        .collect()
                } else {
                    app.deployments.clone()
                };
                tx.open(&APPS)?.remove(key.as_str())?;
                tx.open(&TRAININGS)?.remove(key.as_str())?;
                let traced = forget_traces(tx, &app.org, &app.name, |_| false)?;
                let task = jobs::submit(
                    tx,
                    cleanup::app_task(
                        &app.org,
                        &app.name,
                        app_pipeline(&app.org, &app.name),
                        layout::app_prefixes(&app.org, &app.name),
                        targets,
                    ),
                    Utc::now(),
                )?;
                Ok::<_, DomainError>((task.name, traced))
            })
            .await?;
        crash_point("app.delete.committed");
        let (task, traced) = task;
        self.traces.forget(traced).await;
        Ok(task)
    }
}
