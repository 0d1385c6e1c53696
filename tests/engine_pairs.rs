//! Acceptance over real successive builds: every suite pair directory (holding `old.tar` and
//! `new.tar`, as made by `scripts/bench/fetch-pairs.sh`) under `$ROCKIT_BENCH_DATA` goes
//! through the real CLI — image build, verify, extract compared with `tar -x`, patch make
//! (twice, byte-identical), and patch apply both ways back to the exact new image.
//!
//! `scripts/test.sh` fetches the pairs and sets `ROCKIT_BENCH_DATA`. Without it the test
//! prints a skip note, except under `CI`, where it fails: CI must run it.

mod common_engine;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use common_engine::*;

/// The pairs the suite runs (the others `fetch-pairs.sh` knows are for the benchmarks:
/// their patches take minutes); `ROCKIT_BENCH_PAIRS` (space-separated names) overrides.
const SUITE_PAIRS: &str = "panda phaser shift";

/// The suite's pair directories under `data` holding both `old.tar` and `new.tar`, sorted.
fn pair_dirs(data: &Path) -> Vec<PathBuf> {
    let names = std::env::var("ROCKIT_BENCH_PAIRS").unwrap_or_else(|_| SUITE_PAIRS.to_string());
    let mut pairs: Vec<PathBuf> = names
        .split_whitespace()
        .map(|name| data.join(name))
        .filter(|dir| dir.join("old.tar").is_file() && dir.join("new.tar").is_file())
        .collect();
    pairs.sort();
    pairs
}

/// Builds `tar` as build `build_id` into `img` and checks the image against `tar -x`; the
/// extracted trees are removed afterwards (real builds are large).
fn build_and_check(tar: &Path, img: &Path, build_id: u64, work: &Path) {
    cli_ok(&[
        &"image",
        &"build",
        &tar,
        &img,
        &"--build-id",
        &build_id.to_string(),
    ]);
    check_image(tar, img, work);
    fs::remove_dir_all(work).expect("remove extracted trees");
}

/// Applies `patch` to `old_img` (bulk, or streaming) and checks the output is the new image.
fn apply_and_check(old_img: &Path, patch: &Path, new_img: &Path, out: &Path, streaming: bool) {
    let how = if streaming { "streaming" } else { "bulk" };
    if streaming {
        cli_ok(&[&"patch", &"apply", &old_img, &patch, &out, &"--streaming"]);
    } else {
        cli_ok(&[&"patch", &"apply", &old_img, &patch, &out]);
    }
    let meta = read_json(&new_img.join("img.json"));
    let want = meta["dxfMd5"].as_str().expect("img.json dxfMd5");
    assert_eq!(
        md5_of(out),
        want,
        "{how} apply of {}: md5 of the output",
        patch.display()
    );
    assert_same_file(out, &new_img.join("img.dxf"));
    fs::remove_file(out).expect("remove output");
}

fn check_pair(pair: &Path) {
    let name = pair.file_name().expect("pair name").to_string_lossy();
    let started = Instant::now();
    let work = scratch();
    let w = work.path();
    let (old_tar, new_tar) = (pair.join("old.tar"), pair.join("new.tar"));
    let (old_img, new_img) = (w.join("old-img"), w.join("new-img"));
    build_and_check(&old_tar, &old_img, 1, &w.join("old-check"));
    build_and_check(&new_tar, &new_img, 2, &w.join("new-check"));

    let patch = w.join("patch");
    cli_ok(&[&"patch", &"make", &old_img, &new_img, &patch]);
    for dir in [&old_img, &new_img, &patch] {
        assert!(assert_all_7z_ok(dir) > 0, "no .7z in {}", dir.display());
    }
    let meta = read_json(&patch.join("patch.json"));
    let new_meta = read_json(&new_img.join("img.json"));
    assert_eq!(meta["toDxfMd5"], new_meta["dxfMd5"], "{name}: patch.json");

    let out = w.join("out.dxf");
    apply_and_check(&old_img, &patch, &new_img, &out, false);
    apply_and_check(&old_img, &patch, &new_img, &out, true);

    let again = w.join("patch-again");
    cli_ok(&[&"patch", &"make", &old_img, &new_img, &again]);
    assert_eq!(
        dir_md5s(&patch),
        dir_md5s(&again),
        "{name}: the same patch made twice differs"
    );
    note(&format!(
        "engine_pairs: {name} ok in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
}

#[test]
fn real_build_pairs_round_trip_and_patch() {
    let Some(data) = bench_data() else {
        return;
    };
    let pairs = pair_dirs(&data);
    assert!(
        !pairs.is_empty(),
        "{DATA_VAR}={}: no pair directory with old.tar and new.tar",
        data.display()
    );
    for pair in &pairs {
        check_pair(pair);
    }
}
