//! `upload`: a build's resumable upload. The task waits unclaimed until its URL expires; the
//! `PUT` that completes the upload ends it and submits the `mkraw` (see `domain::builds`). A
//! worker claims it only at expiry: then no upload can complete any more, and its partial
//! file goes.

use super::Builds;
use super::exceptions::upload_expired;
use super::incoming::Incoming;
use crate::jobs::{NewTask, TaskContext, TaskError, TaskOutput};
use crate::pipeline::app_pipeline;
use crate::store::{MkrawParams, TaskSpec, UploadParams};

impl Builds {
    /// Runs an `upload` task: it only ever runs once its URL expired.
    pub async fn expire_upload(
        &self,
        _params: UploadParams,
        ctx: TaskContext,
    ) -> Result<TaskOutput, TaskError> {
        self.incoming
            .discard(&Incoming::name_of(ctx.name()))
            .await
            .map_err(|e| TaskError::internal(format!("cannot remove the partial upload: {e}")))?;
        Err(TaskError::Expired(upload_expired()))
    }
}

/// The `mkraw` that processes a received tar, in the app's pipeline.
pub fn processing(org: &str, app: &str, build_name: &str, task: &str) -> NewTask {
    NewTask::new(
        TaskSpec::Mkraw(MkrawParams {
            org: org.to_string(),
            app: app.to_string(),
            build_name: build_name.to_string(),
            input: Incoming::name_of(task),
            switch_to: None,
        }),
        Some(org.to_string()),
    )
    .for_app(app.to_string())
    .in_pipeline(app_pipeline(org, app))
}

/// The `mkraw` that makes the retained build `target` (named `build_name`) current, in the
/// app's pipeline.
pub fn switching(org: &str, app: &str, build_name: &str, target: u32) -> NewTask {
    NewTask::new(
        TaskSpec::Mkraw(MkrawParams {
            org: org.to_string(),
            app: app.to_string(),
            build_name: build_name.to_string(),
            input: String::new(),
            switch_to: Some(target),
        }),
        Some(org.to_string()),
    )
    .for_app(app.to_string())
    .in_pipeline(app_pipeline(org, app))
}
