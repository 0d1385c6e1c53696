//! Training: launchers send play-session traces of the images they played (`POST
//! /client/v1/traces`); once an app's current image has `nTracesReliable` of them (or on a
//! `traces` trigger) an `mkseq` task learns the access order from them. Here are the rules of
//! receiving a trace, the trainings view and its one setting.

mod view;

use chrono::Utc;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::caller::Caller;
use super::keys::opened_by;
use super::listing::{ListParams, Page};
use super::names::{NAME_RULE, check_name};
use super::tasks::TaskView;
use super::{DomainError, blocking, in_org};
use crate::engine::image::{IMG_JSON, ImageMeta, read_json};
use crate::engine::trace::{Encoding, Trace, TraceProblem, decode_body};
use crate::jobs::{self, NewTask};
use crate::pipeline::app_pipeline;
use crate::pipeline::builds::TraceFiles;
use crate::publish::depot::Depot;
use crate::publish::layout;
use crate::store::{
    APPS, AppRecord, MkseqParams, Reads, Store, TASKS, TRACES, TRAININGS, TaskKind, TaskRecord,
    TaskSpec, TraceRecord, TrainingRecord, WriteTx, app_unfinished_tasks, image_traces_prefix,
    org_key, org_prefix, trace_key,
};
use view::views;
pub use view::{ReceivedTrace, TraceReceived, TrainingModified, TrainingView};

/// Limits of trace uploads and the default of `nTracesReliable`, from the config.
#[derive(Debug, Clone, Copy)]
pub struct TraceLimits {
    /// Largest body as sent.
    pub max_body: u64,
    /// Largest body once decoded.
    pub max_decoded: u64,
    /// `nTracesReliable` of an app that did not set it.
    pub traces_reliable: u32,
}

/// Most `nTracesReliable` an app may ask for.
const MAX_TRACES_RELIABLE: u32 = 100_000;

/// A `PATCH /be/v1/trainings` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainingPatch {
    #[schemars(pattern(NAME_RULE.pattern()))]
    pub app_name: String,
    pub n_traces_reliable: Option<u32>,
}

/// Traces and training.
#[derive(Clone)]
pub struct TrainingService {
    store: Store,
    depot: Depot,
    files: TraceFiles,
    limits: TraceLimits,
}

impl TrainingService {
    /// Training of the apps in `store`, their images in `depot`, traces kept in `files`.
    pub fn new(store: Store, depot: Depot, files: TraceFiles, limits: TraceLimits) -> Self {
        Self {
            store,
            depot,
            files,
            limits,
        }
    }

    /// The largest trace body accepted as sent.
    pub fn max_body(&self) -> u64 {
        self.limits.max_body
    }

    /// Takes one trace upload: decodes the body (within the limits), authenticates the access
    /// key in it, checks the trace against the image it names, and stores it once — the same
    /// trace again is counted once. Submits the image's training when enough traces are in.
    pub async fn receive(
        &self,
        body: Vec<u8>,
        encoding: Encoding,
    ) -> Result<TraceReceived, DomainError> {
        let max_decoded = self.limits.max_decoded;
        let decoded =
            blocking(move || decode_body(&body, encoding, max_decoded).map_err(refusal)).await?;
        let mut fields: Map<String, Value> = serde_json::from_slice(&decoded).map_err(|e| {
            DomainError::invalid("body", format!("not a JSON object of a trace upload: {e}"))
        })?;
        let mut take = |field: &str| match fields.remove(field) {
            Some(Value::String(value)) => Ok(value),
            Some(_) => Err(DomainError::invalid(field, "must be a string")),
            None => Err(DomainError::Missing {
                field: field.to_string(),
            }),
        };
        let (org, app_name, access_key) = (take("orgName")?, take("appName")?, take("accessKey")?);
        let app = self
            .store
            .read(move |tx| opened_by(tx, &org, &app_name, &access_key))
            .await?;
        let trace_json = serde_json::to_vec(&Value::Object(fields))
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        let trace = Trace::parse(&trace_json).map_err(refusal)?;
        let build = app
            .builds
            .retained
            .iter()
            .find(|b| b.dxf_name == trace.dxf_name)
            .ok_or_else(|| {
                DomainError::invalid(
                    "dxfName",
                    format!(
                        "{} is not an image of app {}: unknown, replaced by a newer order, or its \
                         build was rotated out; send traces of the image the launcher played",
                        trace.dxf_name, app.name
                    ),
                )
            })?;
        let dir = self
            .depot
            .path_of(&layout::image_dir(
                &app.org,
                &app.name,
                build.id,
                &build.dxf_name,
            ))
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        let meta: ImageMeta = blocking(move || {
            read_json(&dir, IMG_JSON).map_err(|e| DomainError::Internal(e.to_string()))
        })
        .await?;
        trace.check_blocks(meta.block_count).map_err(refusal)?;
        let digest = trace.digest();
        let canonical =
            serde_json::to_vec(&trace).map_err(|e| DomainError::Internal(e.to_string()))?;
        let image = image_traces_prefix(&app.org, &app.name, &trace.dxf_name);
        self.files
            .store(image.trim_end_matches('/'), &digest, canonical)
            .await
            .map_err(|e| DomainError::Internal(format!("cannot store the trace: {e}")))?;
        let record = TraceRecord {
            digest,
            build: build.id,
            dxf_name: trace.dxf_name.clone(),
            received: Utc::now(),
            reads: trace.reads.len() as u64,
            launch_ms: trace.launch_ms,
        };
        let reliable = self.limits.traces_reliable;
        self.store
            .write(move |tx| record_trace(tx, &app, record, reliable))
            .await
    }

    /// A page of the org's trainings, one per retained build's image, optionally of one app.
    pub async fn list(
        &self,
        caller: &Caller,
        app: Option<String>,
        params: ListParams,
    ) -> Result<Page<TrainingView>, DomainError> {
        if let Some(app) = &app {
            check_name("appName", app)?;
        }
        let (org, default) = (caller.org.clone(), self.limits.traces_reliable);
        let rows = self
            .store
            .read(move |tx| {
                let apps = tx.open(&APPS)?.with_prefix(&org_prefix(&org))?;
                let mut rows = Vec::new();
                for (_, record) in apps {
                    if app.as_ref().is_some_and(|a| *a != record.name) {
                        continue;
                    }
                    rows.extend(views(tx, &record, default)?);
                }
                if let Some(app) = app.filter(|_| rows.is_empty()) {
                    tx.open(&APPS)?
                        .named(Some(&org), &app)?
                        .ok_or_else(|| DomainError::not_found(format!("app {app}")))?;
                }
                Ok::<_, DomainError>(rows)
            })
            .await?;
        let by_app = |a: &TrainingView, b: &TrainingView| {
            a.app_name
                .to_lowercase()
                .cmp(&b.app_name.to_lowercase())
                .then_with(|| b.build_id.cmp(&a.build_id))
        };
        params.apply(
            rows,
            &["appName", "buildId", "traces"],
            by_app,
            |key, a, b| match key {
                "buildId" => a.build_id.cmp(&b.build_id),
                "traces" => a.traces.cmp(&b.traces),
                _ => by_app(a, b),
            },
        )
    }

    /// Sets an app's `nTracesReliable` (`null` returns to the configured default); returns
    /// the app's trainings.
    pub async fn patch(
        &self,
        caller: &Caller,
        patch: TrainingPatch,
    ) -> Result<TrainingModified, DomainError> {
        check_name("appName", &patch.app_name)?;
        if let Some(n) = patch.n_traces_reliable
            && !(1..=MAX_TRACES_RELIABLE).contains(&n)
        {
            return Err(DomainError::invalid(
                "nTracesReliable",
                format!("must be between 1 and {MAX_TRACES_RELIABLE}, got {n}"),
            ));
        }
        let (org, default) = (caller.org.clone(), self.limits.traces_reliable);
        in_org(&self.store, caller)
            .write(move |tx| {
                let app = find_app(tx, &org, &patch.app_name)?;
                let key = org_key(&app.org, &app.name);
                let mut training = tx.open(&TRAININGS)?.get(key.as_str())?.unwrap_or_default();
                training.traces_reliable = patch.n_traces_reliable;
                let submitted = submit_when_due(tx, &app, &mut training, default)?;
                tx.open(&TRAININGS)?.put(key.as_str(), &training)?;
                Ok(TrainingModified {
                    trainings: views(tx, &app, default)?,
                    task_name: submitted.map(|t| t.name),
                })
            })
            .await
    }

    /// Starts training of the app's current image now, whatever its trace count.
    pub async fn trigger(&self, caller: &Caller, app_name: &str) -> Result<TaskView, DomainError> {
        check_name("appName", app_name)?;
        let (org, name) = (caller.org.clone(), app_name.to_string());
        in_org(&self.store, caller)
            .write(move |tx| {
                let app = find_app(tx, &org, &name)?;
                let Some(current) = app.builds.current() else {
                    return Err(DomainError::invalid(
                        "appName",
                        format!(
                            "app {} has no build yet: there is nothing to train",
                            app.name
                        ),
                    ));
                };
                let key = org_key(&app.org, &app.name);
                let mut training = tx.open(&TRAININGS)?.get(key.as_str())?.unwrap_or_default();
                let image = training.image(current.id, &current.dxf_name);
                image.submitted_at = image.traces;
                tx.open(&TRAININGS)?.put(key.as_str(), &training)?;
                Ok(jobs::submit(tx, mkseq_task(&app, "trigger"), Utc::now())?)
            })
            .await
            .map(TaskView::from)
    }
}

/// A refused trace as the caller's error: too large → 413, anything else → 400 naming the
/// field at fault.
fn refusal(problem: TraceProblem) -> DomainError {
    let field = match &problem {
        TraceProblem::TooLarge { .. } => return DomainError::TooLarge(problem.to_string()),
        TraceProblem::BadEncoding { .. } => "Content-Encoding",
        TraceProblem::Malformed(_) => "body",
        TraceProblem::BlockSize(_) => "blockSize",
        TraceProblem::Empty
        | TraceProblem::EmptyRead { .. }
        | TraceProblem::OutsideImage { .. }
        | TraceProblem::TimeGoesBack { .. } => "reads",
    };
    DomainError::invalid(field, problem.to_string())
}

fn find_app(tx: &impl Reads, org: &str, name: &str) -> Result<AppRecord, DomainError> {
    tx.read(&APPS)?
        .named(Some(org), name)?
        .ok_or_else(|| DomainError::not_found(format!("app {name}")))
}

/// The `mkseq` of the app's current image, in the app's pipeline.
fn mkseq_task(app: &AppRecord, reason: &str) -> NewTask {
    let current = app.builds.current();
    NewTask::new(
        TaskSpec::Mkseq(MkseqParams {
            org: app.org.clone(),
            app: app.name.clone(),
            build: current.map_or(0, |b| b.id),
            dxf_name: current.map(|b| b.dxf_name.clone()).unwrap_or_default(),
            reason: reason.to_string(),
        }),
        Some(app.org.clone()),
    )
    .for_app(app.name.clone())
    .in_pipeline(app_pipeline(&app.org, &app.name))
}

/// Stores a trace's record unless it is there already, counts it for its image, and submits
/// training when it is due; returns the upload's answer.
fn record_trace(
    tx: &WriteTx,
    app: &AppRecord,
    record: TraceRecord,
    default: u32,
) -> Result<TraceReceived, DomainError> {
    let key = trace_key(&app.org, &app.name, &record.dxf_name, &record.digest);
    let training_key = org_key(&app.org, &app.name);
    let mut training = tx
        .open(&TRAININGS)?
        .get(training_key.as_str())?
        .unwrap_or_default();
    let duplicate = tx.open(&TRACES)?.get(key.as_str())?.is_some();
    if !duplicate {
        tx.open(&TRACES)?.put(key.as_str(), &record)?;
        training.image(record.build, &record.dxf_name).traces += 1;
    }
    let submitted = submit_when_due(tx, app, &mut training, default)?;
    tx.open(&TRAININGS)?.put(training_key.as_str(), &training)?;
    let traces = training.image(record.build, &record.dxf_name).traces;
    Ok(TraceReceived {
        trace: ReceivedTrace::of(record, duplicate),
        traces,
        task_name: submitted.map(|t| t.name),
    })
}

/// Submits the training of the app's current image when it has `nTracesReliable` traces more
/// than when its training was last submitted, unless one is already waiting or running.
fn submit_when_due(
    tx: &WriteTx,
    app: &AppRecord,
    training: &mut TrainingRecord,
    default: u32,
) -> Result<Option<TaskRecord>, DomainError> {
    let Some(current) = app.builds.current() else {
        return Ok(None);
    };
    let reliable = u64::from(training.traces_reliable.unwrap_or(default));
    let image = training.image(current.id, &current.dxf_name);
    if image.traces < image.submitted_at + reliable || training_pending(tx, app)? {
        return Ok(None);
    }
    let image = training.image(current.id, &current.dxf_name);
    image.submitted_at = image.traces;
    Ok(Some(jobs::submit(
        tx,
        mkseq_task(app, "traces"),
        Utc::now(),
    )?))
}

/// True when an `mkseq` of the app is submitted or running.
fn training_pending(tx: &impl Reads, app: &AppRecord) -> Result<bool, DomainError> {
    let tasks = tx.read(&TASKS)?;
    for name in app_unfinished_tasks(tx, &app.org, &app.name)? {
        if tasks
            .get(name.as_str())?
            .is_some_and(|t| t.spec.kind() == TaskKind::Mkseq)
        {
            return Ok(true);
        }
    }
    Ok(false)
}
