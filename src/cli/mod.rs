//! The command line: `serve` (the default), `admin-token`, `healthcheck`, `config show`, `version`.

mod instance;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, FlagOverrides};

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
    let serve_args = match &cli.command {
        Some(Command::Serve(args)) => Some(args),
        None => None,
        Some(_) => None,
    };
    let flags = FlagOverrides {
        data_dir: cli.global.data_dir.clone(),
        https_listen: serve_args.and_then(|a| a.https_listen.clone()),
        http_listen: serve_args.and_then(|a| a.http_listen.clone()),
    };
    let config = match Config::load(cli.global.config.as_deref(), std::env::vars(), &flags) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("rockit-edge: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(_) => instance::serve(config),
        Command::AdminToken { username } => instance::admin_token(&config, &username),
        Command::Healthcheck => instance::healthcheck(&config),
        Command::Config {
            action: ConfigAction::Show,
        } => {
            print!("{}", config.masked_toml());
            Ok(())
        }
        Command::Version => {
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
