//! The command line: `serve` (the default), `admin-token`, `healthcheck`, `workers`, `doctor`,
//! `backup`, `restore`, `config show`, `version`, the engine's `image` and `patch` commands, the publisher's `push`
//! and the launcher's `client`.

mod backup;
mod client;
mod doctor;
pub mod image;
mod instance;
mod local;
pub mod patch;
mod progress;
mod push;
mod workers;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, ENV_PREFIX, FlagOverrides};
use crate::engine::EngineError;
use crate::ops::doctor::Check;

/// rockit-edge: streamable game builds, patches and CDN publishing on one edge server.
#[derive(Debug, Parser)]
#[command(name = "rockit-edge", about, disable_version_flag = true)]
pub struct Cli {
    /// Print the versions of the binary and its formats (as `version` does).
    #[arg(short = 'V', long)]
    pub version: bool,
    /// Where the instance is, for `serve` when no command is given (and, before a command,
    /// for that command).
    #[command(flatten)]
    pub instance: InstanceArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Where an instance's state and configuration are: for the commands that use them.
#[derive(Debug, Args, Default, Clone)]
pub struct InstanceArgs {
    /// Data dir (store, secrets, TLS, depot); default ./data.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// TOML config file (see packaging/config.toml).
    #[arg(long, env = "ROCKIT_EDGE_CONFIG")]
    pub config: Option<PathBuf>,
}

impl InstanceArgs {
    /// These arguments, filled in from `outer` (given before the command) where absent.
    fn or(self, outer: &InstanceArgs) -> InstanceArgs {
        InstanceArgs {
            data_dir: self.data_dir.or_else(|| outer.data_dir.clone()),
            config: self.config.or_else(|| outer.config.clone()),
        }
    }
}

/// The old name of `ROCKIT_EDGE__STORAGE__DATA_DIR`, still honoured with a warning.
const DEPRECATED_DATA_DIR_ENV: &str = "ROCKIT_EDGE_DATA_DIR";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(flatten)]
    Instance(InstanceCommand),
    /// Build, extract and verify ROCKIT images.
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Make and apply patches between images.
    #[command(subcommand)]
    Patch(patch::PatchCommand),
    /// Upload a build (a tar or a directory) to an app of an appliance; run again to resume.
    Push(push::PushArgs),
    /// The reference launcher client: install, update, verify and play an app's builds.
    #[command(subcommand)]
    Client(client::ClientCommand),
}

/// Commands about the appliance instance; they read the layered configuration.
#[derive(Debug, Subcommand)]
pub enum InstanceCommand {
    /// Run the appliance (the default command).
    Serve(ServeArgs),
    /// Print an instance administrator token (HS256 JWT signed with the admin secret).
    AdminToken {
        /// The administrator's name, recorded in logs and the audit trail.
        #[arg(long)]
        username: String,
        #[command(flatten)]
        instance: InstanceArgs,
    },
    /// Exit 0 when the local server answers /healthz with 200.
    Healthcheck {
        #[command(flatten)]
        instance: InstanceArgs,
    },
    /// List the running server's background workers: state, queue, last error.
    Workers {
        /// Print the JSON list instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        instance: InstanceArgs,
    },
    /// Write a backup: the store as of one moment, the secrets, the TLS files and a manifest
    /// of the depot; from the running server, or from the data dir when it is stopped.
    Backup {
        /// The archive to write (a tar).
        #[arg(long)]
        to: PathBuf,
        /// Put the depot's files in the archive too (else only their manifest).
        #[arg(long)]
        with_depot: bool,
        #[command(flatten)]
        instance: InstanceArgs,
    },
    /// Restore a backup into a new or empty data dir (given with --data-dir), after checking
    /// every file against the archive's manifest.
    Restore {
        /// The archive `backup` wrote.
        archive: PathBuf,
        #[command(flatten)]
        instance: InstanceArgs,
    },
    /// Check the config, the data dir, free disk, the certificate and the clock; one line
    /// per check, exit 1 when any fails.
    Doctor {
        #[command(flatten)]
        instance: InstanceArgs,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Print the versions of the binary and its formats.
    Version,
}

/// Listener flags of `serve`.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// HTTPS listen address (default 0.0.0.0:8443).
    #[arg(long)]
    pub https_listen: Option<String>,
    /// Plain HTTP listen address, or `off` (default 127.0.0.1:8080).
    #[arg(long)]
    pub http_listen: Option<String>,
    /// Log line format: `text` (default) or `json`.
    #[arg(long, value_parser = ["text", "json"])]
    pub log_format: Option<String>,
}

/// `config` actions.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the effective configuration (all layers merged), secrets masked.
    Show {
        #[command(flatten)]
        instance: InstanceArgs,
    },
}

/// Parses the command line and runs the command; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        instance::version();
        return ExitCode::SUCCESS;
    }
    let outer_given = cli.instance.data_dir.is_some() || cli.instance.config.is_some();
    match cli.command {
        Some(
            Command::Image(_)
            | Command::Patch(_)
            | Command::Push(_)
            | Command::Client(_)
            | Command::Instance(InstanceCommand::Version),
        ) if outer_given => {
            eprintln!(
                "rockit-edge: --data-dir and --config apply to serve, admin-token, healthcheck, workers, doctor, backup, restore and config only"
            );
            ExitCode::from(2)
        }
        Some(Command::Image(command)) => image::run(command),
        Some(Command::Patch(command)) => patch::run(command),
        Some(Command::Push(args)) => push::run(args),
        Some(Command::Client(command)) => client::run(command),
        Some(Command::Instance(command)) => run_instance(&cli.instance, command),
        None => run_instance(&cli.instance, InstanceCommand::Serve(ServeArgs::default())),
    }
}

/// The environment the configuration reads, with the deprecated data dir variable mapped to
/// its `ROCKIT_EDGE__STORAGE__DATA_DIR` name (which wins when both are set).
fn config_env() -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    let current = format!("{ENV_PREFIX}STORAGE__DATA_DIR");
    if let Some(old) = env
        .iter()
        .position(|(name, _)| name == DEPRECATED_DATA_DIR_ENV)
    {
        let (_, value) = env.remove(old);
        eprintln!(
            "rockit-edge: warning: {DEPRECATED_DATA_DIR_ENV} is deprecated; set {current} instead"
        );
        if !env.iter().any(|(name, _)| *name == current) {
            env.push((current, value));
        }
    }
    env
}

/// Loads the configuration and runs an instance command.
fn run_instance(outer: &InstanceArgs, command: InstanceCommand) -> ExitCode {
    let (instance, serve_args) = match &command {
        InstanceCommand::Serve(args) => (args.instance.clone(), Some(args)),
        InstanceCommand::AdminToken { instance, .. }
        | InstanceCommand::Healthcheck { instance }
        | InstanceCommand::Workers { instance, .. }
        | InstanceCommand::Doctor { instance }
        | InstanceCommand::Backup { instance, .. }
        | InstanceCommand::Restore { instance, .. }
        | InstanceCommand::Config {
            action: ConfigAction::Show { instance },
        } => (instance.clone(), None),
        InstanceCommand::Version => (InstanceArgs::default(), None),
    };
    let instance = instance.or(outer);
    let flags = FlagOverrides {
        data_dir: instance.data_dir.clone(),
        https_listen: serve_args.and_then(|a| a.https_listen.clone()),
        http_listen: serve_args.and_then(|a| a.http_listen.clone()),
        log_format: serve_args.and_then(|a| a.log_format.clone()),
    };
    let config = match Config::load(instance.config.as_deref(), config_env(), &flags) {
        Ok(config) => config,
        Err(e) if matches!(command, InstanceCommand::Doctor { .. }) => {
            return doctor::report(&[Check::fail("config", e.to_string())]);
        }
        Err(e) => {
            eprintln!("rockit-edge: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        InstanceCommand::Doctor { .. } => return doctor::run(&config, instance.config.as_deref()),
        InstanceCommand::Serve(_) => instance::serve(config),
        InstanceCommand::AdminToken { username, .. } => instance::admin_token(&config, &username),
        InstanceCommand::Healthcheck { .. } => instance::healthcheck(&config),
        InstanceCommand::Workers { json, .. } => workers::workers(&config, json),
        InstanceCommand::Backup { to, with_depot, .. } => backup::backup(&config, &to, with_depot),
        InstanceCommand::Restore { archive, .. } => {
            backup::restore(&archive, &config.storage.data_dir)
        }
        InstanceCommand::Config {
            action: ConfigAction::Show { .. },
        } => {
            print!("{}", config.masked_toml());
            Ok(())
        }
        InstanceCommand::Version => {
            instance::version();
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rockit-edge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints an engine error as one line on stderr; exit code 2 when the input is at fault, 1 for
/// I/O failures.
fn fail(err: &EngineError) -> ExitCode {
    eprintln!("rockit-edge: {err}");
    if err.is_bad_input() {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}
