//! The command line: `serve` (the default), `admin-token`, `healthcheck`, `config show`,
//! `version`, and the engine's `image` and `patch` commands.

pub mod image;
mod instance;
pub mod patch;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, FlagOverrides};
use crate::engine::EngineError;

/// rockit-edge: streamable game builds, patches and CDN publishing on one edge server.
#[derive(Debug, Parser)]
#[command(name = "rockit-edge", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command understands.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Data dir (store, secrets, TLS, depot); default ./data.
    #[arg(long, global = true, env = "ROCKIT_EDGE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML config file (see packaging/rockit-edge.toml).
    #[arg(long, global = true, env = "ROCKIT_EDGE_CONFIG")]
    pub config: Option<PathBuf>,
}

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
    },
    /// Exit 0 when the local server answers /healthz with 200.
    Healthcheck,
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
    /// HTTPS listen address (default 0.0.0.0:8443).
    #[arg(long)]
    pub https_listen: Option<String>,
    /// Plain HTTP listen address, or `off` (default 127.0.0.1:8080).
    #[arg(long)]
    pub http_listen: Option<String>,
}

/// `config` actions.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the effective configuration (all layers merged), secrets masked.
    Show,
}

/// Parses the command line and runs the command; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Image(command)) => image::run(command),
        Some(Command::Patch(command)) => patch::run(command),
        Some(Command::Instance(command)) => run_instance(&cli.global, command),
        None => run_instance(&cli.global, InstanceCommand::Serve(ServeArgs::default())),
    }
}

/// Loads the configuration and runs an instance command.
fn run_instance(global: &GlobalArgs, command: InstanceCommand) -> ExitCode {
    let serve_args = match &command {
        InstanceCommand::Serve(args) => Some(args),
        _ => None,
    };
    let flags = FlagOverrides {
        data_dir: global.data_dir.clone(),
        https_listen: serve_args.and_then(|a| a.https_listen.clone()),
        http_listen: serve_args.and_then(|a| a.http_listen.clone()),
    };
    let config = match Config::load(global.config.as_deref(), std::env::vars(), &flags) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("rockit-edge: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        InstanceCommand::Serve(_) => instance::serve(config),
        InstanceCommand::AdminToken { username } => instance::admin_token(&config, &username),
        InstanceCommand::Healthcheck => instance::healthcheck(&config),
        InstanceCommand::Config {
            action: ConfigAction::Show,
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
