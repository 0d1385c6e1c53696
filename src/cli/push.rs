//! `rockit-edge push`: uploads a build (a tar, or a directory packed on the fly) to an app,
//! resuming an interrupted upload when run again; `--wait` follows its processing.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Args;

use super::progress::show_transfer;
use crate::push::{self, Meter, PushError, PushOptions};

/// Arguments of `push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The appliance, e.g. https://edge.example.com:8443.
    #[arg(long)]
    server: String,
    /// The org the app belongs to.
    #[arg(long)]
    org: String,
    /// The app that gets the build.
    #[arg(long)]
    app: String,
    /// The build's name [default: the appliance's, from the time].
    #[arg(long)]
    name: Option<String>,
    /// A machine user's API key (rke_...).
    #[arg(long, env = "ROCKIT_EDGE_API_KEY", hide_env_values = true)]
    api_key: String,
    /// Trust this CA certificate (PEM), e.g. the appliance's data/tls/ca.pem.
    #[arg(long, conflicts_with = "insecure")]
    ca_cert: Option<PathBuf>,
    /// Trust any certificate (tests, a first look at a fresh appliance).
    #[arg(long)]
    insecure: bool,
    /// Follow the build's processing to its end; exit 1 when it fails.
    #[arg(long)]
    wait: bool,
    /// Send at most this many bytes per second (K, M, G suffixes: 500K, 20M).
    #[arg(long, value_parser = push::parse_rate)]
    limit_rate: Option<u64>,
    /// The build: a tar (plain, gzip or zstd) or a directory.
    path: PathBuf,
}

/// Runs `push`.
pub fn run(args: PushArgs) -> ExitCode {
    let options = PushOptions {
        server: args.server,
        org: args.org,
        app: args.app,
        name: args.name,
        api_key: args.api_key,
        ca_cert: args.ca_cert,
        insecure: args.insecure,
        path: args.path,
        limit_rate: args.limit_rate,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("rockit-edge: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let meter = Arc::new(Meter::default());
        let shown = Arc::clone(&meter);
        let display = tokio::spawn(show_transfer(
            move || {
                (
                    shown.sent.load(Ordering::Relaxed),
                    shown.total.load(Ordering::Relaxed),
                )
            },
            Some(Duration::from_secs(10)),
        ));
        let pushed = push::push(&options, meter).await;
        display.abort();
        let pushed = pushed?;
        eprintln!(
            "{}uploaded {} of {} bytes{}; processing task {}",
            if std::io::stderr().is_terminal() {
                "\n"
            } else {
                ""
            },
            pushed.sent,
            pushed.total,
            if pushed.resumed_at > 0 {
                format!(" (resumed at byte {})", pushed.resumed_at)
            } else {
                String::new()
            },
            pushed.task_name
        );
        if args.wait {
            let mut last = String::new();
            let task = push::wait(&options, &pushed.task_name, |task| {
                let phase = task["phase"]
                    .as_str()
                    .unwrap_or(task["status"].as_str().unwrap_or(""));
                let line = format!("{phase} {:.0}%", task["progress"].as_f64().unwrap_or(0.0));
                if line != last {
                    eprintln!("{line}");
                    last = line;
                }
            })
            .await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&task["result"]).unwrap_or_default()
            );
        }
        Ok::<_, PushError>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(PushError::Input(message)) => {
            eprintln!("rockit-edge: {message}");
            ExitCode::from(2)
        }
        Err(PushError::Processing(exception)) => {
            eprintln!("rockit-edge: the build failed: {exception}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("rockit-edge: {e}");
            ExitCode::FAILURE
        }
    }
}
