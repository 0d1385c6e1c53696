//! Tasks as the API shows them (API.md §4 task shape).

use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::caller::Caller;
use super::listing::{ListParams, Page};
use super::{DomainError, in_org};
use crate::jobs::queue;
use crate::metrics::TaskCensus;
use crate::pipeline::builds::Incoming;
use crate::pipeline::builds::exceptions::upload_expired;
use crate::store::{
    self, Store, TASKS, TaskKind, TaskRecord, TaskSpec, TaskStatus, TaskWarning, WriteTx,
};

/// A task in the API's shape.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: TaskKind,
    pub org_name: Option<String>,
    pub app_name: Option<String>,
    pub group: String,
    pub status: TaskStatus,
    pub progress: f64,
    /// What a running task is doing now.
    pub phase: Option<String>,
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
            kind: task.spec.kind(),
            org_name: task.org,
            app_name: task.app,
            group: task.group,
            status: task.status,
            progress: task.progress,
            phase: task.phase,
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

/// Filters of `GET /be/v1/tasks`.
#[derive(Debug, Default)]
pub struct TaskFilter {
    /// Partial, case-insensitive.
    pub app_name: Option<String>,
    pub group: Option<String>,
    pub status: Option<TaskStatus>,
    pub kind: Option<TaskKind>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

impl TaskFilter {
    fn is_empty(&self) -> bool {
        self.app_name.is_none()
            && self.group.is_none()
            && self.status.is_none()
            && self.kind.is_none()
            && self.created_after.is_none()
            && self.created_before.is_none()
    }

    fn matches(&self, task: &TaskRecord) -> bool {
        let app = task.app.as_deref().unwrap_or("").to_ascii_lowercase();
        self.app_name
            .as_ref()
            .is_none_or(|a| app.contains(&a.to_ascii_lowercase()))
            && self.group.as_ref().is_none_or(|g| &task.group == g)
            && self.status.is_none_or(|s| task.status == s)
            && self.kind.is_none_or(|k| task.spec.kind() == k)
            && self.created_after.is_none_or(|t| task.created > t)
            && self.created_before.is_none_or(|t| task.created < t)
    }
}

/// A `PATCH /be/v1/tasks` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    pub name: String,
    #[serde(default)]
    pub acknowledge: Vec<u32>,
    #[serde(default)]
    pub expire: bool,
}

/// Task rules: reading, acknowledging, expiring and retrying.
#[derive(Clone)]
pub struct TaskService {
    store: Store,
    /// Where uploads keep their partial tars (removed when an upload is expired).
    incoming: Incoming,
}

/// Loads a task of the caller's org for change.
fn org_task(tx: &WriteTx, org: &str, name: &str) -> Result<TaskRecord, DomainError> {
    tx.open(&TASKS)?
        .get(name)?
        .filter(|t| {
            t.org
                .as_deref()
                .is_some_and(|o| o.eq_ignore_ascii_case(org))
        })
        .ok_or_else(|| DomainError::not_found(format!("task {name}")))
}

impl TaskService {
    /// Tasks from the store; partial uploads in `incoming`.
    pub fn new(store: Store, incoming: Incoming) -> Self {
        Self { store, incoming }
    }

    /// A page of the caller's org's tasks (newest first unless `order[]` says otherwise), read
    /// from the org's task index. In the default order without filters only the page's
    /// records are read; otherwise the org's tasks (never another org's).
    pub async fn list(
        &self,
        caller: &Caller,
        filter: TaskFilter,
        params: ListParams,
    ) -> Result<Page<TaskView>, DomainError> {
        let org = caller.org.clone();
        let page = self
            .store
            .read(move |tx| {
                let table = tx.open(&TASKS)?;
                if params.order.is_empty() && filter.is_empty() {
                    params.validate()?;
                    let mut items = Vec::new();
                    for name in store::org_task_names_newest(tx, &org, params.offset, params.limit)?
                    {
                        items.extend(table.get(name.as_str())?);
                    }
                    return Ok(Page {
                        items,
                        total: store::org_task_count(tx, &org)?,
                    });
                }
                let mut found = Vec::new();
                for name in &store::org_task_names(tx, &org)? {
                    found.extend(table.get(name.as_str())?.filter(|t| filter.matches(t)));
                }
                params.apply(
                    found,
                    &["name", "created", "status", "type", "appName"],
                    |a, b| b.created.cmp(&a.created).then_with(|| b.name.cmp(&a.name)),
                    |field, a, b| match field {
                        "created" => a.created.cmp(&b.created),
                        "status" => format!("{:?}", a.status).cmp(&format!("{:?}", b.status)),
                        "type" => a.spec.kind().as_str().cmp(b.spec.kind().as_str()),
                        "appName" => a.app.cmp(&b.app),
                        _ => a.name.cmp(&b.name),
                    },
                )
            })
            .await?;
        Ok(Page {
            items: page.items.into_iter().map(TaskView::from).collect(),
            total: page.total,
        })
    }

    /// One task of the caller's org.
    pub async fn get(&self, caller: &Caller, name: &str) -> Result<TaskView, DomainError> {
        let task = self.any(name).await?;
        match &task.org_name {
            Some(org) if org.eq_ignore_ascii_case(&caller.org) => Ok(task),
            _ => Err(DomainError::not_found(format!("task {name}"))),
        }
    }

    /// Acknowledges warnings and/or expires an unfinished task.
    pub async fn patch(&self, caller: &Caller, patch: TaskPatch) -> Result<TaskView, DomainError> {
        if patch.acknowledge.is_empty() && !patch.expire {
            return Err(DomainError::Missing {
                field: "acknowledge or expire".into(),
            });
        }
        let org = caller.org.clone();
        let name = patch.name.clone();
        let acknowledge = patch.acknowledge.clone();
        let task = in_org(&self.store, caller)
            .write(move |tx| {
                let mut task = org_task(tx, &org, &name)?;
                for id in &acknowledge {
                    let warning =
                        task.warnings
                            .iter_mut()
                            .find(|w| w.id == *id)
                            .ok_or_else(|| {
                                DomainError::invalid(
                                    "acknowledge",
                                    format!("task has no warning {id}"),
                                )
                            })?;
                    warning.acknowledged = true;
                }
                if !acknowledge.is_empty() {
                    tx.open(&TASKS)?.put(task.name.as_str(), &task)?;
                }
                if patch.expire {
                    if task.status.is_terminal() {
                        return Err(DomainError::invalid(
                            "expire",
                            format!("the task is already {:?}", task.status).to_lowercase(),
                        ));
                    }
                    let exception = matches!(task.spec, TaskSpec::Upload(_)).then(upload_expired);
                    task = queue::expire(tx, &task.name, exception, Utc::now())?;
                }
                Ok(task)
            })
            .await?;
        if patch.expire && matches!(task.spec, TaskSpec::Upload(_)) {
            self.incoming
                .discard(&Incoming::name_of(&task.name))
                .await
                .map_err(|e| {
                    DomainError::Internal(format!("cannot remove the partial upload: {e}"))
                })?;
        }
        Ok(TaskView::from(task))
    }

    /// Re-queues a failed (or expired) task of the caller's org.
    pub async fn retry(&self, caller: &Caller, name: &str) -> Result<TaskView, DomainError> {
        let (org, name) = (caller.org.clone(), name.to_string());
        let task = in_org(&self.store, caller)
            .write(move |tx| {
                let task = org_task(tx, &org, &name)?;
                if !matches!(task.status, TaskStatus::Failed | TaskStatus::Expired) {
                    return Err(DomainError::invalid(
                        "taskName",
                        format!(
                            "only failed or expired tasks can be retried; this one is {:?}",
                            task.status
                        )
                        .to_lowercase(),
                    ));
                }
                Ok(queue::requeue(tx, &name, Utc::now())?)
            })
            .await?;
        Ok(TaskView::from(task))
    }

    /// One task by name, of any org (the instance administrator's view).
    pub async fn any(&self, name: &str) -> Result<TaskView, DomainError> {
        if uuid::Uuid::parse_str(name).is_err() {
            return Err(DomainError::invalid(
                "taskName",
                "must be a task name as returned when the task was submitted (a UUID)",
            ));
        }
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

    /// Every task counted by type and state, and how many wait for a worker: the task gauges
    /// of `/metrics`.
    pub async fn census(&self) -> Result<TaskCensus, DomainError> {
        let census = self
            .store
            .read(|tx| {
                let mut census = TaskCensus::default();
                tx.open(&TASKS)?.scan::<&str>(.., |_, task| {
                    let state = serde_json::to_value(task.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    if task.status == TaskStatus::Submitted {
                        census.queued += 1;
                    }
                    *census
                        .by_type_and_state
                        .entry((task.spec.kind().as_str().to_string(), state))
                        .or_default() += 1;
                    ControlFlow::Continue(())
                })?;
                Ok::<_, DomainError>(census)
            })
            .await?;
        Ok(census)
    }
}
