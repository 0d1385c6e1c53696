//! The appliance running on this machine's data dir, reached as its administrator: the
//! address from `run/server.json`, a token minted from the data dir's admin secret, HTTPS
//! trusting the data dir's CA (or, with an operator certificate, loopback without a name
//! check: the request does not leave the machine).

use std::time::Duration;

use anyhow::Context;

use crate::auth::admin::AdminAuth;
use crate::config::Config;
use crate::datadir::DataDir;
use crate::server::runtime::RuntimeInfo;
use crate::server::secrets::Secrets;

/// A running local appliance and an admin client for it.
pub struct LocalServer {
    pub client: reqwest::Client,
    base: String,
    token: String,
}

impl LocalServer {
    /// The appliance serving `config`'s data dir, `None` when none runs there (no
    /// `run/server.json`, or its process is gone). `timeout` bounds each request whole.
    pub fn find(
        config: &Config,
        purpose: &str,
        timeout: Option<Duration>,
    ) -> anyhow::Result<Option<LocalServer>> {
        let data_dir = DataDir::new(&config.storage.data_dir);
        let Some(info) = RuntimeInfo::read(&data_dir) else {
            return Ok(None);
        };
        if !std::path::Path::new(&format!("/proc/{}", info.pid)).exists() {
            return Ok(None);
        }
        let key = Secrets::admin_only(&data_dir, &config.auth).with_context(|| {
            format!(
                "no admin secret in {}; set auth.admin_secret as the server has it",
                data_dir.root().display()
            )
        })?;
        let token = AdminAuth::new(key).issue(&format!("cli:{purpose}"))?;
        let mut client = reqwest::Client::builder().connect_timeout(Duration::from_secs(10));
        if let Some(timeout) = timeout {
            client = client.timeout(timeout);
        }
        let ca = data_dir.tls().join("ca.pem");
        let base = if ca.exists() {
            let pem =
                std::fs::read(&ca).with_context(|| format!("cannot read {}", ca.display()))?;
            client = client
                .tls_built_in_root_certs(false)
                .add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
            format!("https://localhost:{}", info.https.port())
        } else {
            client = client.danger_accept_invalid_certs(true);
            format!("https://127.0.0.1:{}", info.https.port())
        };
        Ok(Some(LocalServer {
            client: client.build()?,
            base,
            token,
        }))
    }

    /// A request to `path` with the admin token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header(crate::http::ADMIN_TOKEN_HEADER, &self.token)
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A current-thread runtime for one CLI command's requests.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
