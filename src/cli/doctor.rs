//! `doctor`: prints one line per check and fails when any check does.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;
use crate::ops::doctor::{self, Check};

/// Runs every check of a loaded configuration.
pub fn run(config: &Config, config_file: Option<&Path>) -> ExitCode {
    let parsed = match config_file {
        Some(file) => format!("{} parsed", file.display()),
        None => "no --config: compiled defaults and the environment".to_string(),
    };
    let mut checks = vec![Check::pass("config", parsed)];
    checks.extend(doctor::local_checks(config));
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
