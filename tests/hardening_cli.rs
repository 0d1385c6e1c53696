//! The command line says what it does: no options a command ignores, one version answer,
//! no silent default build id, and the data dir variable under the documented naming rule.

mod common;

use std::process::{Command, Output};

use common::binary;

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(binary())
        .args(args)
        .env_remove("ROCKIT_EDGE_DATA_DIR")
        .env_remove("ROCKIT_EDGE__STORAGE__DATA_DIR")
        .envs(env.iter().copied())
        .output()
        .expect("run rockit-edge")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn version_flag_and_command_agree() {
    let flag = run(&["--version"], &[]);
    let command = run(&["version"], &[]);
    assert!(flag.status.success() && command.status.success());
    assert_eq!(flag.stdout, command.stdout);
    assert!(text(&flag).contains("image format"), "{}", text(&flag));
}

#[test]
fn engine_commands_take_no_instance_options() {
    for help in [
        &["image", "--help"][..],
        &["patch", "--help"],
        &["image", "build", "--help"],
    ] {
        let out = run(help, &[]);
        assert!(out.status.success());
        assert!(
            !text(&out).contains("--data-dir"),
            "{help:?}: {}",
            text(&out)
        );
        assert!(!text(&out).contains("--config"), "{help:?}: {}", text(&out));
    }
    let out = run(&["image", "verify", "--data-dir", "x", "img"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = run(&["--data-dir", "x", "image", "verify", "img"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("apply to serve"), "{}", text(&out));
}

#[test]
fn image_build_needs_a_build_id() {
    let out = run(&["image", "build", "game.tar", "img"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--build-id"), "{}", text(&out));
}

#[test]
fn the_old_data_dir_variable_still_works_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wanted = dir.path().join("state");
    let wanted = wanted.to_str().expect("path");
    let out = run(&["config", "show"], &[("ROCKIT_EDGE_DATA_DIR", wanted)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("data_dir = \"{wanted}\"")),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("ROCKIT_EDGE__STORAGE__DATA_DIR"),
        "{}",
        text(&out)
    );
    let out = run(
        &["config", "show", "--data-dir", wanted],
        &[("ROCKIT_EDGE__STORAGE__DATA_DIR", "/elsewhere")],
    );
    assert!(
        text(&out).contains(&format!("data_dir = \"{wanted}\"")),
        "flags win: {}",
        text(&out)
    );
    assert!(!text(&out).contains("deprecated"), "{}", text(&out));
}
