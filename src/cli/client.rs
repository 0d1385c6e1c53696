//! `rockit-edge client ...`: the reference launcher client on the command line. It needs no
//! data dir or server config: an appliance's address and an app's access key, or a local
//! image directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use clap::{Args, Subcommand};

use super::progress::show_transfer;
use crate::client::{self, Client, ClientError, ClientOptions, Origin, Report, ServerOptions};

/// The client's commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Install the app's current build in DIR; run again to resume an interrupted install or
    /// to repair files that differ from the build.
    Install(Box<InstallArgs>),
    /// Move the build installed in DIR to the app's current build: with the patch from the
    /// installed build when one is published, else from the new image; files change one by
    /// one, each only once it is complete and checked.
    Update(Box<InstallArgs>),
    /// Start the game as a launcher does, on an empty or partial install: fetch the image's
    /// preload, run the script (the game's reads and its launch) while the rest downloads in
    /// the background, fetch a read's missing blocks at once, then complete the install.
    Play(Box<PlayArgs>),
    /// Re-hash an installed tree against its build's index; exit 1 naming every file that
    /// differs or is missing.
    Verify {
        /// The install directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

/// Arguments of `install` and `update`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    origin: OriginArgs,
    #[command(flatten)]
    run: RunArgs,
    /// The install directory (its state goes to DIR/.rockit/).
    #[arg(long)]
    dir: PathBuf,
}

/// Arguments of `play`.
#[derive(Debug, Args)]
pub struct PlayArgs {
    #[command(flatten)]
    install: InstallArgs,
    /// The game's start as JSON Lines: {"t":MS,"path":P,"offset":N,"len":N} for a read,
    /// {"t":MS,"launch":true} when the game becomes playable (see docs/CLIENT.md).
    #[arg(long)]
    script: PathBuf,
    /// Write the session's trace (image blocks read, with times, and launchMs) to FILE.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Send the session's trace to the appliance (POST /client/v1/traces), for training.
    #[arg(long)]
    upload: bool,
}

/// Where the build comes from.
#[derive(Debug, Args)]
pub struct OriginArgs {
    /// The appliance, e.g. https://edge.example.com:8443.
    #[arg(long, required_unless_present = "from_dir")]
    server: Option<String>,
    /// The app's org.
    #[arg(long, required_unless_present = "from_dir")]
    org: Option<String>,
    /// The app.
    #[arg(long, required_unless_present = "from_dir")]
    app: Option<String>,
    /// An access key of the app (POST /be/v1/keys).
    #[arg(
        long,
        env = "ROCKIT_EDGE_ACCESS_KEY",
        hide_env_values = true,
        required_unless_present = "from_dir"
    )]
    access_key: Option<String>,
    /// Which URL set to download from: `depot` (the appliance) or a deployment's name.
    #[arg(long, default_value = "depot")]
    source: String,
    /// Trust this CA certificate (PEM), e.g. the appliance's data/tls/ca.pem.
    #[arg(long, conflicts_with = "insecure")]
    ca_cert: Option<PathBuf>,
    /// Trust any certificate (tests, a first look at a fresh appliance).
    #[arg(long)]
    insecure: bool,
    /// Take the build from a local image directory (img.json, img.idx.7z, img.dxf) instead
    /// of an appliance: offline installs, mirrors, images built with `image build --order`.
    #[arg(long, conflicts_with_all = ["server", "org", "app", "access_key", "ca_cert", "insecure"])]
    from_dir: Option<PathBuf>,
}

/// How a run downloads and what it reports.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Download at most this many bytes per second over all connections, like a player's
    /// link (K, M, G suffixes: 500K, 12.5M).
    #[arg(long, value_parser = crate::push::parse_rate)]
    limit_rate: Option<u64>,
    /// Write what the run did as JSON to FILE (buildId, dxfName, totalBytes, totalMs, ...).
    #[arg(long)]
    report: Option<PathBuf>,
}

impl InstallArgs {
    /// The client these arguments describe, the install dir and the report file.
    fn client(self) -> (Client, PathBuf, Option<PathBuf>) {
        let options = ClientOptions {
            origin: self.origin.origin(),
            limit_rate: self.run.limit_rate,
        };
        (Client::new(options), self.dir, self.run.report)
    }
}

impl OriginArgs {
    fn origin(self) -> Origin {
        match self.from_dir {
            Some(dir) => Origin::Dir(dir),
            None => Origin::Server(ServerOptions {
                server: self.server.unwrap_or_default(),
                org: self.org.unwrap_or_default(),
                app: self.app.unwrap_or_default(),
                access_key: self.access_key.unwrap_or_default(),
                source: self.source,
                ca_cert: self.ca_cert,
                insecure: self.insecure,
            }),
        }
    }
}

/// Runs a client command.
pub fn run(command: ClientCommand) -> ExitCode {
    match command {
        ClientCommand::Install(args) => {
            let (client, dir, report) = (*args).client();
            let outcome = block_on(&client, async { client.install(&dir).await });
            finish(outcome, report.as_deref(), "installed")
        }
        ClientCommand::Update(args) => {
            let (client, dir, report) = (*args).client();
            let outcome = block_on(&client, async { client.update(&dir).await });
            finish(outcome, report.as_deref(), "updated to")
        }
        ClientCommand::Play(args) => {
            let PlayArgs {
                install,
                script,
                trace,
                upload,
            } = *args;
            let (client, dir, report) = install.client();
            let outputs = client::TraceOutputs {
                file: trace,
                upload,
            };
            let outcome = block_on(&client, async {
                client.play(&dir, &script, &outputs).await
            });
            finish(outcome, report.as_deref(), "played and installed")
        }
        ClientCommand::Verify { dir } => match client::verify(&dir) {
            Ok(bad) if bad.is_empty() => {
                eprintln!(
                    "rockit-edge: {}: every file matches the build",
                    dir.display()
                );
                ExitCode::SUCCESS
            }
            Ok(bad) => {
                for path in &bad {
                    println!("{path}");
                }
                eprintln!("rockit-edge: {} file(s) differ from the build", bad.len());
                ExitCode::FAILURE
            }
            Err(e) => fail(&e),
        },
    }
}

/// Runs `work` on a runtime of its own, with a progress line on a terminal.
fn block_on<T>(client: &Client, work: impl Future<Output = T>) -> Result<T, ClientError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::Input(format!("cannot start: {e}")))?;
    let meter = client.meter();
    Ok(runtime.block_on(async {
        let display = tokio::spawn(show_transfer(
            move || {
                (
                    meter.fetched.load(Ordering::Relaxed),
                    meter.total.load(Ordering::Relaxed),
                )
            },
            None,
        ));
        let done = work.await;
        display.abort();
        done
    }))
}

/// Writes the report and says what happened; the exit code.
fn finish(
    outcome: Result<Result<Report, ClientError>, ClientError>,
    report_path: Option<&Path>,
    done: &str,
) -> ExitCode {
    let report = match outcome.and_then(|r| r) {
        Ok(report) => report,
        Err(e) => return fail(&e),
    };
    if let Some(path) = report_path {
        let written = serde_json::to_vec_pretty(&report)
            .map_err(std::io::Error::other)
            .and_then(|json| std::fs::write(path, json));
        if let Err(e) = written {
            return fail(&ClientError::io(path, e));
        }
    }
    eprintln!(
        "rockit-edge: {done} build {} ({}): {} bytes fetched in {} ms",
        report.build_id, report.dxf_name, report.total_bytes, report.total_ms
    );
    ExitCode::SUCCESS
}

/// Prints the error; exit 1.
fn fail(e: &ClientError) -> ExitCode {
    eprintln!("rockit-edge: {e}");
    ExitCode::FAILURE
}
