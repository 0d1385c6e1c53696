//! `mkraw`: turns a received tar into the app's next build. The image is built in scratch
//! space and moved into the depot; then the patch from every build that stays retained; then
//! one transaction makes it current (or staged) and rotates. Each step is checkpointed, so a
//! run interrupted by a crash or a restart continues after its last finished step, and a run
//! whose build was already committed only reports it.

use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::commit::{self, Made};
use super::exceptions::of_engine;
use super::{Builds, describe, run_engine};
use crate::crashpoints::crash_point;
use crate::engine::image::{
    self, APP_JSON, BuildMetadata, DXF_FILE, IMG_JSON, INDEX_FILE, ImageMeta,
};
use crate::engine::patch::{self, BULK_FILE, DATA_FILE, MAP_FILE, PATCH_JSON};
use crate::engine::tar;
use crate::jobs::{TaskContext, TaskError, TaskOutput};
use crate::metrics::{self, Counter};
use crate::publish::layout::{self, IMAGE_INSTALL, PATCH_INSTALL};
use crate::publish::origin::Origin;
use crate::store::{AppRecord, BuildRecord, FileEntry, MkrawParams, PatchRecord};

/// An image's files in the order `files.dxf` lists them (seed 002).
const IMAGE_FILES: [&str; 4] = [APP_JSON, IMG_JSON, INDEX_FILE, DXF_FILE];
/// A patch's files in the order `files.patches` lists them (seed 002).
const PATCH_FILES: [&str; 6] = [
    APP_JSON, IMG_JSON, MAP_FILE, BULK_FILE, PATCH_JSON, DATA_FILE,
];

/// Share of the progress the image takes; the patches share the rest.
const IMAGE_SHARE: f64 = 40.0;

/// What a run got done, saved after every step.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checkpoint {
    build_id: u32,
    created: DateTime<Utc>,
    image: Option<BuildRecord>,
    patches: Vec<PatchRecord>,
}

impl Builds {
    /// Runs one `mkraw` task.
    pub async fn process(
        &self,
        params: MkrawParams,
        ctx: TaskContext,
    ) -> Result<TaskOutput, TaskError> {
        let outcome = match params.switch_to {
            Some(target) => self.switch(&params, target, &ctx).await,
            None => self.make(&params, &ctx).await,
        };
        if !matches!(outcome, Err(TaskError::Interrupted)) {
            if params.switch_to.is_none() {
                if let Err(TaskError::Failed(_)) = &outcome {
                    self.forget_uncommitted(&params, &ctx).await;
                }
                let _ = self.incoming.discard(&params.input).await;
            }
            self.drop_scratch(ctx.name()).await;
        }
        let result = outcome?;
        let output = TaskOutput::from(result.clone());
        if result["staged"] == false {
            return self.then_deploy(output, &params.org, &params.app).await;
        }
        Ok(output)
    }

    async fn make(
        &self,
        params: &MkrawParams,
        ctx: &TaskContext,
    ) -> Result<serde_json::Value, TaskError> {
        let app = self.app(&params.org, &params.app).await?;
        if let Some(build) = app.builds.made_by(ctx.name()) {
            return Ok(commit::result(build, &app, &[]));
        }
        let mut state = match ctx.checkpoint().cloned().map(serde_json::from_value) {
            Some(Ok(state)) => state,
            _ => Checkpoint {
                build_id: app.builds.last_id + 1,
                created: Utc::now(),
                image: None,
                patches: Vec::new(),
            },
        };
        let image = match state.image.clone() {
            Some(image) => image,
            None => {
                let image = self.image(params, &app, &state, ctx).await?;
                state.image = Some(image.clone());
                ctx.save(json!(state), IMAGE_SHARE).await?;
                crash_point("mkraw.image_published");
                image
            }
        };
        let sources = commit::patch_sources(&app);
        self.patches_to(params, &sources, &image, &mut state, IMAGE_SHARE, ctx)
            .await?;
        let made = Made {
            task: ctx.name().to_string(),
            build: image,
            patches: state.patches,
        };
        let (result, forgotten) = commit::commit(&self.store, params, made, self.settings.grace)
            .await
            .map_err(|e| TaskError::internal(format!("cannot record the build: {e}")))?;
        self.traces.forget(forgotten).await;
        Ok(result)
    }

    /// Makes the patch from each of `sources` to `image` that `state` lacks, saving `state`
    /// after each; progress runs from `start` to 100.
    async fn patches_to(
        &self,
        params: &MkrawParams,
        sources: &[BuildRecord],
        image: &BuildRecord,
        state: &mut Checkpoint,
        start: f64,
        ctx: &TaskContext,
    ) -> Result<(), TaskError> {
        for (done, from) in sources.iter().enumerate() {
            if state.patches.iter().any(|p| p.from == from.id) {
                continue;
            }
            let share = (100.0 - start) / sources.len() as f64;
            let span = (
                start + share * done as f64,
                start + share * (done + 1) as f64,
            );
            let made = self.patch(params, from, image, span, ctx).await?;
            state.patches.push(made);
            ctx.save(json!(state), span.1).await?;
            crash_point("mkraw.patch_published");
        }
        Ok(())
    }

    /// Makes the retained build `target` current: the patches from every other retained
    /// build to it, then the switch.
    async fn switch(
        &self,
        params: &MkrawParams,
        target: u32,
        ctx: &TaskContext,
    ) -> Result<serde_json::Value, TaskError> {
        let app = self.app(&params.org, &params.app).await?;
        let Some(image) = app.builds.retained.iter().find(|b| b.id == target).cloned() else {
            return Err(TaskError::internal(format!(
                "build {target} is no longer retained; it cannot become current"
            )));
        };
        if app.builds.current == target {
            return Ok(commit::result(&image, &app, &[]));
        }
        let mut state = match ctx.checkpoint().cloned().map(serde_json::from_value) {
            Some(Ok(state)) => state,
            _ => Checkpoint {
                build_id: target,
                created: image.created,
                image: Some(image.clone()),
                patches: Vec::new(),
            },
        };
        let sources: Vec<BuildRecord> = app
            .builds
            .retained
            .iter()
            .filter(|b| b.id != target)
            .cloned()
            .collect();
        self.patches_to(params, &sources, &image, &mut state, 0.0, ctx)
            .await?;
        commit::switch(
            &self.store,
            params,
            target,
            state.patches,
            self.settings.grace,
        )
        .await
        .map_err(|e| TaskError::internal(format!("cannot switch builds: {e}")))
    }

    /// Builds the image from the tar (decompressing it first when compressed) and moves it
    /// into the depot.
    async fn image(
        &self,
        params: &MkrawParams,
        app: &AppRecord,
        state: &Checkpoint,
        ctx: &TaskContext,
    ) -> Result<BuildRecord, TaskError> {
        let input = self.incoming.path(&params.input);
        if !input.exists() {
            return Err(TaskError::internal(
                "the build's tar is gone (the import failed or was processed before); import it again",
            ));
        }
        let scratch = self.scratch_dir(ctx.name(), "image").await?;
        let plain = scratch.join("build.tar");
        let (from, to) = (input.clone(), plain.clone());
        let decompressed = run_engine(ctx, "decompress", (0.0, 5.0), move |progress| {
            tar::decompress(&from, &to, progress)
        })
        .await?
        .map_err(|e| of_engine(e, &params.build_name))?;
        let tar = match decompressed {
            Some(kind) => {
                ctx.warn(
                    "compressedTar",
                    &format!("the build was a {kind}-compressed tar; it was decompressed first"),
                )
                .await?;
                plain
            }
            None => input,
        };
        let metadata = BuildMetadata {
            org_name: params.org.clone(),
            app_name: params.app.clone(),
            label: app.label.clone(),
            build_id: u64::from(state.build_id),
            build_name: params.build_name.clone(),
            dxf_name: None,
            created: state.created.to_rfc3339_opts(SecondsFormat::Secs, true),
        };
        let tar_bytes = tokio::fs::metadata(&tar).await.map_or(0, |m| m.len());
        let out = scratch.join("img");
        let built_in = out.clone();
        let report = run_engine(ctx, "image", (5.0, IMAGE_SHARE), move |progress| {
            image::build_image(&tar, &built_in, &metadata, None, progress)
        })
        .await?
        .map_err(|e| of_engine(e, &params.build_name))?;
        metrics::add(Counter::BytesProcessed, tar_bytes);
        for warning in &report.warnings {
            ctx.warn(
                "entrySkipped",
                &format!("{}: {}", warning.filename, warning.reason),
            )
            .await?;
        }
        let app_names = (params.org.as_str(), params.app.as_str());
        let files = self
            .install_image(app_names, state.build_id, out, &report.image)
            .await?;
        Ok(BuildRecord {
            id: state.build_id,
            name: params.build_name.clone(),
            dxf_name: report.image.dxf_name,
            created: state.created,
            files,
            task: ctx.name().to_string(),
            preload_bytes: Some(report.image.preload_bytes),
        })
    }

    /// Moves an image made in `out` into the depot as image `image` of build `build_id` of
    /// `app` (org, name); returns its files as the app lists them.
    pub(super) async fn install_image(
        &self,
        (org, app): (&str, &str),
        build_id: u32,
        out: PathBuf,
        image: &ImageMeta,
    ) -> Result<Vec<FileEntry>, TaskError> {
        let known = (DXF_FILE, image.dxf_md5.clone());
        let files = describe_blocking(out.clone(), &IMAGE_FILES, known).await?;
        let path = layout::image_dir(org, app, build_id, &image.dxf_name);
        self.depot
            .install(&out, &path, &IMAGE_INSTALL)
            .await
            .map_err(|e| TaskError::internal(e.to_string()))?;
        Ok(files)
    }

    /// Makes the patch from a retained build to the new one and moves it into the depot.
    async fn patch(
        &self,
        params: &MkrawParams,
        from: &BuildRecord,
        to: &BuildRecord,
        span: (f64, f64),
        ctx: &TaskContext,
    ) -> Result<PatchRecord, TaskError> {
        let app = (params.org.as_str(), params.app.as_str());
        let (record, dir) = self.make_patch(app, from, to, span, ctx).await?;
        self.install_patch(app, &record, &dir).await?;
        Ok(record)
    }

    /// Makes the patch from the retained build `from` to `to` of `app` (org, name) in scratch
    /// space; returns its record and directory.
    pub(super) async fn make_patch(
        &self,
        (org, app): (&str, &str),
        from: &BuildRecord,
        to: &BuildRecord,
        span: (f64, f64),
        ctx: &TaskContext,
    ) -> Result<(PatchRecord, PathBuf), TaskError> {
        let local = |build: &BuildRecord| {
            self.depot
                .path_of(&layout::image_dir(org, app, build.id, &build.dxf_name))
                .map_err(|e| TaskError::internal(e.to_string()))
        };
        let (old, new) = (local(from)?, local(to)?);
        let out = self
            .scratch_dir(ctx.name(), &format!("patch-{:04}", from.id))
            .await?;
        let record = PatchRecord {
            from: from.id,
            to: to.id,
            files: Vec::new(),
        };
        let budget = self.settings.patch_budget;
        let made_in = out.clone();
        let phase = format!("patch {}", record.key());
        let (meta, _) = run_engine(ctx, &phase, span, move |progress| {
            patch::make_patch_with_bulk(&old, &new, &made_in, budget, progress)
        })
        .await?
        .map_err(|e| of_engine(e, &to.name))?;
        let known = (DATA_FILE, meta.data_md5.clone());
        let files = describe_blocking(out.clone(), &PATCH_FILES, known).await?;
        Ok((PatchRecord { files, ..record }, out))
    }

    /// Moves a patch made in `dir` into the depot.
    pub(super) async fn install_patch(
        &self,
        (org, app): (&str, &str),
        record: &PatchRecord,
        dir: &std::path::Path,
    ) -> Result<(), TaskError> {
        let path = layout::patch_dir(org, app, record.to, record.from);
        self.depot
            .install(dir, &path, &PATCH_INSTALL)
            .await
            .map_err(|e| TaskError::internal(e.to_string()))
    }

    /// After a failure, removes what the run put into the depot for its build id: nothing
    /// refers to it, and the next build gets the same id.
    async fn forget_uncommitted(&self, params: &MkrawParams, ctx: &TaskContext) {
        let Ok(app) = self.app(&params.org, &params.app).await else {
            return;
        };
        if app.builds.made_by(ctx.name()).is_some() {
            return;
        }
        let id = app.builds.last_id + 1;
        for prefix in [
            layout::build_images(&params.org, &params.app, id),
            layout::patches_to(&params.org, &params.app, id),
        ] {
            if let Err(e) = self.depot.remove_prefix(&prefix).await {
                tracing::error!(error = %e, %prefix, "cannot remove a failed build's files");
            }
        }
    }
}

/// [`describe`] on the blocking pool; `known` is the one file whose MD5 the engine reported.
async fn describe_blocking(
    dir: PathBuf,
    names: &'static [&'static str],
    known: (&'static str, String),
) -> Result<Vec<FileEntry>, TaskError> {
    tokio::task::spawn_blocking(move || describe(&dir, names, &[(known.0, known.1.as_str())]))
        .await
        .map_err(|e| TaskError::internal(e.to_string()))?
        .map_err(|e| TaskError::internal(format!("cannot read the files made: {e}")))
}
