//! `rockit-edge client install` and `verify` against the real appliance: over HTTPS with its
//! CA, through a proxy that counts, damages or refuses what it forwards, killed with
//! `kill -9` and run again, and from a local image directory.

mod common;
mod common_builds;
mod common_client;
mod common_engine;

use std::path::Path;

use common::wait_for;
use common_builds::game_versions;
use common_client::{Shop, assert_tree_is, client, client_ok, read_json};
use common_engine::{noise, tar_of, write};

/// `args` followed by `extra`.
fn with(args: &[String], extra: &[&str]) -> Vec<String> {
    args.iter()
        .cloned()
        .chain(extra.iter().map(|s| s.to_string()))
        .collect()
}

fn path_arg(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn an_install_over_https_is_the_build_and_is_verified_and_repaired() {
    let shop = Shop::open(serde_json::json!({}), |dir| {
        game_versions(dir);
    });
    shop.import("v1.tar");
    let dir = shop.path("game");
    let report = shop.path("install.json");
    let args = with(
        &shop.https_args(),
        &["--dir", &path_arg(&dir), "--report", &path_arg(&report)],
    );
    client_ok("install", &args);
    assert_tree_is(&dir, &shop.path("v1.tar"));
    let first = read_json(&report);
    assert_eq!(first["buildId"], 1, "{first}");
    let image = read_json(&dir.join(".rockit/img.json"));
    assert_eq!(first["dxfName"], image["dxfName"]);
    let fetched = first["totalBytes"].as_u64().expect("totalBytes");
    let dxf_size = image["dxfSize"].as_u64().expect("dxfSize");
    assert!(
        fetched >= dxf_size && fetched < dxf_size + (64 << 10),
        "{fetched} bytes for an image of {dxf_size}"
    );
    let verify = ["--dir".to_string(), path_arg(&dir)];
    client_ok("verify", &verify);

    // A flipped byte: verify names the file and fails; install puts it right.
    let damaged = dir.join("bin/game");
    let mut bytes = std::fs::read(&damaged).expect("read");
    bytes[70_000] ^= 1;
    std::fs::write(&damaged, &bytes).expect("write");
    let out = client("verify", &verify);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "bin/game");
    client_ok("install", &args);
    let repair = read_json(&report);
    assert_eq!(repair["repairedFiles"], serde_json::json!(["bin/game"]));
    assert!(
        repair["totalBytes"].as_u64().expect("bytes") < dxf_size / 2,
        "{repair}"
    );
    client_ok("verify", &verify);
    assert_tree_is(&dir, &shop.path("v1.tar"));

    // A wrong access key: a clear refusal, and nothing claims to be installed.
    let other = shop.path("other");
    let mut wrong = shop.https_args();
    let key_at = wrong.iter().position(|a| a == "--access-key").expect("key") + 1;
    wrong[key_at] = "rka_wrongwrongwrong.0000000000000000".into();
    let out = client("install", &with(&wrong, &["--dir", &path_arg(&other)]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("refused access"), "{err}");
    assert!(!other.join(".rockit/installed.json").exists());
    let out = client("verify", &["--dir".into(), path_arg(&other)]);
    assert!(!out.status.success());

    // A revoked key: the same refusal.
    let (status, keys) = shop.be().call(reqwest::Method::GET, "/be/v1/keys", None);
    assert_eq!(status, 200, "{keys}");
    let id = keys["keys"][0]["id"].as_str().expect("key id").to_string();
    let (status, gone) =
        shop.be()
            .call(reqwest::Method::DELETE, &format!("/be/v1/keys/{id}"), None);
    assert_eq!(status, 200, "{gone}");
    let revoked = with(&shop.https_args(), &["--dir", &path_arg(&other)]);
    let out = client("install", &revoked);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("refused access"), "{err}");
    assert!(!other.join(".rockit/installed.json").exists());
}

#[test]
fn a_damaged_range_is_fetched_again_alone_and_refusals_are_retried() {
    let shop = Shop::open(serde_json::json!({}), |dir| {
        game_versions(dir);
    });
    shop.import("v1.tar");
    let proxy = shop.proxy();
    let dir = shop.path("game");
    let report = shop.path("install.json");
    let args = with(
        &shop.proxied_args(&proxy),
        &["--dir", &path_arg(&dir), "--report", &path_arg(&report)],
    );
    // Chunk 5 (bytes 1310720..1572864) loses a byte on its way; the first 403 and 404 of the
    // image make the client renew its URLs and retry.
    let chunk = 256 * 1024;
    proxy.damage_once("img.dxf", 5 * chunk + 1234);
    proxy.refuse("img.dxf", 403, 1);
    client_ok("install", &args);
    assert!(proxy.damaged());
    assert_tree_is(&dir, &shop.path("v1.tar"));
    let done = read_json(&report);
    assert_eq!(done["damagedChunks"], 1, "{done}");
    assert!(done["retries"].as_u64().expect("retries") >= 2, "{done}");
    let log = proxy.log();
    let auths = log.iter().filter(|f| f.path == "/client/v1/auth").count();
    assert_eq!(auths, 2, "a 403 renews the URLs once: {log:?}");
    let again = format!("bytes={}-{}", 5 * chunk, 6 * chunk - 1);
    let refetched: Vec<_> = log.iter().filter(|f| f.range == again).collect();
    assert_eq!(refetched.len(), 1, "chunk 5 alone, once: {log:?}");
    let image = read_json(&dir.join(".rockit/img.json"));
    let dxf_bytes: u64 = log
        .iter()
        .filter(|f| f.path.contains("img.dxf"))
        .map(|f| f.body_bytes)
        .sum();
    let dxf_size = image["dxfSize"].as_u64().expect("dxfSize");
    assert!(
        dxf_bytes <= dxf_size + chunk,
        "{dxf_bytes} bytes of img.dxf for {dxf_size}"
    );

    // An origin that keeps answering 404: retried, then an error naming the path.
    let other = shop.path("other");
    proxy.refuse("img.dxf", 404, 100);
    let out = client(
        "install",
        &with(&shop.proxied_args(&proxy), &["--dir", &path_arg(&other)]),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let dxf = format!("/{}/img.dxf", image["dxfName"].as_str().expect("dxf"));
    assert!(err.contains(&dxf) && err.contains("404"), "{err}");
    assert!(!err.contains("md5="), "no signature in messages: {err}");
    let refused = proxy.log().iter().filter(|f| f.status == 404).count();
    assert!(refused >= 6, "{refused} attempts");
    let state = read_json(&other.join(".rockit/installed.json"));
    assert_eq!(state["complete"], false);
}

#[test]
fn a_killed_install_resumes_without_fetching_twice() {
    let shop = Shop::open(serde_json::json!({}), |dir| {
        let tree = dir.join("big");
        write(&tree.join("data/world.pak"), &noise(150 << 20, 7));
        write(&tree.join("data/voices.pak"), &noise(60 << 20, 8));
        write(&tree.join("readme.txt"), b"big game\n");
        tar_of(&tree, &dir.join("big.tar"), "--format=gnu");
    });
    shop.import("big.tar");
    let proxy = shop.proxy();
    let dir = shop.path("game");
    let args = with(&shop.proxied_args(&proxy), &["--dir", &path_arg(&dir)]);
    let mut first = std::process::Command::new(common::binary())
        .arg("client")
        .arg("install")
        .args(with(&args, &["--limit-rate", "40M"]))
        .spawn()
        .expect("spawn client");
    let present = dir.join(".rockit/chunks.present");
    wait_for("30 % of the image", 120, || {
        std::fs::read(&present)
            .map(|bits| {
                bits.iter().map(|b| b.count_ones() as usize).sum::<usize>() * 10
                    >= bits.len() * 8 * 3
            })
            .unwrap_or(false)
    });
    first.kill().expect("kill -9");
    first.wait().expect("reaped");
    let before = proxy.returned();
    let image = read_json(&dir.join(".rockit/img.json"));
    let dxf_size = image["dxfSize"].as_u64().expect("dxfSize");
    assert!(before < dxf_size / 2, "killed at {before} of {dxf_size}");
    assert_eq!(
        read_json(&dir.join(".rockit/installed.json"))["complete"],
        false
    );

    let report = shop.path("resumed.json");
    client_ok("install", &with(&args, &["--report", &path_arg(&report)]));
    let resumed = read_json(&report);
    assert!(
        resumed["chunksPresentBefore"].as_u64().expect("present") > 0,
        "{resumed}"
    );
    client_ok("verify", &["--dir".into(), path_arg(&dir)]);
    assert_tree_is(&dir, &shop.path("big.tar"));
    let total = proxy.returned();
    assert!(
        total * 10 <= dxf_size * 11,
        "{total} bytes over both runs for an image of {dxf_size}"
    );
}

#[test]
fn an_image_directory_installs_offline() {
    let work = tempfile::tempdir().expect("tempdir");
    let tars = game_versions(work.path());
    let image = work.path().join("img");
    common_engine::cli_ok(&[&"image", &"build", &"--build-id", &"7", &tars[2], &image]);
    let dir = work.path().join("game");
    let report = work.path().join("report.json");
    client_ok(
        "install",
        &[
            "--from-dir".into(),
            path_arg(&image),
            "--dir".into(),
            path_arg(&dir),
            "--report".into(),
            path_arg(&report),
        ],
    );
    assert_tree_is(&dir, &tars[2]);
    assert_eq!(read_json(&report)["buildId"], 7);
    client_ok("verify", &["--dir".into(), path_arg(&dir)]);
}
