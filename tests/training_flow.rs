//! Training end to end, the benchmark's scenario on a small generated game: five sessions
//! played with `--upload` on the untraced image start an `mkseq` that publishes a new image
//! of the same build; a held-out session reaches launch on it with a fraction of the bytes;
//! it installs, extracts and patches exactly; and a launcher that began on the old image
//! before training finishes on it.

mod common;
mod common_builds;
mod common_client;
mod common_engine;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{binary, wait_for};
use common_builds::{APP, ENV, ORG, app_details};
use common_client::{Shop, assert_tree_is, client_ok, read_json};
use common_engine::{cli_ok, game_gen, md5_of, tar_extract};
use reqwest::Method;
use serde_json::{Value, json};

const GAME: [&str; 10] = [
    "--size",
    "24M",
    "--files",
    "120",
    "--sessions",
    "8",
    "--gameplay-reads",
    "20",
    "--seed",
    "3",
];

/// The same kind of game, another seed: the build before.
const EARLIER: [&str; 8] = [
    "--size",
    "20M",
    "--files",
    "100",
    "--sessions",
    "1",
    "--seed",
    "4",
];

fn arg(path: &Path) -> String {
    path.display().to_string()
}

/// Plays `script` on a fresh install in `dir` with `extra` options; the play report.
fn play(shop: &Shop, dir: &Path, script: &str, extra: &[&str]) -> Value {
    let report = dir.with_extension("json");
    let mut args = shop.https_args();
    args.extend([
        "--dir".into(),
        arg(dir),
        "--script".into(),
        arg(&shop.path(script)),
        "--report".into(),
        arg(&report),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    client_ok("play", &args);
    read_json(&report)
}

/// The depot directory of an image of the current app.
fn image_dir(shop: &Shop, build: u64, dxf_name: &str) -> PathBuf {
    shop.server
        .data_dir()
        .join(format!("depot/dxf/{ORG}/{APP}/{build:04}/{dxf_name}"))
}

/// The app's one `mkseq` task once it ended.
fn wait_mkseq(shop: &Shop, count: usize) -> Vec<Value> {
    let mut tasks = Vec::new();
    wait_for("training to end", 120, || {
        let (status, body) = shop.be().call(
            Method::GET,
            "/be/v1/tasks?type=mkseq&limit=100&order[]=created",
            None,
        );
        assert_eq!(status, 200, "{body}");
        tasks = body["tasks"].as_array().cloned().unwrap_or_default();
        tasks.len() == count
            && tasks
                .iter()
                .all(|t| ["done", "failed"].contains(&t["status"].as_str().unwrap_or("")))
    });
    tasks
}

fn trainings(shop: &Shop) -> Vec<Value> {
    let (status, body) = shop.be().call(
        Method::GET,
        &format!("/be/v1/trainings?appName={APP}"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body["trainings"].as_array().cloned().unwrap_or_default()
}

fn set_reliable(shop: &Shop, n: u64) {
    let (status, body) = shop.be().call(
        Method::PATCH,
        "/be/v1/trainings",
        Some(json!({"appName": APP, "nTracesReliable": n})),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn played_sessions_train_an_image_with_a_smaller_preload() {
    let shop = Shop::open(json!({}), |dir| {
        game_gen(&dir.join("earlier"), &EARLIER);
        game_gen(dir, &GAME);
    });
    shop.import("earlier/game.tar");
    shop.import("game.tar");
    set_reliable(&shop, 5);
    let before = app_details(&shop.be());
    let untraced = before["dxfName"].as_str().expect("dxfName").to_string();
    let build = before["iCurBuild"].as_u64().expect("build");
    let work = tempfile::tempdir().expect("tempdir");

    let mut untraced_bytes = 0;
    for n in 1..=5 {
        let played = play(
            &shop,
            &work.path().join(format!("s{n}")),
            &format!("session-{n}.jsonl"),
            &["--upload"],
        );
        assert!(played["traceDigest"].is_string(), "{played}");
        untraced_bytes = played["bytesBeforePlay"].as_u64().expect("bytes");
    }
    let tasks = wait_mkseq(&shop, 1);
    assert_eq!(tasks[0]["status"], "done", "{}", tasks[0]);
    let outcome = &tasks[0]["result"];
    assert_eq!(outcome["published"], true, "{outcome}");
    assert_eq!(outcome["tracesUsed"], 5, "{outcome}");
    assert!(
        outcome["message"]
            .as_str()
            .unwrap_or("")
            .contains("preload"),
        "{outcome}"
    );

    let after = app_details(&shop.be());
    let trained = after["dxfName"].as_str().expect("dxfName").to_string();
    assert_ne!(trained, untraced);
    assert_eq!(after["iCurBuild"], build);
    let old_meta = read_json(&image_dir(&shop, build, &untraced).join("img.json"));
    let new_dir = image_dir(&shop, build, &trained);
    let new_meta = read_json(&new_dir.join("img.json"));
    let preload = new_meta["preloadBytes"].as_u64().expect("preload");
    assert!(
        preload < old_meta["preloadBytes"].as_u64().expect("preload") / 4,
        "{new_meta}"
    );
    assert_eq!(new_meta["traceCount"], 5);
    let view = trainings(&shop);
    let current = view.iter().find(|t| t["current"] == true).expect("current");
    assert_eq!(current["dxfName"], trained.as_str());
    assert_eq!(current["preloadBytes"], preload);
    assert_eq!(current["lastMkseq"]["published"], true);
    // The replaced image takes no more traces: they describe an order no longer served.
    let late = json!({
        "orgName": ORG, "appName": APP, "accessKey": shop.access, "dxfName": untraced,
        "blockSize": 4096, "launchMs": 5, "reads": [[0, 0, 1]],
    });
    let (status, refused) = common::json_response(
        shop.server
            .client
            .post(shop.server.url("/client/v1/traces"))
            .json(&late)
            .send()
            .expect("request"),
    );
    common::assert_error(status, &refused, 400, "invalid-param");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or("")
            .contains(&untraced)
    );

    // A held-out session on a player's link launches after the preload, with the build's
    // bytes (on the untraced image it launched only once every byte was there).
    let held_out = play(
        &shop,
        &work.path().join("held"),
        "session-6.jsonl",
        &["--limit-rate", "8M"],
    );
    let bytes = held_out["bytesBeforePlay"].as_u64().expect("bytes");
    assert!(
        bytes < untraced_bytes / 3,
        "{bytes} bytes before play, {untraced_bytes} untraced"
    );
    assert_eq!(held_out["preloadBytes"], preload);
    assert_tree_is(&work.path().join("held"), &shop.path("game.tar"));

    // Install and extract give the build; every patch to it gives the new image exactly.
    let mut args = shop.https_args();
    args.extend(["--dir".into(), arg(&work.path().join("installed"))]);
    client_ok("install", &args);
    assert_tree_is(&work.path().join("installed"), &shop.path("game.tar"));
    let extracted = work.path().join("extracted");
    cli_ok(&[&"image", &"extract", &new_dir, &extracted]);
    let reference = work.path().join("reference");
    tar_extract(&shop.path("game.tar"), &reference);
    common_engine::assert_same_tree(&reference, &extracted);
    let patches = after["files"]["patches"].as_object().expect("patches");
    assert_eq!(patches.len(), 1, "{after}");
    let first = after["builds"][0].clone();
    let old_image = image_dir(
        &shop,
        first["id"].as_u64().expect("id"),
        first["dxfName"].as_str().expect("dxf"),
    );
    for key in patches.keys() {
        let (from, to) = key.split_once('-').expect("FFFF-TTTT");
        let dir = shop
            .server
            .data_dir()
            .join(format!("depot/pat/{ORG}/{APP}/{to}/{from}"));
        let (bulk, streamed) = (
            work.path().join("bulk.dxf"),
            work.path().join("streamed.dxf"),
        );
        cli_ok(&[&"patch", &"apply", &old_image, &dir, &bulk]);
        cli_ok(&[
            &"patch",
            &"apply",
            &"--streaming",
            &old_image,
            &dir,
            &streamed,
        ]);
        let want = md5_of(&new_dir.join("img.dxf"));
        assert_eq!(md5_of(&bulk), want);
        assert_eq!(md5_of(&streamed), want);
    }
}

#[test]
fn a_launcher_that_began_on_the_old_image_finishes_it_after_training() {
    let mut env = ENV.to_vec();
    env.push(("ROCKIT_EDGE__BUILDS__GRACE_SECS", "600"));
    let shop = Shop::open_with(&env, json!({}), |dir| {
        game_gen(dir, &GAME);
    });
    shop.import("game.tar");
    let work = tempfile::tempdir().expect("tempdir");
    for n in 1..=3 {
        play(
            &shop,
            &work.path().join(format!("s{n}")),
            &format!("session-{n}.jsonl"),
            &["--upload"],
        );
    }
    let untraced = app_details(&shop.be())["dxfName"].clone();

    // A slow launcher starts on the untraced image ...
    let slow = work.path().join("slow");
    let mut args = shop.https_args();
    args.extend([
        "--dir".into(),
        arg(&slow),
        "--script".into(),
        arg(&shop.path("session-4.jsonl")),
        "--limit-rate".into(),
        "2M".into(),
    ]);
    let mut launcher = Command::new(binary())
        .arg("client")
        .arg("play")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the launcher");
    wait_for("the launcher to begin", 60, || {
        slow.join(".rockit/img.json").exists()
    });
    // ... training publishes a new image meanwhile ...
    let (status, body) = shop.be().call(
        Method::POST,
        "/be/v1/trigger",
        Some(json!({"type": "traces", "appName": APP})),
    );
    assert_eq!(status, 200, "{body}");
    let tasks = wait_mkseq(&shop, 1);
    assert_eq!(tasks[0]["result"]["published"], true, "{}", tasks[0]);
    assert_ne!(app_details(&shop.be())["dxfName"], untraced);
    assert!(
        launcher.try_wait().expect("poll").is_none(),
        "the launcher ended before training did; slow it down"
    );
    // ... and the launcher finishes the build it began.
    let output = launcher.wait_with_output().expect("launcher");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_tree_is(&slow, &shop.path("game.tar"));
    assert_eq!(
        read_json(&slow.join(".rockit/img.json"))["dxfName"],
        untraced
    );
}
