//! `doctor`: prints one line per check and fails when any check does.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde::Deserialize;

use super::local::{LocalServer, runtime};
use crate::config::Config;
use crate::ops::doctor::{self, Check};

/// How long the origins may take to answer, all together.
const ORIGINS_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs every check of a loaded configuration.
pub fn run(config: &Config, config_file: Option<&Path>) -> ExitCode {
    let parsed = match config_file {
        Some(file) => format!("{} parsed", file.display()),
        None => "no --config: compiled defaults and the environment".to_string(),
    };
    let mut checks = vec![Check::pass("config", parsed)];
    checks.extend(doctor::local_checks(config));
    checks.extend(origin_checks(config));
    report(&checks)
}

/// Prints the checks, `ok` or `FAIL` first; exit 1 when any failed.
pub fn report(checks: &[Check]) -> ExitCode {
    for check in checks {
        let verdict = if check.passed { "ok" } else { "FAIL" };
        println!("{verdict:<4}  {:<11}  {}", check.name, check.detail);
    }
    if checks.iter().all(|check| check.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One origin as the server checked it.
#[derive(Deserialize)]
struct Checked {
    org: String,
    deployment: String,
    ok: bool,
    message: String,
}

/// Every deployment's origin, checked by the running server with the stored credentials (the
/// server holds the store and the key that unseals them).
fn origin_checks(config: &Config) -> Vec<Check> {
    const NAME: &str = "origins";
    let server = match LocalServer::find(config, "doctor", Some(ORIGINS_TIMEOUT)) {
        Ok(Some(server)) => server,
        Ok(None) => {
            return vec![Check::fail(
                NAME,
                format!(
                    "not checked: no server runs on {}; start it (systemctl start rockit-edge) and run doctor again",
                    config.storage.data_dir.display()
                ),
            )];
        }
        Err(e) => return vec![Check::fail(NAME, format!("not checked: {e:#}"))],
    };
    let path = "/adm/v1/origins/check";
    let answer = runtime().and_then(|runtime| {
        runtime.block_on(async {
            let response = server
                .request(reqwest::Method::POST, path)
                .json(&serde_json::json!({}))
                .send()
                .await?;
            let status = response.status();
            let body: serde_json::Value = response.json().await?;
            anyhow::ensure!(status.is_success(), "the server answered {status}: {body}");
            Ok(serde_json::from_value::<Vec<Checked>>(
                body["origins"].clone(),
            )?)
        })
    });
    match answer {
        Ok(checked) if checked.is_empty() => vec![Check::pass(NAME, "no deployments")],
        Ok(checked) => checked
            .into_iter()
            .map(|origin| {
                let detail = format!("{}/{}: {}", origin.org, origin.deployment, origin.message);
                if origin.ok {
                    Check::pass("origin", detail)
                } else {
                    Check::fail("origin", detail)
                }
            })
            .collect(),
        Err(e) => vec![Check::fail(
            NAME,
            format!("not checked: {} {path}: {e:#}", server.url("")),
        )],
    }
}
