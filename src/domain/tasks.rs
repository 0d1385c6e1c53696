//! Tasks as the API shows them (API.md §4 task shape).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::DomainError;
use crate::store::{Store, TASKS, TaskRecord, TaskStatus, TaskWarning};

/// A task in the API's shape.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub org_name: Option<String>,
    pub app_name: Option<String>,
    pub group: String,
    pub status: TaskStatus,
    pub progress: f64,
    pub created: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    pub attempts: u32,
    /// How many runs continued an interrupted one (crash or restart).
    pub resumed: u32,
    pub warnings: Vec<TaskWarning>,
    pub exception: Option<Value>,
    pub result: Option<Value>,
}

impl From<TaskRecord> for TaskView {
    fn from(task: TaskRecord) -> Self {
        Self {
            name: task.name,
            kind: task.kind,
            org_name: task.org,
            app_name: task.app,
            group: task.group,
            status: task.status,
            progress: task.progress,
            created: task.created,
            started: task.started,
            ended: task.ended,
            attempts: task.attempts,
            resumed: task.resumed,
            warnings: task.warnings,
            exception: task.exception,
            result: task.result,
        }
    }
}

/// Read access to tasks across the instance (the administrator's view).
#[derive(Clone)]
pub struct TaskService {
    store: Store,
}

impl TaskService {
    /// Tasks from the store.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// One task by name.
    pub async fn get(&self, name: &str) -> Result<TaskView, DomainError> {
        let key = name.to_string();
        self.store
            .read(move |tx| {
                tx.open(&TASKS)?
                    .get(key.as_str())?
                    .map(TaskView::from)
                    .ok_or_else(|| DomainError::not_found(format!("task {key}")))
            })
            .await
    }
}
