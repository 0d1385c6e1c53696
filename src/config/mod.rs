//! Layered configuration: compiled defaults < TOML file < `ROCKIT_EDGE__SECTION__KEY` env < flags.
//!
//! Every layer is merged as a TOML tree and deserialized once, with unknown keys refused, so a
//! typo in a file or an env variable is an error at start-up instead of a silently ignored knob.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod sections;

pub use sections::*;

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
    pub builds: BuildsConfig,
    pub depot: DepotConfig,
    pub training: TrainingConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub backup: BackupConfig,
}

/// Values from command-line flags, the top layer.
#[derive(Debug, Clone, Default)]
pub struct FlagOverrides {
    pub data_dir: Option<PathBuf>,
    pub https_listen: Option<String>,
    pub http_listen: Option<String>,
    pub log_format: Option<String>,
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
        crate::publish::guard::AddressPolicy::for_origins(self.origins.allow_private)
    }

    /// How deploys send files to origins.
    pub fn transfer_settings(&self) -> crate::publish::transfer::TransferSettings {
        crate::publish::transfer::TransferSettings {
            part_size: self.origins.part_size_mb << 20,
            parallel: self.origins.parallel_requests,
            retries: self.origins.retries,
            request_timeout: std::time::Duration::from_secs(self.origins.request_timeout_secs),
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
        if let Some(format) = &flags.log_format {
            flag_layer.push((["log", "format"], format.clone()));
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
        if self.backup.interval_secs > 0 && self.backup.keep == 0 {
            return Err(ConfigError::Invalid(
                "backup.keep must be at least 1 when backup.interval_secs is set".into(),
            ));
        }
        if self.auth.max_failures_per_user == 0 || self.auth.max_failures_per_address == 0 {
            return Err(ConfigError::Invalid(
                "auth.max_failures_* must be at least 1".into(),
            ));
        }
        if !(5..=512).contains(&self.origins.part_size_mb)
            || !(1..=64).contains(&self.origins.parallel_requests)
            || self.origins.request_timeout_secs == 0
        {
            return Err(ConfigError::Invalid(
                "origins.part_size_mb must be 5 to 512, origins.parallel_requests 1 to 64 and \
                 origins.request_timeout_secs at least 1"
                    .into(),
            ));
        }
        let training = &self.training;
        if training.traces_reliable == 0
            || training.max_traces_used == 0
            || training.max_trace_kb == 0
            || training.max_decoded_trace_kb < training.max_trace_kb
            || !(0.0..=1.0).contains(&training.outlier_share)
            || !(0.0..=1.0).contains(&training.preload_quorum)
        {
            return Err(ConfigError::Invalid(
                "training.traces_reliable, training.max_traces_used and training.max_trace_kb \
                 must be at least 1, training.max_decoded_trace_kb at least max_trace_kb, and \
                 training.outlier_share and training.preload_quorum 0 to 1"
                    .into(),
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
