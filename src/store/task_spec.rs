//! What a task does: every task kind with its input, as one persisted enum. A task record
//! holds it flattened (`"kind": "cleanup", "params": {...}`), the shape task records have
//! always had, so records written before the enum existed decode unchanged.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::S3Settings;

/// The task types (the API's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    Hello,
    Cleanup,
    Upload,
    Dltar,
    Mkraw,
    Deploy,
    Mkseq,
}

impl TaskKind {
    /// Every task type, for listing and validating filters.
    pub const ALL: [TaskKind; 7] = [
        TaskKind::Hello,
        TaskKind::Cleanup,
        TaskKind::Upload,
        TaskKind::Dltar,
        TaskKind::Mkraw,
        TaskKind::Deploy,
        TaskKind::Mkseq,
    ];

    /// The name the API and the events use.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Hello => "hello",
            TaskKind::Cleanup => "cleanup",
            TaskKind::Upload => "upload",
            TaskKind::Dltar => "dltar",
            TaskKind::Mkraw => "mkraw",
            TaskKind::Deploy => "deploy",
            TaskKind::Mkseq => "mkseq",
        }
    }

    /// The app state an unfinished task of this kind stands for, if any.
    pub fn app_activity(self) -> Option<AppActivity> {
        match self {
            TaskKind::Dltar | TaskKind::Mkraw | TaskKind::Mkseq => Some(AppActivity::Processing),
            TaskKind::Deploy => Some(AppActivity::Exporting),
            // An upload waiting for its bytes does not make the app busy.
            TaskKind::Hello | TaskKind::Cleanup | TaskKind::Upload => None,
        }
    }
}

impl std::fmt::Display for TaskKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an unfinished task of a kind makes its app show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppActivity {
    /// Importing or processing a build (`processing: true`).
    Processing,
    /// Publishing to origins (`exporting: true`).
    Exporting,
}

/// Which worker pool runs a task: heavy work (engine processing) has its own bound so it
/// never takes every worker from light tasks, nor every core from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkClass {
    Light,
    Heavy,
}

/// A task's type and input.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", content = "params", rename_all = "lowercase")]
pub enum TaskSpec {
    Hello(HelloParams),
    Cleanup(CleanupParams),
    Upload(UploadParams),
    Dltar(DltarParams),
    Mkraw(MkrawParams),
    Deploy(DeployParams),
    Mkseq(MkseqParams),
}

impl TaskSpec {
    /// The task's type.
    pub fn kind(&self) -> TaskKind {
        match self {
            TaskSpec::Hello(_) => TaskKind::Hello,
            TaskSpec::Cleanup(_) => TaskKind::Cleanup,
            TaskSpec::Upload(_) => TaskKind::Upload,
            TaskSpec::Dltar(_) => TaskKind::Dltar,
            TaskSpec::Mkraw(_) => TaskKind::Mkraw,
            TaskSpec::Deploy(_) => TaskKind::Deploy,
            TaskSpec::Mkseq(_) => TaskKind::Mkseq,
        }
    }

    /// The pool the task runs in.
    pub fn class(&self) -> WorkClass {
        match self {
            TaskSpec::Hello(hello) if hello.heavy => WorkClass::Heavy,
            TaskSpec::Mkraw(_) | TaskSpec::Mkseq(_) => WorkClass::Heavy,
            TaskSpec::Hello(_)
            | TaskSpec::Cleanup(_)
            | TaskSpec::Upload(_)
            | TaskSpec::Dltar(_)
            | TaskSpec::Deploy(_) => WorkClass::Light,
        }
    }

    /// What the task's events say about the build and deployment it works on: the build's
    /// name from the input, its id and dxfName from the `result` once the task made them.
    pub fn event_details(&self, result: Option<&Value>) -> EventDetails {
        let build_name = match self {
            TaskSpec::Upload(p) => Some(p.build_name.clone()),
            TaskSpec::Dltar(p) => Some(p.build_name.clone()),
            TaskSpec::Mkraw(p) => Some(p.build_name.clone()),
            TaskSpec::Hello(_)
            | TaskSpec::Cleanup(_)
            | TaskSpec::Deploy(_)
            | TaskSpec::Mkseq(_) => None,
        };
        let deployment = match self {
            TaskSpec::Deploy(p) => Some(json!({ "name": p.deployment, "label": p.label })),
            _ => None,
        };
        let made = |key: &str| result.and_then(|r| r.get(key));
        EventDetails {
            build_name,
            build_id: made("buildId")
                .and_then(Value::as_u64)
                .and_then(|id| u32::try_from(id).ok()),
            dxf_name: made("dxfName").and_then(Value::as_str).map(str::to_string),
            deployment,
        }
    }
}

/// The build and deployment fields of a task's events.
#[derive(Debug, Clone, Default)]
pub struct EventDetails {
    pub build_name: Option<String>,
    pub build_id: Option<u32>,
    pub dxf_name: Option<String>,
    /// `{"name","label"}` of the deployment a task publishes to.
    pub deployment: Option<Value>,
}

/// `hello`: echoes a message after a delay; proves the runner (leases, checkpoints, resume,
/// the heavy pool).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloParams {
    pub message: String,
    pub delay_ms: u64,
    /// Runs in the heavy pool, as engine work does.
    #[serde(default)]
    pub heavy: bool,
}

/// `cleanup`: removes layout prefixes from the depot and from origins, and finally the record
/// of a deployment being deleted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupParams {
    /// The org whose deployments are named; `None` for a deleted org's prune.
    pub org: Option<String>,
    /// For files that stopped being current: the app they belong to. A prefix that holds its
    /// current (or staged) files again when the cleanup runs (a roll back) is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Layout paths (`dxf/{org}`, `pat/{org}/{app}`, ...).
    pub prefixes: Vec<String>,
    /// Remove them from the depot.
    #[serde(default)]
    pub depot: bool,
    /// Remove them from these deployments' origins.
    #[serde(default)]
    pub deployments: Vec<String>,
    /// Delete this deployment's record at the end.
    #[serde(default)]
    pub remove_deployment: Option<String>,
    /// Remove them from these origins too (of deployments whose records are already gone).
    #[serde(default)]
    pub origins: Vec<S3Settings>,
}

/// `upload`: waits for the publisher's resumable `PUT` of a build until `expires`. It is never
/// claimed before then: the completing `PUT` ends it and submits the `mkraw`; a worker that
/// claims it at `expires` expires it and removes the partial file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadParams {
    pub org: String,
    pub app: String,
    pub build_name: String,
    /// The size the publisher announced, if any.
    pub size: Option<u64>,
    pub expires: chrono::DateTime<chrono::Utc>,
}

/// `dltar`: downloads a build's tar from a URL into the work dir, then submits its `mkraw`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DltarParams {
    pub org: String,
    pub app: String,
    pub url: String,
    pub build_name: String,
    /// The size the publisher announced, if any: another size fails the download.
    pub size: Option<u64>,
}

/// `mkraw`: turns a received tar into the app's next build: image, patches, rotation. With
/// `switch_to` it makes a retained build current instead (a roll back or forward): the patches
/// from every other retained build to it, then the switch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MkrawParams {
    pub org: String,
    pub app: String,
    pub build_name: String,
    /// The received tar, relative to the work dir (empty with `switch_to`).
    pub input: String,
    /// The retained build to make current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_to: Option<u32>,
}

/// `deploy`: makes one deployment's origin hold the app's current build (its image, the
/// patches to it, `app.json` last). Which build is read when it runs, so a deploy queued
/// behind a rollback or a newer build publishes what is current then.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployParams {
    pub org: String,
    pub app: String,
    pub deployment: String,
    /// The deployment's label when the task was made, for its events.
    pub label: String,
}

/// `mkseq`: learns an access order from the traces of an app's current image and, when the
/// preload it gives is smaller, makes a new image of the same build in that order current
/// (with the patches to it from every other retained build).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MkseqParams {
    pub org: String,
    pub app: String,
    /// The build and image trained: a run that finds another image current ends without
    /// publishing.
    pub build: u32,
    pub dxf_name: String,
    /// What started it: `traces` (enough traces arrived) or `trigger`.
    pub reason: String,
}
