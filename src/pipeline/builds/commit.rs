//! The transaction that makes a processed build the app's: current (and the oldest builds
//! beyond `maxBuilds` rotated out) or staged, the build id taken, the files that stopped being
//! current handed to a cleanup after the grace period. Exactly once: a run that finds its
//! build already recorded only reports it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::jobs;
use crate::pipeline::cleanup::stale_task;
use crate::pipeline::deploy::targets;
use crate::publish::layout;
use crate::store::{
    APPS, AppRecord, BuildRecord, MkrawParams, PatchRecord, StagedBuild, StoreError, WriteTx,
    forget_traces, org_key,
};

/// What a `mkraw` run made.
pub struct Made {
    pub task: String,
    pub build: BuildRecord,
    /// Patches from retained builds to it.
    pub patches: Vec<PatchRecord>,
}

/// Why a build could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Conflict(String),
}

/// The retained builds a new build gets patches from: all of them when it will be staged,
/// else those that stay once it arrives (retention drops the oldest beyond `maxBuilds`).
pub fn patch_sources(app: &AppRecord) -> Vec<BuildRecord> {
    let dropped = if app.auto_commit {
        app.builds
            .beyond(app.max_builds.saturating_sub(1) as usize, 0)
    } else {
        Vec::new()
    };
    app.builds
        .retained
        .iter()
        .filter(|b| !dropped.contains(&b.id))
        .cloned()
        .collect()
}

/// What a `mkraw` task reports as its result.
pub fn result(build: &BuildRecord, app: &AppRecord, rotated: &[u32]) -> Value {
    let patches: Vec<String> = if app.builds.current == build.id {
        app.builds.patches.iter().map(PatchRecord::key).collect()
    } else {
        app.builds
            .staged
            .iter()
            .flat_map(|s| s.patches.iter().map(PatchRecord::key))
            .collect()
    };
    json!({
        "buildId": build.id,
        "buildName": build.name,
        "dxfName": build.dxf_name,
        "sizeBytes": build.size_bytes(),
        "staged": app.builds.current != build.id,
        "patches": patches,
        "rotated": rotated,
    })
}

/// Records the build; returns the task's result, and the traced images (of rotated builds)
/// whose traces were forgotten, for their files to go too.
pub async fn commit(
    store: &crate::store::Store,
    params: &MkrawParams,
    made: Made,
    grace: Duration,
) -> Result<(Value, Vec<String>), CommitError> {
    let key = org_key(&params.org, &params.app);
    let (org, app_name) = (params.org.clone(), params.app.clone());
    store
        .write(move |tx| {
            let mut app = tx.open(&APPS)?.get(key.as_str())?.ok_or_else(|| {
                CommitError::Conflict("the app was deleted while its build was processed".into())
            })?;
            if let Some(build) = app.builds.made_by(&made.task) {
                return Ok((result(build, &app, &[]), Vec::new()));
            }
            let id = made.build.id;
            if app.builds.last_id + 1 != id {
                return Err(CommitError::Conflict(format!(
                    "build id {id} was taken by another build meanwhile"
                )));
            }
            app.builds.last_id = id;
            let mut stale = Vec::new();
            let mut rotated = Vec::new();
            if let Some(replaced) = app.builds.staged.take() {
                stale.extend(build_files(&org, &app_name, replaced.build.id));
            }
            if app.auto_commit {
                let live = go_live(&mut app, made.build.clone(), made.patches);
                stale.extend(live.stale);
                rotated = live.rotated;
            } else {
                app.builds.staged = Some(StagedBuild {
                    build: made.build.clone(),
                    patches: made.patches,
                });
            }
            let now = Utc::now();
            app.updated = now;
            tx.open(&APPS)?.put(key.as_str(), &app)?;
            retire(tx, &app, stale, grace, now)?;
            let forgotten = forget_traces(tx, &org, &app_name, |dxf| {
                app.builds.retained.iter().any(|b| b.dxf_name == dxf)
            })?;
            Ok((result(&made.build, &app, &rotated), forgotten))
        })
        .await
}

/// Makes the retained build `target` current with `patches` to it (a roll back or forward);
/// returns the task's result. A run that finds it current already only reports it.
pub async fn switch(
    store: &crate::store::Store,
    params: &MkrawParams,
    target: u32,
    patches: Vec<PatchRecord>,
    grace: Duration,
) -> Result<Value, CommitError> {
    let key = org_key(&params.org, &params.app);
    store
        .write(move |tx| {
            let mut app = tx.open(&APPS)?.get(key.as_str())?.ok_or_else(|| {
                CommitError::Conflict("the app was deleted while its builds were switched".into())
            })?;
            let build = app
                .builds
                .retained
                .iter()
                .find(|b| b.id == target)
                .cloned()
                .ok_or_else(|| {
                    CommitError::Conflict(format!("build {target} was rotated out meanwhile"))
                })?;
            if app.builds.current == target {
                return Ok(result(&build, &app, &[]));
            }
            let live = go_live(&mut app, build.clone(), patches);
            let now = Utc::now();
            app.updated = now;
            tx.open(&APPS)?.put(key.as_str(), &app)?;
            retire(tx, &app, live.stale, grace, now)?;
            Ok(result(&build, &app, &[]))
        })
        .await
}

/// What making a build current changed.
pub struct WentLive {
    /// Builds rotated out beyond `maxBuilds`.
    pub rotated: Vec<u32>,
    /// Layout prefixes no longer current, for [`retire`].
    pub stale: Vec<String>,
}

/// Makes `build` the app's current build with `patches` to it (those from builds that stay).
/// A build new to the app joins the retained ones and rotates the oldest beyond `maxBuilds`
/// out; a retained one (a roll back or forward) rotates nothing. The patches to the former
/// current build are no longer current.
pub fn go_live(app: &mut AppRecord, build: BuildRecord, patches: Vec<PatchRecord>) -> WentLive {
    let (org, name) = (app.org.clone(), app.name.clone());
    let new = !app.builds.retained.iter().any(|b| b.id == build.id);
    let rotated = if new {
        app.builds
            .beyond(app.max_builds.saturating_sub(1) as usize, 0)
    } else {
        Vec::new()
    };
    app.builds.drop_builds(&rotated);
    let mut stale: Vec<String> = rotated
        .iter()
        .flat_map(|old| build_files(&org, &name, *old))
        .collect();
    let former = app.builds.current;
    if former != 0 && former != build.id && !rotated.contains(&former) {
        stale.push(layout::patches_to(&org, &name, former));
    }
    let retained: Vec<u32> = app.builds.retained.iter().map(|b| b.id).collect();
    app.builds.patches = patches
        .into_iter()
        .filter(|p| p.from != build.id && retained.contains(&p.from))
        .collect();
    app.builds.current = build.id;
    if new {
        app.builds.retained.push(build);
    }
    WentLive { rotated, stale }
}

/// Submits the removal of `stale` prefixes from the depot and the app's origins once the
/// grace period is over.
pub fn retire(
    tx: &WriteTx,
    app: &AppRecord,
    stale: Vec<String>,
    grace: Duration,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if stale.is_empty() {
        return Ok(());
    }
    let due = now + chrono::Duration::from_std(grace).unwrap_or_default();
    let origins = targets(tx, app)?.into_iter().map(|d| d.name).collect();
    jobs::submit(
        tx,
        stale_task(&app.org, &app.name, stale, origins, due),
        now,
    )?;
    Ok(())
}

/// Every file of a build that leaves: its images and the patches to it.
pub fn build_files(org: &str, app: &str, id: u32) -> [String; 2] {
    [
        layout::build_images(org, app, id),
        layout::patches_to(org, app, id),
    ]
}
