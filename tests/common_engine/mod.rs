//! Helpers for the engine tests: running the real CLI, making trees and tars, comparing trees.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The CLI binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rockit-edge")
}

/// Runs the CLI with `args`.
pub fn cli(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(bin())
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("run rockit-edge")
}

/// Runs the CLI and asserts success, returning stdout.
pub fn cli_ok(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let out = cli(args);
    assert!(
        out.status.success(),
        "rockit-edge failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a system command (a shell line) and asserts success.
pub fn sh(line: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(line)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "`{line}` failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a Python 3 script.
pub fn python(script: &str) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Fails loudly when Debian's `7z` is missing: these tests must not pass silently without it.
pub fn require_7z() {
    let found = Command::new("7z")
        .arg("i")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "the `7z` command is required (Debian: apt-get install -y p7zip-full); refusing to skip"
    );
}

/// `7z t` on an archive must report success.
pub fn assert_7z_ok(archive: &Path) {
    require_7z();
    let out = sh(&format!("7z t '{}'", archive.display()));
    assert!(
        out.contains("Everything is Ok"),
        "7z t {}:\n{out}",
        archive.display()
    );
}

/// A scratch directory removed at the end of the test.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("engine-test")
        .tempdir()
        .expect("tempdir")
}

/// Writes a file, creating parents.
pub fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, bytes).expect("write");
}

/// Deterministic pseudo-random bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Packs `src` with GNU tar in `format` (plus extra flags), returns the tar path.
pub fn tar_of(src: &Path, tar: &Path, flags: &str) {
    sh(&format!(
        "tar {flags} -C '{}' -cf '{}' .",
        src.display(),
        tar.display()
    ));
}

/// Builds an image with fixed metadata; returns the image directory.
pub fn build(tar: &Path, out: &Path) -> PathBuf {
    cli_ok(&[
        &"image",
        &"build",
        &tar,
        &out,
        &"--build-id",
        &"1",
        &"--dxf-name",
        &"6f1c5b9e-8f5e-4c1e-9a39-0d7d6f0d2a11",
        &"--created",
        &"2026-01-01T00:00:00Z",
    ]);
    out.to_path_buf()
}

/// Listing of a tree: kind, mode, link count, path and link target, sorted.
pub fn listing(root: &Path) -> String {
    sh(&format!(
        "cd '{}' && find . -mindepth 1 -printf '%y %m %n %P -> %l\\n' | LC_ALL=C sort",
        root.display()
    ))
}

/// Asserts two trees are equal: listing (kinds, modes, links) and bytes (`diff -r`).
pub fn assert_same_tree(a: &Path, b: &Path) {
    assert_eq!(listing(a), listing(b), "tree listings differ");
    sh(&format!(
        "diff -r --no-dereference '{}' '{}'",
        a.display(),
        b.display()
    ));
}

/// `tar -x` of `tar` into a new directory `dir`.
pub fn tar_extract(tar: &Path, dir: &Path) {
    fs::create_dir_all(dir).expect("mkdir");
    sh(&format!(
        "tar -xf '{}' -C '{}'",
        tar.display(),
        dir.display()
    ));
}

/// MD5 of every output file of an image directory, by name.
pub fn output_md5s(dir: &Path) -> String {
    sh(&format!(
        "cd '{}' && md5sum app.json img.dxf img.idx.7z img.json",
        dir.display()
    ))
}

/// Build → verify → extract → compare with `tar -x`; also `7z t`. Returns the image dir.
pub fn round_trip(tar: &Path, work: &Path) -> PathBuf {
    let img = build(tar, &work.join("img"));
    check_image(tar, &img, work);
    img
}

/// Verify → `7z t` → extract into `work/ours` → compare with `tar -x` of `tar` in `work/ref`.
pub fn check_image(tar: &Path, img: &Path, work: &Path) {
    cli_ok(&[&"image", &"verify", &img]);
    assert_7z_ok(&img.join("img.idx.7z"));
    let ours = work.join("ours");
    cli_ok(&[&"image", &"extract", &img, &ours]);
    let reference = work.join("ref");
    tar_extract(tar, &reference);
    assert_same_tree(&reference, &ours);
}

/// `7z t` on every `*.7z` file directly in `dir`; returns how many there were.
pub fn assert_all_7z_ok(dir: &Path) -> usize {
    let mut archives: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "7z"))
        .collect();
    archives.sort();
    for archive in &archives {
        assert_7z_ok(archive);
    }
    archives.len()
}

/// MD5 of every file directly in `dir`, by name (`md5sum` lines in byte order of the names).
pub fn dir_md5s(dir: &Path) -> String {
    sh(&format!(
        "cd '{}' && find . -maxdepth 1 -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 md5sum --",
        dir.display()
    ))
}

/// MD5 of one file as 32 lowercase hex digits.
pub fn md5_of(path: &Path) -> String {
    let out = sh(&format!("md5sum < '{}'", path.display()));
    out.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Asserts two files have the same bytes (`cmp`, so large files are not held in memory).
pub fn assert_same_file(a: &Path, b: &Path) {
    sh(&format!("cmp '{}' '{}'", a.display(), b.display()));
}

/// Parses a JSON file.
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).expect("read json")).expect("json")
}

/// Progress that asks the run to stop at its `stop_at`-th question (never with `usize::MAX`)
/// and counts the questions.
pub struct StopAt {
    stop_at: usize,
    pub asked: std::cell::Cell<usize>,
}

impl StopAt {
    pub fn new(stop_at: usize) -> Self {
        Self {
            stop_at,
            asked: std::cell::Cell::new(0),
        }
    }
}

impl rockit_edge::engine::progress::Progress for StopAt {
    fn begin(&self, _total: u64) {}
    fn advance(&self, _bytes: u64) {}
    fn cancelled(&self) -> bool {
        self.asked.set(self.asked.get() + 1);
        self.asked.get() >= self.stop_at
    }
}

/// The variable naming the directory of the real build pairs.
pub const DATA_VAR: &str = "ROCKIT_BENCH_DATA";

/// A line on stderr that the test harness does not capture, so it shows even when the test passes.
pub fn note(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// True when running in CI (`CI` set to anything but empty, `0` or `false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// The pair data directory, or `None` (after a skip note) outside CI when it is not set.
pub fn bench_data() -> Option<PathBuf> {
    match std::env::var_os(DATA_VAR).filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None if in_ci() => panic!(
            "{DATA_VAR} is not set under CI: run scripts/test.sh, which fetches the build pairs \
             (scripts/bench/fetch-pairs.sh) and sets it"
        ),
        None => {
            note(&format!(
                "SKIPPED: {DATA_VAR} is not set, no real build pair was checked \
                 (scripts/test.sh fetches them; or run scripts/bench/fetch-pairs.sh DIR and \
                 set {DATA_VAR}=DIR)"
            ));
            None
        }
    }
}

/// Runs the synthetic game generator (`scripts/bench/game-gen.py`) into `out` with `args`;
/// its `game.json` summary.
pub fn game_gen(out: &Path, args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench/game-gen.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(out)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&fs::read(out.join("game.json")).expect("game.json"))
        .expect("game.json is JSON")
}
