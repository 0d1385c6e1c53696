//! `rockit-edge workers`: the running server's background workers, as `GET /adm/v1/workers`
//! lists them, printed as a table (or the JSON with `--json`).

use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use super::local::{LocalServer, runtime};
use crate::config::Config;
use crate::workers::{LastError, WorkerState};

/// A worker as the API lists it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    name: String,
    state: WorkerState,
    doing: Option<String>,
    queue: Option<u64>,
    done: u64,
    errors: u64,
    last_error: Option<LastError>,
}

/// Asks the server running on the configured data dir for its workers.
pub fn workers(config: &Config, json: bool) -> anyhow::Result<()> {
    let Some(server) = LocalServer::find(config, "workers", Some(Duration::from_secs(10)))? else {
        bail!(
            "no running appliance found for {} (its run/server.json is missing); start it first",
            config.storage.data_dir.display()
        );
    };
    let url = server.url("/adm/v1/workers");
    let body: serde_json::Value = runtime()?.block_on(async {
        let response = server
            .request(reqwest::Method::GET, "/adm/v1/workers")
            .send()
            .await
            .with_context(|| format!("no answer from {url}"))?;
        let status = response.status();
        let body: serde_json::Value = response
            .json()
            .await
            .with_context(|| format!("{url} answered {status} without JSON"))?;
        if !status.is_success() {
            bail!("{url} answered {status}: {body}");
        }
        Ok::<_, anyhow::Error>(body)
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&body["workers"])?);
        return Ok(());
    }
    let listed: Vec<Listed> = serde_json::from_value(body["workers"].clone())
        .with_context(|| format!("{url} answered an unexpected list: {body}"))?;
    print!("{}", table(&listed));
    Ok(())
}

fn state_name(state: WorkerState) -> &'static str {
    match state {
        WorkerState::Idle => "idle",
        WorkerState::Busy => "busy",
        WorkerState::Stopped => "stopped",
    }
}

/// The workers as an aligned text table.
fn table(listed: &[Listed]) -> String {
    let rows: Vec<[String; 7]> = listed
        .iter()
        .map(|w| {
            [
                w.name.clone(),
                state_name(w.state).to_string(),
                w.queue.map_or("-".into(), |q| q.to_string()),
                w.done.to_string(),
                w.errors.to_string(),
                w.doing.clone().unwrap_or_default(),
                w.last_error
                    .as_ref()
                    .map(|e| format!("{} ({})", e.message, e.time.format("%Y-%m-%d %H:%M:%S")))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let header = [
        "NAME",
        "STATE",
        "QUEUE",
        "DONE",
        "ERRORS",
        "DOING",
        "LAST ERROR",
    ]
    .map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
