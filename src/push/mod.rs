//! `rockit-edge push`: the publisher's side of an import, as CI pipelines use it. A tar, or
//! a directory packed on the fly as a deterministic tar stream, goes up through the resumable
//! upload of `POST /be/v1/builds`; an interrupted push run again continues where the server's
//! copy ends. Optionally follows the build's processing to its end.

mod source;
mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

pub use source::Source;
use state::Resume;

/// How a push is made.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// The appliance (`https://host:port`).
    pub server: String,
    pub org: String,
    pub app: String,
    /// The build's name (default: the server's).
    pub name: Option<String>,
    /// A machine user's API key.
    pub api_key: String,
    /// A CA certificate (PEM) to trust, for the appliance's self-signed certificate.
    pub ca_cert: Option<PathBuf>,
    /// Trust any certificate.
    pub insecure: bool,
    /// The tar file or directory.
    pub path: PathBuf,
    /// Bytes per second to send at most (a shared uplink, a test of an interruption).
    pub limit_rate: Option<u64>,
}

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The options or the input cannot be used.
    #[error("{0}")]
    Input(String),
    /// The appliance refused a request.
    #[error("{what}: the appliance answered {status}: {message}")]
    Refused {
        what: &'static str,
        status: u16,
        message: String,
    },
    /// The network failed more often than retries cover.
    #[error("{0}")]
    Network(String),
    /// The build was received but its processing failed.
    #[error("processing failed: {0}")]
    Processing(Value),
}

/// What a finished upload is.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The `mkraw` task processing the build.
    pub task_name: String,
    /// Bytes of the tar.
    pub total: u64,
    /// Bytes this run sent (less than `total` when it resumed).
    pub sent: u64,
    /// Where this run started.
    pub resumed_at: u64,
}

/// Bytes sent so far, for a progress display.
#[derive(Debug, Default)]
pub struct Meter {
    pub sent: AtomicU64,
    pub total: AtomicU64,
}

/// Attempts of the upload when the connection breaks (each continues the last).
const ATTEMPTS: u32 = 5;

/// The HTTP client for the appliance. HTTP/1.1: one large upload over HTTP/2 is bound by the
/// receiver's flow-control window (measured: half the speed on loopback).
fn client(options: &PushOptions) -> Result<Client, PushError> {
    crate::client::http::trusting(options.ca_cert.as_deref(), options.insecure)
        .map_err(PushError::Input)?
        .http1_only()
        .build()
        .map_err(|e| PushError::Input(format!("cannot build an HTTP client: {e}")))
}

/// The appliance's message in an error body, or the status text.
async fn refusal(what: &'static str, response: reqwest::Response) -> PushError {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let message = body["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| "no error message".into());
    PushError::Refused {
        what,
        status,
        message,
    }
}

/// The JSON body of a successful answer; a refusal otherwise.
async fn answer(what: &'static str, response: reqwest::Response) -> Result<Value, PushError> {
    if !response.status().is_success() {
        return Err(refusal(what, response).await);
    }
    response
        .json()
        .await
        .map_err(|e| PushError::Network(format!("unreadable answer: {e}")))
}

/// Uploads the build; resumes the upload a previous run of the same push left unfinished.
pub async fn push(options: &PushOptions, meter: Arc<Meter>) -> Result<Pushed, PushError> {
    let source = Source::open(&options.path)?;
    let total = source.len();
    meter.total.store(total, Ordering::Relaxed);
    let client = client(options)?;
    let resume = Resume::new(options, &source);
    let (url, mut position) = match resume.load() {
        Some(saved) => match status(&client, &saved.upload_url, total).await {
            Ok(position) => (saved.upload_url, position),
            Err(_) => (
                start(options, &client, total, &resume).await?,
                Position::At(0),
            ),
        },
        None => (
            start(options, &client, total, &resume).await?,
            Position::At(0),
        ),
    };
    let resumed_at = match position {
        Position::At(offset) => offset,
        Position::Complete(_) => total,
    };
    let source = Arc::new(source);
    let mut attempts = 0;
    let task_name = loop {
        let offset = match position {
            Position::Complete(task) => break task,
            Position::At(offset) => offset,
        };
        attempts += 1;
        let sending = Sending {
            source: Arc::clone(&source),
            offset,
            total,
            limit: options.limit_rate,
        };
        position = match send(&client, &url, sending, &meter).await {
            Err(PushError::Network(reason)) if attempts < ATTEMPTS => {
                tracing::warn!(%reason, "the upload broke off; continuing");
                tokio::time::sleep(Duration::from_secs(1 << attempts.min(4))).await;
                status(&client, &url, total).await?
            }
            sent => sent?,
        };
    };
    resume.forget();
    Ok(Pushed {
        task_name,
        total,
        sent: meter.sent.load(Ordering::Relaxed),
        resumed_at,
    })
}

/// Where an upload stands.
enum Position {
    /// The server holds bytes `0..offset`.
    At(u64),
    /// Complete; the `mkraw` task's name.
    Complete(String),
}

/// Starts an import; the upload URL (remembered for a later run).
async fn start(
    options: &PushOptions,
    client: &Client,
    total: u64,
    resume: &Resume,
) -> Result<String, PushError> {
    let mut body = json!({ "appName": options.app, "size": total });
    if let Some(name) = &options.name {
        body["buildName"] = json!(name);
    }
    let response = client
        .post(format!(
            "{}/be/v1/builds",
            options.server.trim_end_matches('/')
        ))
        .header(AUTHORIZATION, format!("Bearer {}", options.api_key))
        .json(&body)
        .send()
        .await
        .map_err(|e| PushError::Network(format!("cannot reach {}: {e}", options.server)))?;
    let answer = answer("starting the import", response).await?;
    let url = answer["uploadUrl"]
        .as_str()
        .ok_or_else(|| PushError::Network("the answer has no uploadUrl".into()))?
        .to_string();
    resume.save(&url);
    Ok(url)
}

/// Asks how far the upload got (`Content-Range: bytes */TOTAL`).
async fn status(client: &Client, url: &str, total: u64) -> Result<Position, PushError> {
    let response = client
        .put(url)
        .header(CONTENT_RANGE, format!("bytes */{total}"))
        .header(CONTENT_LENGTH, 0)
        .send()
        .await
        .map_err(|e| PushError::Network(format!("cannot ask for the upload's state: {e}")))?;
    position("asking for the upload's state", response).await
}

/// Reads a `308` (with `Range`) or a `200` (complete).
async fn position(what: &'static str, response: reqwest::Response) -> Result<Position, PushError> {
    match response.status() {
        StatusCode::PERMANENT_REDIRECT => {
            let end = response
                .headers()
                .get(RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("bytes=0-"))
                .and_then(|v| v.parse::<u64>().ok());
            Ok(Position::At(end.map_or(0, |last| last + 1)))
        }
        _ => {
            let body = answer(what, response).await?;
            Ok(Position::Complete(
                body["taskName"].as_str().unwrap_or_default().to_string(),
            ))
        }
    }
}

/// What one upload request sends: the source's bytes from `offset` to `total`.
struct Sending {
    source: Arc<Source>,
    offset: u64,
    total: u64,
    limit: Option<u64>,
}

/// Sends the tar from `offset` to its end in one request.
async fn send(
    client: &Client,
    url: &str,
    sending: Sending,
    meter: &Arc<Meter>,
) -> Result<Position, PushError> {
    let Sending {
        source,
        offset,
        total,
        limit,
    } = sending;
    if offset >= total {
        return status(client, url, total).await;
    }
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    let counter = Arc::clone(meter);
    std::thread::spawn(move || source.stream_from(offset, total, limit, &counter, &sender));
    let body = reqwest::Body::wrap_stream(tokio_stream_of(receiver));
    let response = client
        .put(url)
        .header(
            CONTENT_RANGE,
            format!("bytes {offset}-{}/{total}", total - 1),
        )
        .header(CONTENT_LENGTH, total - offset)
        .body(body)
        .send()
        .await
        .map_err(|e| PushError::Network(format!("the upload broke off: {e}")))?;
    position("uploading", response).await
}

/// The chunks a reader thread sends, as a stream.
fn tokio_stream_of(
    mut receiver: tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// Follows the build's `mkraw` task to its end; the task when it is done.
pub async fn wait(
    options: &PushOptions,
    task: &str,
    mut on_progress: impl FnMut(&Value),
) -> Result<Value, PushError> {
    let client = client(options)?;
    let url = format!(
        "{}/be/v1/tasks/{task}",
        options.server.trim_end_matches('/')
    );
    loop {
        let response = client
            .get(&url)
            .header(AUTHORIZATION, format!("Bearer {}", options.api_key))
            .send()
            .await
            .map_err(|e| PushError::Network(format!("cannot follow the task: {e}")))?;
        let body = answer("following the task", response).await?;
        let task = body["task"].clone();
        on_progress(&task);
        match task["status"].as_str() {
            Some("done") => return Ok(task),
            Some("failed" | "expired") => {
                return Err(PushError::Processing(task["exception"].clone()));
            }
            _ => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

/// Reads a rate: bytes per second, with an optional `K`, `M` or `G` suffix (powers of 1024).
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((at, c)) if c.is_ascii_alphabetic() => (&text[..at], c.to_ascii_uppercase()),
        _ => (text, 'B'),
    };
    let shift = match unit {
        'B' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        _ => return Err(format!("{text}: the unit must be K, M or G")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text}: not a rate like 500K, 2M or 1.5G"))?;
    let rate = (value * f64::from(1u32 << shift)) as u64;
    if value.is_finite() && rate > 0 {
        Ok(rate)
    } else {
        Err(format!("{text}: the rate must be positive"))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates_take_binary_suffixes() {
        assert_eq!(parse_rate("500"), Ok(500));
        assert_eq!(parse_rate("2M"), Ok(2 << 20));
        assert_eq!(parse_rate("1.5k"), Ok(1536));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("3X").is_err());
        assert!(parse_rate("fast").is_err());
    }
}
