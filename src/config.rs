//! Layered configuration: compiled defaults < TOML file < `ROCKIT_EDGE__SECTION__KEY` env < flags.
//!
//! Every layer is merged as a TOML tree and deserialized once, with unknown keys refused, so a
//! typo in a file or an env variable is an error at start-up instead of a silently ignored knob.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Prefix of environment variables that override config keys (`ROCKIT_EDGE__SERVER__HTTPS_LISTEN`).
pub const ENV_PREFIX: &str = "ROCKIT_EDGE__";

/// Shown instead of a secret in `config show` and logs.
pub const MASK: &str = "********";

/// A URL as it may be logged or shown: user-info and query string (where secrets hide) masked.
pub fn mask_url(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return MASK.into();
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        let _ = parsed.set_username(MASK);
        let _ = parsed.set_password(None);
    }
    if parsed.query().is_some() {
        parsed.set_query(Some(MASK));
    }
    parsed.set_fragment(None);
    parsed.to_string()
}

/// The effective configuration of one appliance process.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub tls: TlsConfig,
    pub jobs: JobsConfig,
    pub auth: AuthConfig,
    pub webhooks: WebhooksConfig,
    pub origins: OriginsConfig,
    pub log: LogConfig,
}

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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OriginsConfig {
    /// Let origins have loopback, private or link-local addresses (local S3 servers, tests).
    /// Off by default: an org's user picks an origin's host, and the appliance must not become
    /// its probe into the network around it.
    pub allow_private: bool,
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `tracing` filter, e.g. `info` or `rockit_edge=debug` (`RUST_LOG` wins when set).
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
        }
    }
}

/// Values from command-line flags, the top layer.
#[derive(Debug, Clone, Default)]
pub struct FlagOverrides {
    pub data_dir: Option<PathBuf>,
    pub https_listen: Option<String>,
    pub http_listen: Option<String>,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "environment variable {name} does not name a config key (expected {ENV_PREFIX}SECTION__KEY)"
    )]
    EnvName { name: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// The address rule for origins.
    pub fn origin_policy(&self) -> crate::publish::guard::AddressPolicy {
        crate::publish::guard::AddressPolicy {
            allow_private: self.origins.allow_private,
        }
    }

    /// Builds the effective config from all layers.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &FlagOverrides,
    ) -> Result<Config, ConfigError> {
        let defaults = toml::Value::try_from(Config::default())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let mut tree = defaults.clone();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let layer: toml::Value = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.message().to_string(),
            })?;
            merge(&mut tree, layer);
        }
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            if keys.len() != 2 || keys.iter().any(String::is_empty) {
                return Err(ConfigError::EnvName { name });
            }
            let value = env_value(&defaults, &keys, &raw);
            set(&mut tree, &keys, value);
        }
        let mut flag_layer = Vec::new();
        if let Some(dir) = &flags.data_dir {
            flag_layer.push((["storage", "data_dir"], dir.display().to_string()));
        }
        if let Some(addr) = &flags.https_listen {
            flag_layer.push((["server", "https_listen"], addr.clone()));
        }
        if let Some(addr) = &flags.http_listen {
            flag_layer.push((["server", "http_listen"], addr.clone()));
        }
        for (keys, value) in flag_layer {
            set(
                &mut tree,
                &keys.map(String::from),
                toml::Value::String(value),
            );
        }
        let config: Config = tree
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=397).contains(&self.tls.self_signed_days)
            || self.tls.renew_days_before >= self.tls.self_signed_days
        {
            return Err(ConfigError::Invalid(
                "tls.self_signed_days must be 1 to 397 and tls.renew_days_before less than it"
                    .into(),
            ));
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return Err(ConfigError::Invalid(
                "tls.cert_file and tls.key_file must be set together".into(),
            ));
        }
        if self.auth.access_token_secs < 1
            || self.auth.refresh_token_secs < 1
            || self.auth.org_selection_secs < 1
        {
            return Err(ConfigError::Invalid(
                "auth token lifetimes must be at least 1 second".into(),
            ));
        }
        if self.auth.max_failures_per_user == 0 || self.auth.max_failures_per_address == 0 {
            return Err(ConfigError::Invalid(
                "auth.max_failures_* must be at least 1".into(),
            ));
        }
        if self.jobs.lease_secs < 2 {
            return Err(ConfigError::Invalid(
                "jobs.lease_secs must be at least 2".into(),
            ));
        }
        Ok(())
    }

    /// The config as TOML with every secret replaced by [`MASK`], for `config show`.
    pub fn masked_toml(&self) -> String {
        let mut shown = self.clone();
        if shown.auth.admin_secret.is_some() {
            shown.auth.admin_secret = Some(MASK.into());
        }
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }

    /// Light tasks that may run at once.
    pub fn job_workers(&self) -> usize {
        resolve_count(self.jobs.workers)
    }

    /// Heavy tasks that may run at once.
    pub fn heavy_job_workers(&self) -> usize {
        resolve_count(self.jobs.heavy_workers)
    }

    /// Tasks of one org running at once in a pool of `workers`.
    pub fn jobs_per_org(&self, workers: usize) -> usize {
        match self.jobs.max_per_org {
            0 => workers.saturating_sub(1).max(1),
            n => n,
        }
    }

    /// HTTP worker threads.
    pub fn http_workers(&self) -> usize {
        resolve_count(self.server.workers)
    }
}

fn resolve_count(configured: usize) -> usize {
    if configured > 0 {
        configured
    } else {
        std::thread::available_parallelism().map_or(2, usize::from)
    }
}

/// An env value is a TOML literal when the key's default is not a string (numbers, booleans,
/// lists), and the raw text otherwise, so `ROCKIT_EDGE__AUTH__ADMIN_SECRET=1234` stays a string.
fn env_value(defaults: &toml::Value, keys: &[String], raw: &str) -> toml::Value {
    let default = keys.iter().try_fold(defaults, |node, key| node.get(key));
    let wants_literal = match default {
        Some(toml::Value::String(_)) => false,
        Some(_) => true,
        None => raw.trim_start().starts_with('['),
    };
    if wants_literal
        && let Ok(table) = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        && let Some(value) = table.get("v")
    {
        return value.clone();
    }
    toml::Value::String(raw.to_string())
}

fn merge(base: &mut toml::Value, layer: toml::Value) {
    match (base, layer) {
        (toml::Value::Table(base), toml::Value::Table(layer)) => {
            for (key, value) in layer {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, layer) => *base = layer,
    }
}

fn set(tree: &mut toml::Value, keys: &[String], value: toml::Value) {
    let mut layer = value;
    for key in keys.iter().rev() {
        let mut table = toml::Table::new();
        table.insert(key.clone(), layer);
        layer = toml::Value::Table(table);
    }
    merge(tree, layer);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[server]\nhttps_listen = \"1.2.3.4:1\"\nhttp_listen = \"off\"\n[jobs]\nworkers = 3\n",
        )
        .expect("write");
        let flags = FlagOverrides {
            https_listen: Some("5.6.7.8:2".into()),
            ..Default::default()
        };
        let config = Config::load(
            Some(&file),
            env(&[
                ("ROCKIT_EDGE__JOBS__WORKERS", "7"),
                ("ROCKIT_EDGE__AUTH__ADMIN_SECRET", "1234"),
                ("OTHER", "x"),
            ]),
            &flags,
        )
        .expect("load");
        assert_eq!(config.server.https_listen, "5.6.7.8:2");
        assert_eq!(config.server.http_listen(), None);
        assert_eq!(config.jobs.workers, 7);
        assert_eq!(config.auth.admin_secret.as_deref(), Some("1234"));
        assert!(config.masked_toml().contains(MASK));
        assert!(!config.masked_toml().contains("1234"));
    }

    #[test]
    fn urls_lose_their_secrets() {
        assert_eq!(
            mask_url("https://user:pw@hooks.example/x?token=abc#f"),
            "https://********@hooks.example/x?********"
        );
        assert_eq!(mask_url("http://h/p"), "http://h/p");
        assert_eq!(mask_url("not a url"), MASK);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = Config::load(
            None,
            env(&[("ROCKIT_EDGE__SERVER__NOPE", "1")]),
            &Default::default(),
        )
        .expect_err("unknown key");
        assert!(err.to_string().contains("nope"), "{err}");
        let err = Config::load(
            None,
            env(&[("ROCKIT_EDGE__SERVER", "1")]),
            &Default::default(),
        )
        .expect_err("bad name");
        assert!(matches!(err, ConfigError::EnvName { .. }));
    }
}
