//! `mkseq`: training. The traces of the app's current image become an access order; when the
//! image in that order has a smaller preload than the current one, it is made from the
//! current image's own blocks (no tar, no download), the patches from every other retained
//! build to it are made, and one transaction makes it current under the same build id. The
//! old image stays for the grace period, so launchers holding it finish; deploys publish the
//! new one. Every run ends with an outcome — published, or why not — on the task and on the
//! app's training.

use std::path::PathBuf;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::commit::retire;
use super::exceptions::of_engine;
use super::{Builds, run_engine};
use crate::crashpoints::crash_point;
use crate::engine::image::{self, IMG_JSON, ImageMeta, ReorderPlan};
use crate::engine::trace::{self, Trace};
use crate::jobs::{TaskContext, TaskError, TaskOutput};
use crate::publish::layout;
use crate::store::{
    APPS, AppRecord, BuildRecord, MkseqParams, PatchRecord, TRACES, TRAININGS, TraceRecord,
    WriteTx, image_traces_prefix, org_key,
};

/// Share of the progress the learning and the image take; the patches share the rest.
const IMAGE_SHARE: f64 = 40.0;

/// What a run decided, and the image it made: saved once the image is in the depot, so a
/// resumed run goes on with the patches.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checkpoint {
    outcome: Value,
    image: BuildRecord,
}

/// A run that ends without a new image: why, in a word and in a sentence.
struct NotPublished {
    reason: &'static str,
    message: String,
    candidate_preload: Option<u64>,
}

impl NotPublished {
    fn new(reason: &'static str, message: String) -> Self {
        Self {
            reason,
            message,
            candidate_preload: None,
        }
    }
}

/// What learning found when the new image is worth making.
struct Learned {
    plan: ReorderPlan,
    outcome: Value,
}

impl Builds {
    /// Runs one `mkseq` task.
    pub async fn train(
        &self,
        params: MkseqParams,
        ctx: TaskContext,
    ) -> Result<TaskOutput, TaskError> {
        let outcome = self.retrain(&params, &ctx).await;
        if !matches!(outcome, Err(TaskError::Interrupted)) {
            self.drop_scratch(ctx.name()).await;
        }
        let (result, published) = outcome?;
        let output = TaskOutput::from(result);
        if published {
            return self.then_deploy(output, &params.org, &params.app).await;
        }
        Ok(output)
    }

    /// Learns, and publishes when it pays; returns the outcome and whether it published.
    async fn retrain(
        &self,
        params: &MkseqParams,
        ctx: &TaskContext,
    ) -> Result<(Value, bool), TaskError> {
        let app = self.app(&params.org, &params.app).await?;
        if let Some(image) = app.builds.made_by(ctx.name()) {
            let outcome =
                json!({ "published": true, "buildId": image.id, "dxfName": image.dxf_name });
            return Ok((outcome, true));
        }
        let saved = ctx
            .checkpoint()
            .cloned()
            .and_then(|c| serde_json::from_value::<Checkpoint>(c).ok());
        let Checkpoint { outcome, image } = match saved {
            Some(saved) => saved,
            None => match self.learn(params, &app, ctx).await? {
                Ok(learned) => {
                    let used = learned.outcome["tracesUsed"].as_u64().unwrap_or(0);
                    let image = self
                        .reorder(params, &app, (learned.plan, used), ctx)
                        .await?;
                    let mut outcome = learned.outcome;
                    outcome["dxfName"] = json!(image.dxf_name);
                    let state = Checkpoint { outcome, image };
                    ctx.save(json!(state), IMAGE_SHARE).await?;
                    crash_point("mkseq.image_published");
                    state
                }
                Err(not) => {
                    let outcome = self.not_published(params, ctx.name(), not).await?;
                    return Ok((outcome, false));
                }
            },
        };
        let patches = self.patches_to_trained(params, &app, &image, ctx).await?;
        let outcome = self.publish(params, ctx, image, patches, outcome).await?;
        Ok((outcome, true))
    }

    /// Reads the image's traces and learns an order; says why not when its image would not
    /// be better than the current one.
    async fn learn(
        &self,
        params: &MkseqParams,
        app: &AppRecord,
        ctx: &TaskContext,
    ) -> Result<Result<Learned, NotPublished>, TaskError> {
        let current = app.builds.current();
        if current.is_none_or(|b| b.id != params.build || b.dxf_name != params.dxf_name) {
            let message = format!(
                "image {} of build {} is no longer the app's current image; its traces train nothing now",
                params.dxf_name, params.build
            );
            return Ok(Err(NotPublished::new("imageReplaced", message)));
        }
        if app.builds.staged.is_some() {
            let message = "a staged build waits for its commit (its patch from this image would no longer apply); train after the commit".to_string();
            return Ok(Err(NotPublished::new("buildStaged", message)));
        }
        let traces = self.load_traces(params).await?;
        if traces.is_empty() {
            let message = format!("image {} has no traces yet", params.dxf_name);
            return Ok(Err(NotPublished::new("noTraces", message)));
        }
        let dir = self.image_path(params, &params.dxf_name)?;
        let settings = self.settings.training;
        let learned = run_engine(ctx, "learn", (0.0, 5.0), move |_| {
            let meta: ImageMeta = image::read_json(&dir, IMG_JSON)?;
            let mut entries = Vec::new();
            let (header, _) = image::read_index(&dir, &meta, |entry| {
                entries.push(entry);
                Ok(())
            })?;
            let learned = trace::learn(&traces, &entries, &settings);
            let preload = meta.preload_bytes;
            let plan = ReorderPlan::with_index(&dir, (meta, header, entries), &learned.order)?;
            Ok((preload, learned, plan, traces.len()))
        })
        .await?
        .map_err(|e| of_engine(e, &params.dxf_name))?;
        let (current_preload, learned, plan, received) = learned;
        let candidate = plan.preload_bytes();
        let outcome = json!({
            "published": true,
            "reason": null,
            "message": format!(
                "a new image of build {} with a preload of {candidate} bytes instead of {current_preload}",
                params.build
            ),
            "buildId": params.build,
            "previousDxfName": params.dxf_name,
            "preloadBytes": candidate,
            "previousPreloadBytes": current_preload,
            "tracesUsed": learned.used.len(),
            "outliers": learned.outliers.len(),
            "tracesRead": received,
        });
        let refuse = |reason, message: String| {
            Ok(Err(NotPublished {
                reason,
                message,
                candidate_preload: Some(candidate),
            }))
        };
        if learned.launched == 0 {
            let message = format!(
                "none of the {} traces used says when the game launched (launchMs): there is no preload to learn",
                learned.used.len()
            );
            return refuse("noLaunch", message);
        }
        if plan.is_identity() {
            let message = format!(
                "the traces read the image in its own order: image {} is already ordered as they learn",
                params.dxf_name
            );
            return refuse("sameOrder", message);
        }
        if candidate >= current_preload {
            let message = format!(
                "the learned order's preload of {candidate} bytes is not smaller than the current {current_preload} bytes"
            );
            return refuse("preloadNotSmaller", message);
        }
        Ok(Ok(Learned { plan, outcome }))
    }

    /// The image's most recent traces (up to the configured number), parsed.
    async fn load_traces(&self, params: &MkseqParams) -> Result<Vec<Trace>, TaskError> {
        let prefix = image_traces_prefix(&params.org, &params.app, &params.dxf_name);
        let listed = prefix.clone();
        let mut records: Vec<TraceRecord> = self
            .store
            .read(move |tx| tx.open(&TRACES)?.with_prefix(&listed))
            .await
            .map_err(|e| TaskError::internal(e.to_string()))?
            .into_iter()
            .map(|(_, record)| record)
            .collect();
        records.sort_by(|a, b| b.received.cmp(&a.received).then(a.digest.cmp(&b.digest)));
        records.truncate(self.settings.max_traces_used);
        let image = prefix.trim_end_matches('/');
        let mut traces = Vec::with_capacity(records.len());
        for record in records {
            let parsed = self
                .traces
                .load(image, &record.digest)
                .await
                .map_err(|e| e.to_string())
                .and_then(|bytes| Trace::parse(&bytes).map_err(|e| e.to_string()));
            match parsed {
                Ok(trace) => traces.push(trace),
                Err(e) => {
                    tracing::warn!(digest = %record.digest, error = %e, "a stored trace cannot be read; training goes on without it")
                }
            }
        }
        Ok(traces)
    }

    /// The depot directory of an image of the trained build.
    fn image_path(&self, params: &MkseqParams, dxf_name: &str) -> Result<PathBuf, TaskError> {
        let path = layout::image_dir(&params.org, &params.app, params.build, dxf_name);
        self.depot
            .path_of(&path)
            .map_err(|e| TaskError::internal(e.to_string()))
    }

    /// Writes the image of `plan` in scratch space and moves it into the depot under its new
    /// dxfName.
    async fn reorder(
        &self,
        params: &MkseqParams,
        app: &AppRecord,
        (plan, traces_used): (ReorderPlan, u64),
        ctx: &TaskContext,
    ) -> Result<BuildRecord, TaskError> {
        let current = app
            .builds
            .current()
            .cloned()
            .ok_or_else(|| TaskError::internal("the app lost its current build"))?;
        let scratch = self.scratch_dir(ctx.name(), "image").await?;
        let out = scratch.join("img");
        let built_in = out.clone();
        let report = run_engine(ctx, "image", (5.0, IMAGE_SHARE), move |progress| {
            plan.write(&built_in, None, traces_used, progress)
        })
        .await?
        .map_err(|e| of_engine(e, &current.name))?;
        let app_names = (params.org.as_str(), params.app.as_str());
        let files = self
            .install_image(app_names, params.build, out, &report.image)
            .await?;
        Ok(BuildRecord {
            dxf_name: report.image.dxf_name,
            files,
            task: ctx.name().to_string(),
            preload_bytes: Some(report.image.preload_bytes),
            ..current
        })
    }

    /// Makes the patch from every other retained build to the new image, in scratch space.
    async fn patches_to_trained(
        &self,
        params: &MkseqParams,
        app: &AppRecord,
        image: &BuildRecord,
        ctx: &TaskContext,
    ) -> Result<Vec<(PatchRecord, PathBuf)>, TaskError> {
        let sources: Vec<&BuildRecord> = app
            .builds
            .retained
            .iter()
            .filter(|b| b.id != image.id)
            .collect();
        let share = (100.0 - IMAGE_SHARE) / sources.len().max(1) as f64;
        let mut made = Vec::with_capacity(sources.len());
        for (done, from) in sources.into_iter().enumerate() {
            let start = IMAGE_SHARE + share * done as f64;
            let names = (params.org.as_str(), params.app.as_str());
            let span = (start, start + share);
            made.push(self.make_patch(names, from, image, span, ctx).await?);
        }
        Ok(made)
    }

    /// Installs the patches and makes the new image current, in one transaction with the
    /// outcome; returns the outcome.
    async fn publish(
        &self,
        params: &MkseqParams,
        ctx: &TaskContext,
        image: BuildRecord,
        patches: Vec<(PatchRecord, PathBuf)>,
        outcome: Value,
    ) -> Result<Value, TaskError> {
        let names = (params.org.as_str(), params.app.as_str());
        for (record, dir) in &patches {
            self.install_patch(names, record, dir).await?;
        }
        crash_point("mkseq.patches_installed");
        let records: Vec<PatchRecord> = patches.into_iter().map(|(r, _)| r).collect();
        let (key, grace) = (org_key(&params.org, &params.app), self.settings.grace);
        let (params, task) = (params.clone(), ctx.name().to_string());
        let forgotten = image_traces_prefix(&params.org, &params.app, &params.dxf_name);
        let traced = forgotten.trim_end_matches('/').to_string();
        let outcome = self
            .store
            .write(move |tx| {
                let mut app = tx.open(&APPS)?.get(key.as_str())?.ok_or_else(|| {
                    TaskError::internal("the app was deleted while it was trained")
                })?;
                let current = app.builds.current;
                let Some(slot) = app
                    .builds
                    .retained
                    .iter_mut()
                    .find(|b| b.id == current && b.dxf_name == params.dxf_name)
                else {
                    return Err(TaskError::internal(
                        "the trained image stopped being current while it was trained",
                    ));
                };
                *slot = image;
                app.builds.patches = records;
                let now = Utc::now();
                app.updated = now;
                tx.open(&APPS)?.put(key.as_str(), &app)?;
                let old = layout::image_dir(&app.org, &app.name, params.build, &params.dxf_name);
                retire(tx, &app, vec![old], grace, now)?;
                tx.open(&TRACES)?.remove_prefix(&forgotten)?;
                record_outcome(tx, &app, &task, &outcome, None)?;
                Ok(outcome)
            })
            .await?;
        self.traces.forget(vec![traced]).await;
        Ok(outcome)
    }

    /// Records a run that made no image on the app's training; returns its outcome.
    async fn not_published(
        &self,
        params: &MkseqParams,
        task: &str,
        not: NotPublished,
    ) -> Result<Value, TaskError> {
        let outcome = json!({
            "published": false,
            "reason": not.reason,
            "message": not.message,
            "buildId": params.build,
            "dxfName": params.dxf_name,
            "candidatePreloadBytes": not.candidate_preload,
        });
        let key = org_key(&params.org, &params.app);
        let (recorded, dxf_name, task) =
            (outcome.clone(), params.dxf_name.clone(), task.to_string());
        let candidate = not.candidate_preload.map(|c| (dxf_name, c));
        self.store
            .write(move |tx| {
                if let Some(app) = tx.open(&APPS)?.get(key.as_str())? {
                    record_outcome(tx, &app, &task, &recorded, candidate)?;
                }
                Ok::<_, TaskError>(())
            })
            .await?;
        Ok(outcome)
    }
}

/// Saves a run's outcome as the app's last training, and the candidate preload it computed
/// for an image; forgets the images no retained build has any more.
fn record_outcome(
    tx: &WriteTx,
    app: &AppRecord,
    task: &str,
    outcome: &Value,
    candidate: Option<(String, u64)>,
) -> Result<(), crate::store::StoreError> {
    let key = org_key(&app.org, &app.name);
    let mut training = tx.open(&TRAININGS)?.get(key.as_str())?.unwrap_or_default();
    let mut last = outcome.clone();
    last["ended"] = json!(Utc::now());
    last["taskName"] = json!(task);
    training.last = Some(last);
    if let Some((dxf_name, preload)) = candidate
        && let Some(image) = training.images.iter_mut().find(|i| i.dxf_name == dxf_name)
    {
        image.candidate_preload = Some(preload);
    }
    training.keep_images(|dxf| app.builds.retained.iter().any(|b| b.dxf_name == dxf));
    tx.open(&TRAININGS)?.put(key.as_str(), &training)
}
