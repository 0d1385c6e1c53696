//! `rockit-edge client play`: a launcher starting a generated game on an empty install. On the
//! appliance's untraced image the game starts only once the whole image is there; on an image
//! ordered by the game's boot (a local image directory) it starts after a fraction of it, and
//! every read returns the build's bytes.

mod common;
mod common_builds;
mod common_client;
mod common_engine;

use std::os::unix::fs::FileExt;
use std::path::Path;

use common_client::{Shop, assert_tree_is, client_ok, read_json};
use common_engine::{cli_ok, game_gen, sh};
use md5::{Digest, Md5};
use serde_json::{Value, json};

const GAME: [&str; 8] = [
    "--size",
    "32M",
    "--files",
    "150",
    "--sessions",
    "2",
    "--gameplay-reads",
    "40",
];

fn path_arg(path: &Path) -> String {
    path.display().to_string()
}

/// The MD5 of every byte the script reads, in order, taken from the build's files in `tree`.
fn expected_reads_md5(script: &Path, tree: &Path) -> String {
    let mut md5 = Md5::new();
    let text = std::fs::read_to_string(script).expect("script");
    for line in text.lines() {
        let step: Value = serde_json::from_str(line).expect("json line");
        let Some(path) = step["path"].as_str() else {
            continue;
        };
        let (offset, len) = (step["offset"].as_u64(), step["len"].as_u64());
        let mut bytes = vec![0u8; len.expect("len") as usize];
        std::fs::File::open(tree.join(path))
            .and_then(|f| f.read_exact_at(&mut bytes, offset.expect("offset")))
            .expect("read the build");
        md5.update(&bytes);
    }
    hex::encode(md5.finalize())
}

#[test]
fn an_untraced_image_plays_only_once_it_is_all_there() {
    let shop = Shop::open(json!({}), |dir| {
        game_gen(dir, &GAME);
    });
    shop.import("game.tar");
    let dir = shop.path("game");
    let report = shop.path("play.json");
    let mut args = shop.https_args();
    args.extend([
        "--dir".into(),
        path_arg(&dir),
        "--script".into(),
        path_arg(&shop.path("session-1.jsonl")),
        "--report".into(),
        path_arg(&report),
    ]);
    client_ok("play", &args);
    let played = read_json(&report);
    let image = read_json(&dir.join(".rockit/img.json"));
    let size = image["dxfSize"].as_u64().expect("dxfSize");
    assert_eq!(
        played["preloadBytes"], size,
        "untraced: the preload is the image"
    );
    assert!(
        played["bytesBeforePlay"].as_u64().expect("bytes") >= size,
        "{played}"
    );
    assert_eq!(played["stalls"], 0, "{played}");
    assert_tree_is(&dir, &shop.path("game.tar"));
    client_ok("verify", &["--dir".into(), path_arg(&dir)]);
}

#[test]
fn an_image_in_boot_order_plays_after_a_fraction_with_the_right_bytes() {
    let work = tempfile::tempdir().expect("tempdir");
    let game = work.path();
    game_gen(game, &GAME);
    let (tar, image) = (game.join("game.tar"), game.join("ordered"));
    let order = game.join("boot.order");
    cli_ok(&[
        &"image",
        &"build",
        &"--build-id",
        &"1",
        &"--order",
        &order,
        &tar,
        &image,
    ]);
    let meta = read_json(&image.join("img.json"));
    let (size, preload) = (
        meta["dxfSize"].as_u64().expect("dxfSize"),
        meta["preloadBytes"].as_u64().expect("preloadBytes"),
    );
    assert!(preload * 5 < size, "preload {preload} of {size}");

    let tree = game.join("tree");
    std::fs::create_dir_all(&tree).expect("mkdir");
    sh(&format!("tar -C {} -xf {}", tree.display(), tar.display()));
    let (dir, report, trace) = (
        game.join("game"),
        game.join("play.json"),
        game.join("trace.json"),
    );
    let script = game.join("session-2.jsonl");
    client_ok(
        "play",
        &[
            "--from-dir".into(),
            path_arg(&image),
            "--dir".into(),
            path_arg(&dir),
            "--script".into(),
            path_arg(&script),
            "--limit-rate".into(),
            "8M".into(),
            "--report".into(),
            path_arg(&report),
            "--trace".into(),
            path_arg(&trace),
        ],
    );
    let played = read_json(&report);
    let before = played["bytesBeforePlay"].as_u64().expect("bytes");
    assert_eq!(played["preloadBytes"], preload);
    assert!(
        before >= preload && before < size / 2,
        "launched after {before} bytes of {size}: {played}"
    );
    assert_eq!(
        played["readsMd5"].as_str().expect("readsMd5"),
        expected_reads_md5(&script, &tree)
    );
    assert_tree_is(&dir, &tar);

    let trace = read_json(&trace);
    assert_eq!(trace["dxfName"], meta["dxfName"]);
    assert_eq!(trace["blockSize"], 4096);
    assert!(trace["launchMs"].as_u64().is_some(), "{trace}");
    let reads = trace["reads"].as_array().expect("reads");
    assert!(!reads.is_empty());
    let blocks = meta["blockCount"].as_u64().expect("blockCount");
    let mut last = 0;
    for read in reads {
        let (t, first, count) = (read[0].as_u64(), read[1].as_u64(), read[2].as_u64());
        let (t, first, count) = (t.expect("t"), first.expect("first"), count.expect("count"));
        assert!(t >= last && count > 0 && first + count <= blocks, "{read}");
        last = t;
    }
}
