//! packaging/rockit-edge.service as systemd itself judges it: `systemd-analyze verify` finds
//! nothing to say, and `systemd-analyze security` rates its exposure at most 2.5.

mod common;

use std::path::Path;
use std::process::Command;

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/rockit-edge.service");

/// Whether `systemd-analyze` runs here; under CI its absence fails the test.
fn systemd_analyze_present() -> bool {
    let present = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !present {
        assert!(
            !common::in_ci(),
            "systemd-analyze is missing (Debian package systemd)"
        );
        eprintln!("SKIPPED: systemd-analyze is missing (Debian package systemd)");
    }
    present
}

#[test]
fn verify_finds_nothing_to_say() {
    if !systemd_analyze_present() {
        return;
    }
    // verify checks that ExecStart's binary exists: point it at the one under test, the rest
    // of the unit as shipped.
    let unit = std::fs::read_to_string(UNIT).expect("unit");
    assert!(unit.contains("ExecStart=/usr/local/bin/rockit-edge serve "));
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("rockit-edge.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/rockit-edge", common::binary()),
    )
    .expect("write");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze verify");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "verify failed:\n{said}");
    assert_eq!(said.trim(), "", "verify is not clean");
}

#[test]
fn security_exposure_is_at_most_2_5() {
    if !systemd_analyze_present() {
        return;
    }
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(Path::new(UNIT))
        .output()
        .expect("systemd-analyze security");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "security failed:\n{said}");
    let level: f64 = said
        .lines()
        .find_map(|line| {
            line.split("Overall exposure level for rockit-edge.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no overall exposure level in:\n{said}"));
    assert!(level <= 2.5, "exposure {level} > 2.5:\n{said}");
}
