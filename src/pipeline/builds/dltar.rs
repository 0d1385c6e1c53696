//! `dltar`: downloads a build's tar from the publisher's URL into `work/incoming/`, then
//! submits its `mkraw`. What arrived stays on disk: a run interrupted by a restart (or a
//! connection that broke off) continues with a `Range` request where the server supports
//! one, and starts over where it does not.

use std::error::Error as StdError;
use std::time::Duration;

use futures_util::TryStreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, RANGE};
use serde_json::json;

use super::Builds;
use super::exceptions::{ExitCode, download_failed, size_mismatch};
use super::incoming::{Incoming, IncomingError};
use super::upload::processing;
use crate::jobs::{TaskContext, TaskError, TaskOutput};
use crate::publish::guard::{AddressRefused, TooManyRedirects};
use crate::store::DltarParams;

/// Attempts of one run when the connection breaks off mid-body (each continues the last).
const ATTEMPTS: u32 = 3;
/// How often the download's progress is recorded.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// A failed attempt, told apart by whether another one may help.
struct Failure {
    status: u16,
    exit: ExitCode,
    message: String,
    retry: bool,
}

impl Builds {
    /// Runs one `dltar` task.
    pub async fn download(
        &self,
        params: DltarParams,
        ctx: TaskContext,
    ) -> Result<TaskOutput, TaskError> {
        let name = Incoming::name_of(ctx.name());
        let outcome = self.fetch(&params, &ctx).await;
        match outcome {
            Ok(size) => Ok(
                TaskOutput::from(json!({ "sizeBytes": size })).then(processing(
                    &params.org,
                    &params.app,
                    &params.build_name,
                    ctx.name(),
                )),
            ),
            Err(TaskError::Interrupted) => Err(TaskError::Interrupted),
            Err(failed) => {
                let _ = self.incoming.discard(&name).await;
                Err(failed)
            }
        }
    }

    /// Downloads until complete; returns the tar's size.
    async fn fetch(&self, params: &DltarParams, ctx: &TaskContext) -> Result<u64, TaskError> {
        let settings = &self.settings;
        let failed = |f: Failure| download_failed(f.status, f.exit, &params.url, &f.message);
        let url = reqwest::Url::parse(&params.url).map_err(|e| {
            failed(Failure {
                status: 0,
                exit: ExitCode::BadUrl,
                message: format!("the URL is malformed: {e}"),
                retry: false,
            })
        })?;
        if let Err(refused) = settings.url_policy.check_literal(&url) {
            return Err(failed(Failure {
                status: 0,
                exit: ExitCode::Connect,
                message: refused.to_string(),
                retry: false,
            }));
        }
        let client = settings
            .url_policy
            .download_client(settings.connect_timeout, settings.read_timeout)
            .map_err(|e| TaskError::internal(e.to_string()))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt(&client, url.clone(), ctx).await {
                Ok(size) => {
                    if let Some(expected) = params.size.filter(|e| *e != size) {
                        return Err(size_mismatch(size, expected));
                    }
                    return Ok(size);
                }
                Err(Attempt::Task(e)) => return Err(e),
                Err(Attempt::Failed(f)) if f.retry && attempt < ATTEMPTS => {
                    tracing::warn!(task = %ctx.name(), reason = %f.message, "download broke off; continuing");
                }
                Err(Attempt::Failed(f)) => return Err(failed(f)),
            }
        }
    }

    /// One request: continues from what is on disk when the server allows it.
    async fn attempt(
        &self,
        client: &reqwest::Client,
        url: reqwest::Url,
        ctx: &TaskContext,
    ) -> Result<u64, Attempt> {
        let task = ctx.name();
        let have = self
            .incoming
            .received(task)
            .await
            .map_err(|e| disk_failure(&e))?;
        let mut request = client.get(url);
        if have > 0 {
            request = request.header(RANGE, format!("bytes={have}-"));
        }
        let response = request.send().await.map_err(|e| request_failure(&e))?;
        let status = response.status();
        let offset = match status {
            StatusCode::PARTIAL_CONTENT => have,
            StatusCode::RANGE_NOT_SATISFIABLE if have > 0 => {
                // What is on disk is already the whole file, or the file changed: start over.
                self.incoming
                    .discard(&Incoming::name_of(task))
                    .await
                    .map_err(|e| disk_failure(&e))?;
                return Err(Attempt::Failed(Failure {
                    status: status.as_u16(),
                    exit: ExitCode::HttpError,
                    message: "the server refused to continue the download; retrying from the start"
                        .into(),
                    retry: true,
                }));
            }
            s if s.is_success() => 0,
            s => {
                return Err(Attempt::Failed(Failure {
                    status: s.as_u16(),
                    exit: ExitCode::HttpError,
                    message: format!("the server answered {s}"),
                    retry: false,
                }));
            }
        };
        let max = self.settings.max_size;
        let announced = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|len| offset + len > max) {
            return Err(too_large(status.as_u16(), max));
        }
        let total = announced.map(|len| offset + len);
        let body = tokio_util::io::StreamReader::new(
            response.bytes_stream().map_err(std::io::Error::other),
        );
        let copy = self.incoming.append(task, offset, body, max);
        tokio::pin!(copy);
        loop {
            tokio::select! {
                copied = &mut copy => {
                    return copied.map_err(|e| match e {
                        IncomingError::TooLarge { max } => too_large(status.as_u16(), max),
                        IncomingError::Disk(e) => disk_failure(&e),
                        IncomingError::Source(e) => Attempt::Failed(Failure {
                            status: status.as_u16(),
                            exit: ExitCode::Receive,
                            message: format!("the connection broke off: {e}"),
                            retry: true,
                        }),
                    });
                }
                _ = ctx.stop().cancelled() => return Err(Attempt::Task(TaskError::Interrupted)),
                _ = tokio::time::sleep(REPORT_EVERY) => {
                    let received = self.incoming.received(task).await.unwrap_or(0);
                    let percent = total.map_or(0.0, |t| received as f64 * 100.0 / t.max(1) as f64);
                    ctx.report("download", percent).await.map_err(Attempt::Task)?;
                }
            }
        }
    }
}

/// How an attempt ended badly.
enum Attempt {
    Failed(Failure),
    Task(TaskError),
}

fn too_large(status: u16, max: u64) -> Attempt {
    Attempt::Failed(Failure {
        status,
        exit: ExitCode::TooLarge,
        message: format!("the build exceeds the maximum of {max} bytes (builds.max_size_mb)"),
        retry: false,
    })
}

fn disk_failure(error: &std::io::Error) -> Attempt {
    Attempt::Failed(Failure {
        status: 0,
        exit: ExitCode::Write,
        message: format!("cannot store the download: {error}"),
        retry: false,
    })
}

/// Names a request failure with curl's exit code for it.
fn request_failure(error: &reqwest::Error) -> Attempt {
    let mut source: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<AddressRefused>() {
            return failure(ExitCode::Connect, refused.to_string(), false);
        }
        if cause.downcast_ref::<TooManyRedirects>().is_some() {
            return failure(ExitCode::Redirects, cause.to_string(), false);
        }
        source = cause.source();
    }
    let text = format!("{error:?}").to_ascii_lowercase();
    if error.is_timeout() {
        failure(
            ExitCode::Timeout,
            "the server did not answer in time".into(),
            true,
        )
    } else if text.contains("dns error") || text.contains("failed to lookup") {
        failure(
            ExitCode::Resolve,
            "the host name does not resolve".into(),
            false,
        )
    } else if text.contains("certificate") || text.contains("tls") {
        failure(ExitCode::Tls, "the TLS handshake failed".into(), false)
    } else if error.is_connect() {
        failure(
            ExitCode::Connect,
            "cannot connect to the server".into(),
            true,
        )
    } else {
        failure(
            ExitCode::Receive,
            "the request failed before an answer".into(),
            true,
        )
    }
}

fn failure(exit: ExitCode, message: String, retry: bool) -> Attempt {
    Attempt::Failed(Failure {
        status: 0,
        exit,
        message,
        retry,
    })
}
