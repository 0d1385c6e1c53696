//! rockit-edge: the appliance's single binary. Parses the command line and dispatches.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Self-hosted ROCKIT Edge appliance.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build, extract and verify ROCKIT images.
    #[command(subcommand)]
    Image(cli::image::ImageCommand),
    /// Make and apply block-level patches between images.
    #[command(subcommand)]
    Patch(cli::patch::PatchCommand),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Image(command) => cli::image::run(command),
        Command::Patch(command) => cli::patch::run(command),
    }
}
