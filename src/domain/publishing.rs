//! What goes live where: re-publishing an app's current build to its deployments (export).
//! Every deploy is a task in the app's pipeline, so it follows the build work queued before it.

use chrono::Utc;
use serde::Deserialize;

use super::caller::Caller;
use super::names::{check_deployment_name, check_name};
use super::{DomainError, in_org};
use crate::jobs;
use crate::pipeline::deploy::{deploy_task, targets};
use crate::store::{APPS, AppRecord, WriteTx};

/// A `POST /be/v1/export` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportRequest {
    pub app_name: String,
    /// Only these deployments (the app must publish to each); all of the app's when absent.
    pub deployments: Option<Vec<String>>,
}

/// Publishing rules.
#[derive(Clone)]
pub struct PublishingService {
    store: crate::store::Store,
}

/// The app of the caller's org named `name`, as stored.
fn app_in(tx: &WriteTx, org: &str, name: &str) -> Result<AppRecord, DomainError> {
    tx.open(&APPS)?
        .named(Some(org), name)?
        .ok_or_else(|| DomainError::not_found(format!("app {name}")))
}

impl PublishingService {
    /// Publishing over `store`.
    pub fn new(store: crate::store::Store) -> Self {
        Self { store }
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
