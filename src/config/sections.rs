//! The sections of the configuration, each with its compiled defaults. Every key is documented
//! here and in docs/OPERATIONS.md; packaging/config.toml shows the defaults.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
/// Listeners and request handling.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// HTTPS listen address.
    pub https_listen: String,
    /// Plain HTTP listen address, or `off`.
    pub http_listen: String,
    /// Extra DNS names and IP addresses for the self-signed certificate.
    pub public_names: Vec<String>,
    /// Answer 503 `maintenance` on everything but `/srv/v1/*`.
    pub maintenance: bool,
    /// Largest accepted JSON body in bytes.
    pub json_limit_bytes: usize,
    /// Seconds running requests get to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// HTTP worker threads (0 = number of cores).
    pub workers: usize,
    /// Reverse proxies (IP addresses) whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            https_listen: "0.0.0.0:8443".into(),
            http_listen: "127.0.0.1:8080".into(),
            public_names: Vec::new(),
            maintenance: false,
            json_limit_bytes: 1 << 20,
            shutdown_timeout_secs: 30,
            workers: 0,
            trusted_proxies: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// The plain HTTP address, `None` when disabled with `off`.
    pub fn http_listen(&self) -> Option<&str> {
        let value = self.http_listen.trim();
        (!value.is_empty() && !value.eq_ignore_ascii_case("off")).then_some(value)
    }
}

/// Where the appliance keeps its state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// The data dir (store, secrets, TLS, depot, work files).
    pub data_dir: PathBuf,
    /// `/healthz` fails when free disk space in the data dir drops below this many MiB.
    pub min_free_disk_mb: u64,
    /// redb page cache in MiB.
    pub cache_size_mb: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            min_free_disk_mb: 512,
            cache_size_mb: 64,
        }
    }
}

/// TLS certificate source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Operator certificate chain (PEM); when set with `key_file` it replaces the self-signed one.
    pub cert_file: Option<PathBuf>,
    /// Operator private key (PEM).
    pub key_file: Option<PathBuf>,
    /// Seconds between checks of the certificate files for changes (and of the self-signed
    /// certificate's expiry).
    pub reload_interval_secs: u64,
    /// Days a self-signed leaf certificate is valid (at most 397, what browsers accept).
    pub self_signed_days: u32,
    /// A self-signed leaf certificate is re-issued this many days before it expires.
    pub renew_days_before: u32,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_file: None,
            key_file: None,
            reload_interval_secs: 10,
            self_signed_days: 397,
            renew_days_before: 30,
        }
    }
}

/// The durable job runner.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Light tasks (cleanups, downloads, publishing) running at once (0 = number of cores).
    pub workers: usize,
    /// Heavy tasks (engine processing) running at once, besides the light ones
    /// (0 = number of cores).
    pub heavy_workers: usize,
    /// Seconds a worker's claim on a task lasts without renewal.
    pub lease_secs: u64,
    /// Default duration of a `hello` task in milliseconds (lets tests interrupt one).
    pub hello_delay_ms: u64,
    /// Tasks of one org running at once in each pool (0 = the pool's workers but one, at
    /// least one), so other orgs always find a worker.
    pub max_per_org: usize,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            workers: 0,
            heavy_workers: 0,
            lease_secs: 30,
            hello_delay_ms: 0,
            max_per_org: 0,
        }
    }
}

/// Credentials, tokens and login protection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Base64 admin secret, e.g. migrated from another installation (overrides the generated one).
    pub admin_secret: Option<String>,
    /// File holding the base64 admin secret.
    pub admin_secret_file: Option<PathBuf>,
    /// Lifetime of access tokens in seconds.
    pub access_token_secs: i64,
    /// Lifetime of refresh tokens (and so of an idle session) in seconds.
    pub refresh_token_secs: i64,
    /// Lifetime of org-selection tokens in seconds.
    pub org_selection_secs: i64,
    /// Failed logins in a row that lock a username out.
    pub max_failures_per_user: u32,
    /// Failed logins in a row that lock a client address out.
    pub max_failures_per_address: u32,
    /// Seconds a lockout lasts.
    pub lockout_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            admin_secret: None,
            admin_secret_file: None,
            access_token_secs: 900,
            refresh_token_secs: 86_400,
            org_selection_secs: 900,
            max_failures_per_user: 10,
            max_failures_per_address: 50,
            lockout_secs: 300,
        }
    }
}

/// Event delivery to subscriptions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Seconds one delivery attempt may take.
    pub timeout_secs: u64,
    /// Longest wait between attempts in seconds (backoff doubles from 1 s).
    pub max_backoff_secs: u64,
    /// Seconds after which an undeliverable event is dropped (and recorded on the subscription).
    pub max_age_secs: u64,
    /// Milliseconds between checks of the event outbox.
    pub poll_interval_ms: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 10,
            max_backoff_secs: 300,
            max_age_secs: 86_400,
            poll_interval_ms: 500,
        }
    }
}

/// The S3 origins of deployments.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OriginsConfig {
    /// Let origins have loopback, private or link-local addresses (local S3 servers, tests).
    /// Off by default: an org's user picks an origin's host, and the appliance must not become
    /// its probe into the network around it.
    pub allow_private: bool,
    /// Part size of multipart uploads in MiB (5..=512, the S3 limits); files up to it go in
    /// one PUT. Each part in flight is buffered once, so a deploy holds about this times
    /// `parallel_requests`.
    pub part_size_mb: u64,
    /// Requests (parts) one deploy sends at once.
    pub parallel_requests: usize,
    /// Retries of a failed request (connection lost, 5xx, timeout) with growing pauses before
    /// the deploy fails.
    pub retries: u32,
    /// Seconds one request to an origin may take.
    pub request_timeout_secs: u64,
}

impl Default for OriginsConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            part_size_mb: 8,
            parallel_requests: 8,
            retries: 4,
            request_timeout_secs: 120,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `tracing` filter, e.g. `info` or `rockit_edge=debug` (`RUST_LOG` wins when set).
    pub level: String,
    /// How each log line is written.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Backups the running server writes by itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Seconds between scheduled backups; 0 turns them off.
    pub interval_secs: u64,
    /// Scheduled backups kept; older ones are removed after each new one.
    pub keep: usize,
    /// Put the depot's files in scheduled backups too.
    pub with_depot: bool,
    /// Where scheduled backups go; empty: the data dir's `backups/`.
    pub dir: PathBuf,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            interval_secs: 0,
            keep: 7,
            with_depot: false,
            dir: PathBuf::new(),
        }
    }
}

/// Who may read `GET /metrics` without an admin token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Client addresses (`10.0.0.5`) and networks (`10.0.0.0/8`) a scraper may come from.
    pub allow_from: Vec<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            allow_from: vec!["127.0.0.1".into(), "::1".into()],
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people: `LEVEL target: message key=value ...` (the time left out under journald,
    /// which adds its own).
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Receiving and processing builds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuildsConfig {
    /// Largest build tar accepted, by upload or download, in MiB (413 beyond it).
    pub max_size_mb: u64,
    /// Seconds an upload URL stays valid; an upload not completed by then is expired and its
    /// partial file removed.
    pub upload_expiry_secs: u64,
    /// Seconds files that are no longer current (rotated builds, their patches) stay on the
    /// depot, so launchers mid-download finish.
    pub grace_secs: u64,
    /// Memory budget of one patch computation in MiB: more indexes more of the old image and
    /// can find more matches. Each heavy worker may use this much at once.
    pub patch_budget_mb: u64,
    /// Seconds a build download may take to connect.
    pub download_connect_timeout_secs: u64,
    /// Seconds a build download may wait for the next bytes.
    pub download_read_timeout_secs: u64,
    /// Let build URLs have loopback, private or link-local addresses (a build server on the
    /// same network, tests). Off by default, for the reason `origins.allow_private` is.
    pub allow_private_urls: bool,
}

impl Default for BuildsConfig {
    fn default() -> Self {
        Self {
            max_size_mb: 512 << 10,
            upload_expiry_secs: 86_400,
            grace_secs: 86_400,
            patch_budget_mb: 1024,
            download_connect_timeout_secs: 30,
            download_read_timeout_secs: 60,
            allow_private_urls: false,
        }
    }
}

/// The appliance's own download origin, `/depot/...`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DepotConfig {
    /// Serve depot files without a signature (a CDN in front that signs on its own, a LAN).
    pub public: bool,
    /// Seconds the signed depot URLs of `/client/v1/auth` stay valid.
    pub url_ttl_secs: u64,
}

impl Default for DepotConfig {
    fn default() -> Self {
        Self {
            public: false,
            url_ttl_secs: 3600,
        }
    }
}

/// Learning the access order from launchers' play-session traces.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    /// Traces of an app's current image that start its training, unless the app sets its own
    /// `nTracesReliable`.
    pub traces_reliable: u32,
    /// Largest trace body accepted, in KiB, as sent (compressed or not).
    pub max_trace_kb: u64,
    /// Largest trace once decompressed, in KiB: a body that decodes to more is refused.
    pub max_decoded_trace_kb: u64,
    /// The most recent traces of an image one training reads.
    pub max_traces_used: usize,
    /// A session whose blocks read before launch are less alike the others' than this share
    /// of the typical session's similarity is left out as an outlier (0 keeps every session).
    pub outlier_share: f64,
    /// Share of the sessions used that must read a block before launch for it to be in the
    /// preload (0: any one of them).
    pub preload_quorum: f64,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            traces_reliable: 10,
            max_trace_kb: 4096,
            max_decoded_trace_kb: 32768,
            max_traces_used: 100,
            outlier_share: 0.5,
            preload_quorum: 0.0,
        }
    }
}
