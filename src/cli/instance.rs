//! Commands about the appliance instance: run it, mint admin tokens, check its health.

use std::time::Duration;

use anyhow::{Context, bail};

use crate::auth::admin::AdminAuth;
use crate::config::{Config, LogFormat};
use crate::datadir::DataDir;
use crate::server::runtime::RuntimeInfo;
use crate::server::secrets::Secrets;

/// Runs the server on a multi-threaded runtime with logging to stderr.
pub fn serve(config: Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .context("log.level is not a valid filter")?;
    let lines = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => lines.json().flatten_event(true).init(),
        // journald stamps every line itself.
        LogFormat::Text if std::env::var_os("JOURNAL_STREAM").is_some() => {
            lines.without_time().with_ansi(false).init()
        }
        LogFormat::Text => lines
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(crate::server::serve(config))
}

/// Prints an admin token signed with the data dir's (or the configured) admin secret.
pub fn admin_token(config: &Config, username: &str) -> anyhow::Result<()> {
    let username = username.trim();
    if username.is_empty() || username.chars().any(char::is_control) {
        bail!("--username must be a non-empty name without control characters");
    }
    let data_dir = DataDir::new(&config.storage.data_dir);
    let key = Secrets::admin_only(&data_dir, &config.auth).with_context(|| {
        format!(
            "no admin secret in {}; start the appliance once with this --data-dir, or set auth.admin_secret",
            data_dir.root().display()
        )
    })?;
    println!("{}", AdminAuth::new(key).issue(username)?);
    Ok(())
}

/// Asks the local server for `/healthz`: plain HTTP when enabled, else HTTPS on loopback.
pub fn healthcheck(config: &Config) -> anyhow::Result<()> {
    let data_dir = DataDir::new(&config.storage.data_dir);
    let url = match RuntimeInfo::read(&data_dir) {
        Some(RuntimeInfo {
            http: Some(http), ..
        }) => format!("http://127.0.0.1:{}/healthz", http.port()),
        Some(info) => format!("https://127.0.0.1:{}/healthz", info.https.port()),
        None => match config.server.http_listen() {
            Some(addr) => format!("http://{}/healthz", loopback(addr)),
            None => format!("https://{}/healthz", loopback(&config.server.https_listen)),
        },
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            // The check talks to this machine's own listener, whose certificate may not name
            // 127.0.0.1 (an operator certificate); it sends no credentials.
            .danger_accept_invalid_certs(true)
            .build()?;
        let response = client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("no answer from {url}"))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{url} answered {status}: {body}");
        }
        println!("healthy: {url}");
        Ok(())
    })
}

/// `0.0.0.0:P` and `[::]:P` mean "every address": check on loopback.
fn loopback(addr: &str) -> String {
    match addr.rsplit_once(':') {
        Some(("0.0.0.0" | "[::]", port)) => format!("127.0.0.1:{port}"),
        _ => addr.to_string(),
    }
}

/// Prints the binary's and formats' versions.
pub fn version() {
    println!(
        "rockit-edge {} (store schema {}, image format {}, patch format {})",
        env!("CARGO_PKG_VERSION"),
        crate::store::SCHEMA_VERSION,
        crate::engine::IMAGE_FORMAT_VERSION,
        crate::engine::PATCH_FORMAT_VERSION
    );
}
