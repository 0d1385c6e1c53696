//! Training as the API shows it: one row per retained build's image, and the answers of a
//! trace upload and of a change of `nTracesReliable`.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::domain::DomainError;
use crate::store::{AppRecord, Reads, TRAININGS, TraceRecord, org_key};

/// Where one image of an app stands in training.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrainingView {
    pub app_name: String,
    pub build_id: u32,
    pub dxf_name: String,
    /// The app's current build.
    pub current: bool,
    /// Distinct traces received for this image.
    pub traces: u64,
    /// Traces that make a training due.
    pub n_traces_reliable: u32,
    /// The image's preload as published.
    pub preload_bytes: Option<u64>,
    /// The preload the last training of this image computed.
    pub candidate_preload_bytes: Option<u64>,
    /// The outcome of the app's last `mkseq`, as its task's result says it.
    pub last_mkseq: Option<Value>,
}

/// The answer of `PATCH /be/v1/trainings`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrainingModified {
    pub trainings: Vec<TrainingView>,
    /// The training the change made due, if any.
    pub task_name: Option<String>,
}

/// The answer of a trace upload.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TraceReceived {
    pub trace: ReceivedTrace,
    /// Distinct traces of the image now.
    pub traces: u64,
    /// The training this trace made due, if any.
    pub task_name: Option<String>,
}

/// The trace as stored.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedTrace {
    /// SHA-256 of the trace's canonical JSON.
    pub digest: String,
    pub build_id: u32,
    pub dxf_name: String,
    /// The same trace was received before and counted once.
    pub duplicate: bool,
}

impl ReceivedTrace {
    pub(super) fn of(record: TraceRecord, duplicate: bool) -> Self {
        Self {
            digest: record.digest,
            build_id: record.build,
            dxf_name: record.dxf_name,
            duplicate,
        }
    }
}

/// The trainings view of an app: one row per retained build's image, newest build first.
pub(super) fn views(
    tx: &impl Reads,
    app: &AppRecord,
    default: u32,
) -> Result<Vec<TrainingView>, DomainError> {
    let training = tx
        .read(&TRAININGS)?
        .get(org_key(&app.org, &app.name).as_str())?
        .unwrap_or_default();
    let reliable = training.traces_reliable.unwrap_or(default);
    Ok(app
        .builds
        .retained
        .iter()
        .rev()
        .map(|build| {
            let image = training
                .images
                .iter()
                .find(|i| i.dxf_name == build.dxf_name);
            TrainingView {
                app_name: app.name.clone(),
                build_id: build.id,
                dxf_name: build.dxf_name.clone(),
                current: build.id == app.builds.current,
                traces: image.map_or(0, |i| i.traces),
                n_traces_reliable: reliable,
                preload_bytes: build.preload_bytes,
                candidate_preload_bytes: image.and_then(|i| i.candidate_preload),
                last_mkseq: training.last.clone(),
            }
        })
        .collect())
}
