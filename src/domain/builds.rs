//! Builds entering an app: `POST /be/v1/builds` starts an import (a download, or an upload
//! URL), and the upload URL takes the tar in resumable pieces, the way Google Cloud Storage's
//! resumable uploads do. The upload that completes submits the build's `mkraw` in the same
//! transaction that ends the upload task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncRead;

use super::apps::check_healthy;
use super::caller::Caller;
use super::names::{NAME_RULE, check_name};
use super::text::{check_label, check_url};
use super::{DomainError, in_org};
use crate::auth::upload_url::UploadSigner;
use crate::jobs::{self, NewTask, queue};
use crate::pipeline::app_pipeline;
use crate::pipeline::builds::{Incoming, IncomingError, processing};
use crate::store::{
    APPS, DltarParams, Store, TASKS, TaskRecord, TaskSpec, TaskStatus, UploadParams,
};

/// A `POST /be/v1/builds` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportRequest {
    #[schemars(pattern(NAME_RULE.pattern()))]
    pub app_name: String,
    pub build_name: Option<String>,
    pub url: Option<String>,
    pub size: Option<u64>,
}

/// An import started.
#[derive(Debug)]
pub struct Import {
    pub task_name: String,
    pub build_name: String,
    /// For an upload: where to `PUT` the tar (path and query; the HTTP layer adds the host)
    /// and until when.
    pub upload: Option<(String, DateTime<Utc>)>,
}

/// Which bytes a `PUT` to an upload URL carries (its `Content-Range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutRange {
    /// `bytes */TOTAL` (or `*/*`) with an empty body: how far the upload got.
    Query { total: Option<u64> },
    /// `bytes FIRST-LAST/TOTAL` (TOTAL may be unknown), or a plain `PUT` of the whole tar.
    Bytes {
        first: u64,
        last: Option<u64>,
        total: Option<u64>,
    },
}

/// Where an upload stands after a `PUT`.
#[derive(Debug)]
pub enum UploadState {
    /// Bytes `0..received` are stored; send the rest (`308`).
    Incomplete { received: u64 },
    /// Complete; the named `mkraw` processes it (`200`).
    Complete { received: u64, task_name: String },
}

/// What a completed upload answers to a status query: its size and the `mkraw` processing it.
fn completed(task: &TaskRecord) -> UploadState {
    let result = task.result.as_ref();
    UploadState::Complete {
        received: result.and_then(|r| r["sizeBytes"].as_u64()).unwrap_or(0),
        task_name: result
            .and_then(|r| r["mkraw"].as_str())
            .unwrap_or_default()
            .to_string(),
    }
}

/// Import rules and the upload endpoint.
#[derive(Clone)]
pub struct BuildService {
    store: Store,
    incoming: Incoming,
    signer: UploadSigner,
    max_size: u64,
    upload_expiry: Duration,
    /// One `PUT` at a time per upload.
    writing: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl BuildService {
    /// Imports into `store`, tars into `incoming`, upload URLs signed by `signer`.
    pub fn new(
        store: Store,
        incoming: Incoming,
        signer: UploadSigner,
        max_size: u64,
        upload_expiry: Duration,
    ) -> Self {
        Self {
            store,
            incoming,
            signer,
            max_size,
            upload_expiry,
            writing: Arc::default(),
        }
    }

    /// Starts an import: a `dltar` task for a URL, else an `upload` task and its URL.
    pub async fn import(
        &self,
        caller: &Caller,
        request: ImportRequest,
    ) -> Result<Import, DomainError> {
        check_name("appName", &request.app_name)?;
        let build_name = match request.build_name {
            Some(name) => {
                check_label("buildName", &name)?;
                if name.trim().is_empty() {
                    return Err(DomainError::invalid("buildName", "must not be blank"));
                }
                name
            }
            None => Utc::now().format("build-%Y%m%dT%H%M%SZ").to_string(),
        };
        if let Some(url) = &request.url {
            check_url("url", url)?;
        }
        if let Some(size) = request.size.filter(|s| *s > self.max_size) {
            return Err(DomainError::TooLarge(format!(
                "a build of {size} bytes exceeds this appliance's maximum of {} bytes",
                self.max_size
            )));
        }
        let now = Utc::now();
        let expires = now + chrono::Duration::from_std(self.upload_expiry).unwrap_or_default();
        let (org, name) = (caller.org.clone(), build_name.clone());
        let url = request.url.clone();
        let task = in_org(&self.store, caller)
            .write(move |tx| {
                let app = tx
                    .open(&APPS)?
                    .named(Some(&org), &request.app_name)?
                    .ok_or_else(|| DomainError::not_found(format!("app {}", request.app_name)))?;
                check_healthy(&app)?;
                let new = match url {
                    Some(url) => NewTask::new(
                        TaskSpec::Dltar(DltarParams {
                            org: app.org.clone(),
                            app: app.name.clone(),
                            url,
                            build_name: name,
                            size: request.size,
                        }),
                        Some(app.org.clone()),
                    )
                    .in_pipeline(app_pipeline(&app.org, &app.name)),
                    None => NewTask::new(
                        TaskSpec::Upload(UploadParams {
                            org: app.org.clone(),
                            app: app.name.clone(),
                            build_name: name,
                            size: request.size,
                            expires,
                        }),
                        Some(app.org.clone()),
                    )
                    .not_before(expires),
                };
                Ok(jobs::submit(tx, new.for_app(app.name.clone()), now)?)
            })
            .await?;
        let upload = request.url.is_none().then(|| {
            let stamp = expires.timestamp();
            let signature = self.signer.sign(&task.name, stamp);
            (
                format!(
                    "/upload/v1/{}?expires={stamp}&signature={signature}",
                    task.name
                ),
                expires,
            )
        });
        Ok(Import {
            task_name: task.name,
            build_name,
            upload,
        })
    }

    /// Takes one `PUT` of an upload: checks the URL, stores the body from its first byte
    /// (a gap is refused), and completes the upload once every byte is there.
    pub async fn receive(
        &self,
        task_name: &str,
        expires: i64,
        signature: &str,
        range: PutRange,
        body: impl AsyncRead + Unpin,
    ) -> Result<UploadState, DomainError> {
        if !self.signer.verify(task_name, expires, signature) {
            return Err(DomainError::BadSignature(
                "the upload URL's signature does not match; use the uploadUrl exactly as returned"
                    .into(),
            ));
        }
        let lock = self.lock(task_name);
        let _writing = lock.lock().await;
        let task = self.upload_task(task_name).await?;
        let TaskSpec::Upload(params) = &task.spec else {
            return Err(DomainError::not_found(format!("upload {task_name}")));
        };
        let received = self
            .incoming
            .received(task_name)
            .await
            .map_err(|e| DomainError::Internal(format!("cannot read the upload: {e}")))?;
        match task.status {
            TaskStatus::Done => {
                return match range {
                    PutRange::Query { .. } => Ok(completed(&task)),
                    PutRange::Bytes { .. } => Err(DomainError::Protected(
                        "this upload is complete; start another import for another build".into(),
                    )),
                };
            }
            TaskStatus::Submitted if Utc::now().timestamp() <= expires => {}
            _ => {
                self.forget_lock(task_name);
                return Err(DomainError::UrlExpired(
                    "the upload URL expired; start the import again".into(),
                ));
            }
        }
        let (first, last, total) = match range {
            PutRange::Query { total } => {
                return self.settle(&task, params, received, total).await;
            }
            PutRange::Bytes { first, last, total } => (first, last, total),
        };
        if first > received {
            return Err(DomainError::Unsatisfiable(format!(
                "the upload has bytes 0-{} only; continue from byte {received}, not {first}",
                received.saturating_sub(1)
            )));
        }
        self.check_total(params, total)?;
        let room = total.unwrap_or(self.max_size).min(self.max_size);
        if let Some(last) = last.filter(|l| *l >= room) {
            return Err(self.beyond(total, last));
        }
        let stored = match self.incoming.append(task_name, first, body, room).await {
            Ok(size) => size,
            Err(IncomingError::TooLarge { .. }) => return Err(self.beyond(total, room)),
            Err(IncomingError::Source(e)) => {
                tracing::info!(task = %task_name, error = %e, "an upload broke off; it can continue");
                self.incoming.received(task_name).await.unwrap_or(first)
            }
            Err(IncomingError::Disk(e)) => {
                return Err(DomainError::Internal(format!(
                    "cannot store the upload: {e}"
                )));
            }
        };
        self.settle(&task, params, stored, total).await
    }

    /// Completes the upload when `received` is its total, else says how far it got.
    async fn settle(
        &self,
        task: &TaskRecord,
        params: &UploadParams,
        received: u64,
        total: Option<u64>,
    ) -> Result<UploadState, DomainError> {
        let Some(total) = total.or(params.size) else {
            return Ok(UploadState::Incomplete { received });
        };
        if received < total || received == 0 {
            return Ok(UploadState::Incomplete { received });
        }
        let next = processing(&params.org, &params.app, &params.build_name, &task.name);
        let name = task.name.clone();
        let completed = self
            .store
            .write(move |tx| {
                let result = json!({ "sizeBytes": received });
                let now = Utc::now();
                let Some((mut upload, followers)) =
                    queue::complete_waiting(tx, &name, result, vec![next], now)?
                else {
                    return Ok::<_, DomainError>(None);
                };
                let mkraw = followers.into_iter().next().map(|t| t.name);
                upload.result = Some(json!({ "sizeBytes": received, "mkraw": mkraw }));
                tx.open(&TASKS)?.put(upload.name.as_str(), &upload)?;
                Ok(mkraw)
            })
            .await?;
        self.forget_lock(&task.name);
        match completed {
            Some(task_name) => Ok(UploadState::Complete {
                received,
                task_name,
            }),
            None => Err(DomainError::UrlExpired(
                "the upload URL expired; start the import again".into(),
            )),
        }
    }

    fn check_total(&self, params: &UploadParams, total: Option<u64>) -> Result<(), DomainError> {
        match (total, params.size) {
            (Some(total), _) if total > self.max_size => Err(DomainError::TooLarge(format!(
                "a build of {total} bytes exceeds this appliance's maximum of {} bytes",
                self.max_size
            ))),
            (Some(total), Some(size)) if total != size => Err(DomainError::invalid(
                "Content-Range",
                format!("the total {total} differs from the size {size} announced for this build"),
            )),
            _ => Ok(()),
        }
    }

    /// Bytes beyond the declared total, or beyond the maximum size.
    fn beyond(&self, total: Option<u64>, at: u64) -> DomainError {
        match total.filter(|t| *t <= self.max_size) {
            Some(total) => DomainError::invalid(
                "Content-Range",
                format!("byte {at} lies beyond the upload's total of {total} bytes"),
            ),
            None => DomainError::TooLarge(format!(
                "the build exceeds this appliance's maximum of {} bytes",
                self.max_size
            )),
        }
    }

    async fn upload_task(&self, name: &str) -> Result<TaskRecord, DomainError> {
        let key = name.to_string();
        self.store
            .read(move |tx| {
                tx.open(&TASKS)?
                    .get(key.as_str())?
                    .ok_or_else(|| DomainError::not_found(format!("upload {key}")))
            })
            .await
    }

    fn lock(&self, task: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(writing.entry(task.to_string()).or_default())
    }

    fn forget_lock(&self, task: &str) {
        let mut writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        writing.remove(task);
    }
}
