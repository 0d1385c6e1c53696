//! What goes live where: the commit (set-live) of a staged build and re-publishing an app's
//! current build to its deployments (export). Every deploy is a task in the app's pipeline,
//! so it follows the build work queued before it.

use std::time::Duration;

use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::apps::check_idle;
use super::caller::Caller;
use super::names::{DEPLOYMENT_NAME_RULE, NAME_RULE, check_deployment_name, check_name};
use super::{DomainError, in_org};
use crate::jobs;
use crate::pipeline::builds::{go_live, retire};
use crate::pipeline::deploy::{deploy_task, deploy_tasks, targets};
use crate::store::{APPS, AppRecord, ORGS, StoreError, WriteTx, org_key, org_prefix};

/// A `POST /be/v1/export` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportRequest {
    #[schemars(pattern(NAME_RULE.pattern()))]
    pub app_name: String,
    /// Only these deployments (the app must publish to each); all of the app's when absent.
    #[schemars(inner(pattern(DEPLOYMENT_NAME_RULE.pattern())))]
    pub deployments: Option<Vec<String>>,
}

/// A `POST /be/v1/commit` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommitRequest {
    #[schemars(pattern(NAME_RULE.pattern()))]
    pub app_name: String,
}

/// A `POST /adm/v1/commit` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrgCommitRequest {
    #[schemars(pattern(NAME_RULE.pattern()))]
    pub org_name: String,
    #[schemars(pattern(NAME_RULE.pattern()))]
    pub app_name: Option<String>,
}

/// A build made current by a commit.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Committed {
    pub app_name: String,
    pub build_id: u32,
    pub dxf_name: String,
    /// The deploy tasks that publish it.
    pub task_names: Vec<String>,
}

/// Publishing rules.
#[derive(Clone)]
pub struct PublishingService {
    store: crate::store::Store,
    /// How long files that stop being current stay.
    grace: Duration,
}

/// Makes the app's staged build current and queues its deploys.
fn commit_staged(
    tx: &WriteTx,
    mut app: AppRecord,
    grace: Duration,
) -> Result<Committed, DomainError> {
    let Some(staged) = app.builds.staged.take() else {
        return Err(DomainError::invalid(
            "appName",
            format!("app {} has no staged build to commit", app.name),
        ));
    };
    check_idle(tx, &app, "commit its staged build")?;
    let build = staged.build.clone();
    let live = go_live(&mut app, staged.build, staged.patches);
    let now = Utc::now();
    app.updated = now;
    tx.open(&APPS)?
        .put(org_key(&app.org, &app.name).as_str(), &app)?;
    retire(tx, &app, live.stale, grace, now)?;
    let task_names = deploy_tasks(tx, &app)?
        .into_iter()
        .map(|task| Ok(jobs::submit(tx, task, now)?.name))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Committed {
        app_name: app.name,
        build_id: build.id,
        dxf_name: build.dxf_name,
        task_names,
    })
}

/// The app of the caller's org named `name`, as stored.
fn app_in(tx: &WriteTx, org: &str, name: &str) -> Result<AppRecord, DomainError> {
    tx.open(&APPS)?
        .named(Some(org), name)?
        .ok_or_else(|| DomainError::not_found(format!("app {name}")))
}

impl PublishingService {
    /// Publishing over `store`; files that stop being current stay for `grace`.
    pub fn new(store: crate::store::Store, grace: Duration) -> Self {
        Self { store, grace }
    }

    /// Makes the staged build of an app of the caller's org current and publishes it.
    pub async fn commit(
        &self,
        caller: &Caller,
        request: CommitRequest,
    ) -> Result<Committed, DomainError> {
        check_name("appName", &request.app_name)?;
        let (org, grace) = (caller.org.clone(), self.grace);
        in_org(&self.store, caller)
            .write(move |tx| commit_staged(tx, app_in(tx, &org, &request.app_name)?, grace))
            .await
    }

    /// The instance administrator's commit: every staged build of an org, or of one app of
    /// it; all or none.
    pub async fn commit_org(
        &self,
        request: OrgCommitRequest,
    ) -> Result<Vec<Committed>, DomainError> {
        check_name("orgName", &request.org_name)?;
        if let Some(app) = &request.app_name {
            check_name("appName", app)?;
        }
        let grace = self.grace;
        self.store
            .write(move |tx| {
                let org = tx
                    .open(&ORGS)?
                    .named(None, &request.org_name)?
                    .ok_or_else(|| DomainError::not_found(format!("org {}", request.org_name)))?;
                let apps = match &request.app_name {
                    Some(name) => vec![app_in(tx, &org.name, name)?],
                    None => tx
                        .open(&APPS)?
                        .with_prefix(&org_prefix(&org.name))?
                        .into_iter()
                        .map(|(_, app)| app)
                        .filter(|app| app.builds.staged.is_some())
                        .collect(),
                };
                apps.into_iter()
                    .map(|app| commit_staged(tx, app, grace))
                    .collect()
            })
            .await
    }

    /// Queues a deploy of the app's current build to each of its deployments (or the named
    /// ones); the deploy tasks' names.
    pub async fn export(
        &self,
        caller: &Caller,
        request: ExportRequest,
    ) -> Result<Vec<String>, DomainError> {
        check_name("appName", &request.app_name)?;
        for name in request.deployments.iter().flatten() {
            check_deployment_name("deployments", name)?;
        }
        let org = caller.org.clone();
        in_org(&self.store, caller)
            .write(move |tx| {
                let app = app_in(tx, &org, &request.app_name)?;
                if app.builds.current().is_none() {
                    return Err(DomainError::invalid(
                        "appName",
                        format!("app {} has no build to export yet; import one first", app.name),
                    ));
                }
                let mut chosen = targets(tx, &app)?;
                if let Some(wanted) = &request.deployments {
                    for name in wanted {
                        if !chosen.iter().any(|d| d.name.eq_ignore_ascii_case(name)) {
                            return Err(DomainError::invalid(
                                "deployments",
                                format!(
                                    "app {} does not publish to a deployment {name}; register it first",
                                    app.name
                                ),
                            ));
                        }
                    }
                    chosen.retain(|d| wanted.iter().any(|w| w.eq_ignore_ascii_case(&d.name)));
                }
                if chosen.is_empty() {
                    return Err(DomainError::invalid(
                        "appName",
                        format!(
                            "app {} publishes to no deployment; create one with POST /be/v1/deployments",
                            app.name
                        ),
                    ));
                }
                let now = Utc::now();
                chosen
                    .iter()
                    .map(|deployment| {
                        Ok(jobs::submit(tx, deploy_task(&app, deployment), now)?.name)
                    })
                    .collect()
            })
            .await
    }
}
