//! HTTP to the appliance and its CDNs: one connection pool (HTTP/1.1 keep-alive, HTTP/2 where
//! the server offers it by ALPN), the appliance's `POST /client/v1/auth`, and single range
//! requests whose failures are sorted into what a retry can cure and what it cannot.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::{Client, ClientBuilder, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ClientError;
use super::limit::RateLimit;
use super::release::{FileRef, Release, ServerOptions};

/// A client builder that trusts `ca_cert` (PEM) besides the system roots, or any certificate
/// with `insecure`: how the tools reach an appliance with its self-signed certificate.
pub fn trusting(ca_cert: Option<&Path>, insecure: bool) -> Result<ClientBuilder, String> {
    let mut builder = Client::builder().connect_timeout(Duration::from_secs(30));
    if let Some(path) = ca_cert {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read the CA certificate {}: {e}", path.display()))?;
        let certificate = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("{} is not a PEM certificate: {e}", path.display()))?;
        builder = builder.add_root_certificate(certificate);
    }
    if insecure {
        builder = builder.danger_accept_invalid_certs(true);
    }
    Ok(builder)
}

/// The HTTP client of a launcher: a read timeout so a stalled transfer is retried instead of
/// hanging.
pub(super) fn launcher_client(options: &ServerOptions) -> Result<Client, ClientError> {
    trusting(options.ca_cert.as_deref(), options.insecure)
        .map_err(ClientError::Input)?
        .read_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(16)
        .build()
        .map_err(|e| ClientError::Input(format!("cannot build an HTTP client: {e}")))
}

/// Signed URLs of one source, as `POST /client/v1/auth` lists them.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Urls {
    #[serde(default)]
    dxf: HashMap<String, String>,
    #[serde(default)]
    patches: HashMap<String, HashMap<String, String>>,
}

impl Urls {
    /// The URL of `file`, if the source lists it.
    pub fn of(&self, file: &FileRef) -> Option<&str> {
        match file {
            FileRef::Image(name) => self.dxf.get(*name),
            FileRef::Patch { key, name } => self.patches.get(key)?.get(*name),
        }
        .map(String::as_str)
    }
}

/// Asks the appliance for the app's current release and the URLs of `options.source`.
pub(super) async fn authorize(
    http: &Client,
    options: &ServerOptions,
) -> Result<(Release, Urls), ClientError> {
    let url = format!("{}/client/v1/auth", options.server.trim_end_matches('/'));
    let body = json!({
        "orgName": options.org,
        "appName": options.app,
        "accessKey": options.access_key,
    });
    let response = http
        .post(&url)
        .json(&body)
        .send()
        .await
        .map_err(|e| ClientError::Download {
            path: "/client/v1/auth".into(),
            reason: e.to_string(),
        })?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        let message = answer["message"].as_str().unwrap_or("no message");
        return Err(ClientError::Auth(message.to_string()));
    }
    if !status.is_success() {
        return Err(ClientError::Download {
            path: "/client/v1/auth".into(),
            reason: format!("status {status}: {}", answer["message"]),
        });
    }
    let release = Release::from_auth(&answer)?;
    let urls = answer["sources"]
        .get(&options.source)
        .cloned()
        .ok_or_else(|| {
            let known: Vec<&String> = answer["sources"]
                .as_object()
                .map(|s| s.keys().collect())
                .unwrap_or_default();
            ClientError::Input(format!(
                "the app has no download source '{}' (it has: {})",
                options.source,
                known
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let urls: Urls = serde_json::from_value(urls)
        .map_err(|e| ClientError::Input(format!("unreadable source URLs: {e}")))?;
    Ok((release, urls))
}

/// Why one request failed.
#[derive(Debug)]
pub(super) enum Failure {
    /// A broken connection, a timeout or a server error: a retry may succeed.
    Transient(String),
    /// 403 or 410: the signed URL expired or was refused; ask for new URLs, then retry.
    Expired(u16),
    /// 404 and other client errors: retried a few times (an origin catching up), then final.
    Refused(u16),
    /// The caller stopped reading (its reason is its own).
    Stopped,
}

/// The URL's path without its query (the signature), for messages.
pub(super) fn path_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| url.split('?').next().unwrap_or_default().to_string())
}

/// One GET of bytes `start..end` of `url` (`end` none: to the end), handing the body to
/// `visit` piece by piece, each once `limit` lets it pass (urgently or not), until `visit`
/// returns false.
pub(super) async fn get_range(
    http: &Client,
    url: &str,
    (start, end): (u64, Option<u64>),
    limit: Option<(&RateLimit, bool)>,
    visit: &mut (dyn FnMut(&[u8]) -> bool + Send),
) -> Result<(), Failure> {
    let range = match end {
        Some(end) => format!("bytes={start}-{}", end - 1),
        None => format!("bytes={start}-"),
    };
    let response = http
        .get(url)
        .header(RANGE, range)
        .send()
        .await
        .map_err(|e| Failure::Transient(e.to_string()))?;
    let status = response.status();
    match status {
        StatusCode::PARTIAL_CONTENT => {
            let starts_right = response
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("bytes "))
                .and_then(|v| v.split('-').next())
                .is_some_and(|first| first == start.to_string());
            if !starts_right {
                return Err(Failure::Transient("a range answer for other bytes".into()));
            }
        }
        // A whole-file answer is what was asked only when asking from the start.
        StatusCode::OK if start == 0 => {}
        StatusCode::OK => return Err(Failure::Transient("the server ignored the range".into())),
        StatusCode::FORBIDDEN | StatusCode::GONE => return Err(Failure::Expired(status.as_u16())),
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
            return Err(Failure::Transient(format!("status {s}")));
        }
        s => return Err(Failure::Refused(s.as_u16())),
    }
    let mut body = response.bytes_stream();
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| Failure::Transient(format!("the transfer broke: {e}")))?;
        if let Some((limit, urgent)) = limit {
            limit.take(piece.len() as u64, urgent).await;
        }
        if !visit(&piece) {
            return Err(Failure::Stopped);
        }
    }
    Ok(())
}

/// What the appliance said to an uploaded trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceReceipt {
    /// The trace's identity.
    pub digest: String,
    /// True when the appliance had it already.
    pub duplicate: bool,
}

/// Sends a session's trace to `POST /client/v1/traces`, gzip-compressed, with the access key.
pub(super) async fn upload_trace(
    http: &Client,
    options: &ServerOptions,
    trace: &crate::engine::trace::Trace,
) -> Result<TraceReceipt, ClientError> {
    use std::io::Write;
    const PATH: &str = "/client/v1/traces";
    let failed = |reason: String| ClientError::Download {
        path: PATH.into(),
        reason,
    };
    let mut body = serde_json::to_value(trace).map_err(|e| failed(e.to_string()))?;
    body["orgName"] = json!(options.org);
    body["appName"] = json!(options.app);
    body["accessKey"] = json!(options.access_key);
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    serde_json::to_writer(&mut gzip, &body).map_err(|e| failed(e.to_string()))?;
    let compressed = gzip
        .flush()
        .and_then(|()| gzip.finish())
        .map_err(|e| failed(e.to_string()))?;
    let response = http
        .post(format!("{}{PATH}", options.server.trim_end_matches('/')))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::CONTENT_ENCODING, "gzip")
        .body(compressed)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if status == StatusCode::UNAUTHORIZED {
        let message = answer["message"].as_str().unwrap_or("no message");
        return Err(ClientError::Auth(message.to_string()));
    }
    if !status.is_success() {
        return Err(failed(format!("status {status}: {}", answer["message"])));
    }
    Ok(TraceReceipt {
        digest: answer["trace"]["digest"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        duplicate: answer["trace"]["duplicate"].as_bool().unwrap_or(false),
    })
}
