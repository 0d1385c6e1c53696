//! What a task does: every task kind with its input, as one persisted enum. A task record
//! holds it flattened (`"kind": "cleanup", "params": {...}`), the shape task records have
//! always had, so records written before the enum existed decode unchanged.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::S3Settings;

/// The task types (the API's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    Hello,
    Cleanup,
}

impl TaskKind {
    /// Every task type, for listing and validating filters.
    pub const ALL: [TaskKind; 2] = [TaskKind::Hello, TaskKind::Cleanup];

    /// The name the API and the events use.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Hello => "hello",
            TaskKind::Cleanup => "cleanup",
        }
    }

    /// The app state an unfinished task of this kind stands for, if any.
    pub fn app_activity(self) -> Option<AppActivity> {
        match self {
            TaskKind::Hello | TaskKind::Cleanup => None,
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
}

impl TaskSpec {
    /// The task's type.
    pub fn kind(&self) -> TaskKind {
        match self {
            TaskSpec::Hello(_) => TaskKind::Hello,
            TaskSpec::Cleanup(_) => TaskKind::Cleanup,
        }
    }

    /// The pool the task runs in.
    pub fn class(&self) -> WorkClass {
        match self {
            TaskSpec::Hello(hello) if hello.heavy => WorkClass::Heavy,
            TaskSpec::Hello(_) | TaskSpec::Cleanup(_) => WorkClass::Light,
        }
    }

    /// What the task's events say about the build and deployment it works on.
    pub fn event_details(&self) -> EventDetails {
        match self {
            TaskSpec::Hello(_) | TaskSpec::Cleanup(_) => EventDetails::default(),
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
