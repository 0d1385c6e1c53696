//! Command-line front ends of the engine. Each subcommand group parses its arguments with clap
//! and returns the process exit code.

pub mod image;
pub mod patch;
mod progress;

use std::process::ExitCode;

use rockit_edge::engine::EngineError;

/// Prints `err` as one line on stderr and maps it to the exit code: 2 when the input is at
/// fault, 1 for I/O failures.
fn fail(err: &EngineError) -> ExitCode {
    eprintln!("rockit-edge: {err}");
    if err.is_bad_input() {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}
