//! The synthetic game generator (`scripts/bench/game-gen.py`) that the launcher and training
//! benchmarks play: its tar, boot order and play scripts are consistent with each other and with
//! the engine, and the same seed gives the same bytes.

mod common_engine;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use common_engine::{cli_ok, scratch};
use serde_json::Value;

fn generate(out: &Path, seed: &str) -> Value {
    common_engine::game_gen(
        out,
        &[
            "--size",
            "48M",
            "--files",
            "200",
            "--sessions",
            "3",
            "--gameplay-reads",
            "50",
            "--seed",
            seed,
        ],
    )
}

/// The tar's regular files: path → size.
fn tar_files(tar: &Path) -> HashMap<String, u64> {
    let listing = Command::new("tar")
        .arg("-tvf")
        .arg(tar)
        .output()
        .expect("run tar");
    assert!(listing.status.success());
    String::from_utf8_lossy(&listing.stdout)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let size = fields[2].parse().expect("size");
            (fields[5..].join(" "), size)
        })
        .collect()
}

#[test]
fn a_generated_game_is_consistent_and_reproducible() {
    let dir = scratch();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let summary = generate(&one, "7");
    generate(&two, "7");
    for name in [
        "game.tar",
        "boot.order",
        "session-1.jsonl",
        "session-3.jsonl",
    ] {
        let (a, b) = (
            std::fs::read(one.join(name)).expect("first"),
            std::fs::read(two.join(name)).expect("second"),
        );
        assert!(a == b, "{name} differs between two runs with one seed");
    }

    let files = tar_files(&one.join("game.tar"));
    assert_eq!(files.len(), 200);
    let total: u64 = files.values().sum();
    assert_eq!(summary["totalFileBytes"], total);
    assert_eq!(total, 48 << 20, "the requested size, exactly");
    assert!(files.contains_key("Game.exe"));
    assert!(files.keys().filter(|p| p.ends_with(".pak")).count() >= 4);

    // The boot is 5–10 % of the bytes (in blocks) and every session's boot stays near it.
    let boot = summary["bootBlockBytes"].as_u64().expect("boot bytes");
    assert!(
        boot * 100 >= total * 5 && boot * 100 <= total * 11,
        "{boot} of {total}"
    );
    for session in summary["sessionBootBlockBytes"]
        .as_array()
        .expect("sessions")
    {
        let bytes = session.as_u64().expect("bytes");
        assert!(
            bytes * 10 >= boot * 9 && bytes * 10 <= boot * 11,
            "{bytes} vs {boot}"
        );
    }

    // Every read lies inside its file, time never goes back, one launch after the boot.
    for n in 1..=3 {
        let text = std::fs::read_to_string(one.join(format!("session-{n}.jsonl"))).expect("script");
        let (mut last, mut launches) = (0, 0);
        for line in text.lines() {
            let step: Value = serde_json::from_str(line).expect("a JSON line");
            let t = step["t"].as_u64().expect("t");
            assert!(t >= last, "time goes back in session {n}: {line}");
            last = t;
            if step["launch"] == true {
                launches += 1;
                continue;
            }
            let size = files[step["path"].as_str().expect("path")];
            let end = step["offset"].as_u64().expect("offset") + step["len"].as_u64().expect("len");
            assert!(end <= size, "a read past the end: {line}");
        }
        assert_eq!(launches, 1, "session {n}");
    }

    // The engine takes the boot order: the image's preload is the boot, far below the image.
    let image = dir.path().join("img");
    cli_ok(&[
        &"image",
        &"build",
        &one.join("game.tar"),
        &image,
        &"--build-id",
        &"1",
        &"--order",
        &one.join("boot.order"),
    ]);
    let meta: Value =
        serde_json::from_slice(&std::fs::read(image.join("img.json")).expect("img.json"))
            .expect("img.json is JSON");
    let preload = meta["preloadBytes"].as_u64().expect("preloadBytes");
    let size = meta["dxfSize"].as_u64().expect("dxfSize");
    assert!(preload > 0 && preload <= boot, "{preload} vs boot {boot}");
    assert!(preload * 5 < size, "{preload} of {size}");
}
