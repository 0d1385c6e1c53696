//! `rockit-edge client update` against the real appliance: with the patch from the installed
//! build (and no more bytes than it lists), without one (from the new image), and killed
//! while it renames files into the tree.

mod common;
mod common_builds;
mod common_client;
mod common_engine;

use std::path::Path;

use common_builds::APP;
use common_client::{Shop, assert_tree_is, client, client_ok, read_json};
use common_engine::{noise, tar_of, write};
use serde_json::{Value, json};

/// Three builds of a game. 2 adds an incompressible pack and moves a directory: its patch is
/// new bytes that `patch.7z` cannot shrink, so ranges of `patch.data` cost least. 3 rewrites
/// a stretch of the big pack with text, edits the code in place, replaces the readme and
/// drops the pack 2 added: `patch.7z` is far smaller than the blocks it makes.
fn builds(dir: &Path) {
    let mut code = noise(600 << 10, 10);
    let level = noise(3 << 20, 1);
    for build in 1..=3u64 {
        let tree = dir.join(format!("b{build}"));
        let mut level = level.clone();
        if build == 3 {
            let text: Vec<u8> = (0..)
                .flat_map(|line: u32| format!("spawn point {line} at {}\n", line * 7).into_bytes())
                .take(300 << 10)
                .collect();
            level[1 << 20..(1 << 20) + text.len()].copy_from_slice(&text);
            code[1000..1064].copy_from_slice(&noise(64, 100));
        }
        write(&tree.join("assets/level1.pak"), &level);
        write(&tree.join("bin/game"), &code);
        if build == 2 {
            write(&tree.join("assets/dlc.pak"), &noise(2 << 20, 50));
        }
        let music = if build >= 2 { "media/music" } else { "music" };
        write(&tree.join(music).join("theme.ogg"), &noise(700 << 10, 30));
        let readme = if build == 3 { "build 3\n" } else { "build 1\n" };
        write(&tree.join("readme.txt"), readme.as_bytes());
        std::fs::create_dir_all(tree.join("saves")).expect("mkdir");
        std::os::unix::fs::symlink("bin/game", tree.join("start")).expect("symlink");
        tar_of(&tree, &dir.join(format!("b{build}.tar")), "--format=gnu");
    }
}

fn path_arg(path: &Path) -> String {
    path.display().to_string()
}

/// The client arguments for an install in `dir` with a report in `report`.
fn args(shop: &Shop, dir: &Path, report: &Path) -> Vec<String> {
    let mut args = shop.https_args();
    args.extend([
        "--dir".into(),
        path_arg(dir),
        "--report".into(),
        path_arg(report),
    ]);
    args
}

/// The size of a published file as `/client/v1/auth` lists it.
fn listed(files: &Value, name: &str) -> u64 {
    files
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == name))
        .and_then(|f| f["size"].as_u64())
        .unwrap_or_else(|| panic!("{name} not in {files}"))
}

#[test]
fn updates_follow_the_patch_or_else_the_image() {
    let shop = Shop::open(json!({"maxBuilds": 2}), builds);
    shop.import("b1.tar");
    let (here, behind) = (shop.path("here"), shop.path("behind"));
    let report = shop.path("report.json");
    client_ok("install", &args(&shop, &here, &report));
    client_ok("install", &args(&shop, &behind, &report));

    shop.import("b2.tar");
    client_ok("update", &args(&shop, &here, &report));
    assert_tree_is(&here, &shop.path("b2.tar"));
    client_ok("verify", &["--dir".into(), path_arg(&here)]);
    let update = read_json(&report);
    assert_eq!(
        (update["buildId"].clone(), update["updatedFrom"].clone()),
        (json!(2), json!(1))
    );
    let method = update["method"].as_str().expect("method");
    assert_eq!(method, "patch-data", "{update}");
    let auth = auth_answer(&shop);
    let patch = &auth["files"]["patches"]["0001-0002"];
    let image = &auth["files"]["dxf"];
    let allowed = (listed(patch, "map.7z") + listed(patch, "patch.7z")) * 11 / 10
        + listed(image, "img.json")
        + listed(image, "img.idx.7z");
    let fetched = update["totalBytes"].as_u64().expect("totalBytes");
    assert!(
        fetched <= allowed,
        "{fetched} bytes fetched, {allowed} allowed ({method})"
    );

    // Build 3 retires build 1 (two builds kept): the tree still at 1 has no patch and takes
    // the changed files from the image; the tree at 2 takes the patch.
    shop.import("b3.tar");
    client_ok("update", &args(&shop, &behind, &report));
    assert_tree_is(&behind, &shop.path("b3.tar"));
    let from_image = read_json(&report);
    assert_eq!(from_image["method"], "image", "{from_image}");
    // The changed files (the pack, the code, the readme) and the chunks around them; the
    // moved music (700 KiB) is copied, not fetched.
    let changed: u64 = (3 << 20) + (600 << 10) + 4096;
    let fetched = from_image["totalBytes"].as_u64().expect("totalBytes");
    assert!(
        fetched >= changed && fetched < changed + (512 << 10) + (16 << 10),
        "{fetched} bytes fetched for {changed} bytes of changed files"
    );
    client_ok("update", &args(&shop, &here, &report));
    assert_tree_is(&here, &shop.path("b3.tar"));
    let bulk = read_json(&report);
    assert_eq!(bulk["method"], "patch-bulk", "{bulk}");
    // A patch this small is outweighed by its patch.json (which names the images it joins
    // and hashes patch.data's chunks): allowed on top here.
    let auth = auth_answer(&shop);
    let patch = &auth["files"]["patches"]["0002-0003"];
    let allowed = (listed(patch, "map.7z") + listed(patch, "patch.7z")) * 11 / 10
        + listed(patch, "patch.json")
        + listed(&auth["files"]["dxf"], "img.json")
        + listed(&auth["files"]["dxf"], "img.idx.7z");
    let fetched = bulk["totalBytes"].as_u64().expect("totalBytes");
    assert!(
        fetched <= allowed,
        "{fetched} bytes fetched, {allowed} allowed"
    );
    for dir in [&here, &behind] {
        client_ok("verify", &["--dir".into(), path_arg(dir)]);
        assert!(!dir.join(".rockit/next").exists());
    }

    // Current already: nothing to fetch but the answer.
    client_ok("update", &args(&shop, &here, &report));
    assert_eq!(read_json(&report)["totalBytes"], 0);
}

#[test]
fn an_update_killed_while_renaming_is_finished_by_the_next() {
    let shop = Shop::open(json!({}), builds);
    shop.import("b1.tar");
    let dir = shop.path("game");
    let report = shop.path("report.json");
    client_ok("install", &args(&shop, &dir, &report));
    shop.import("b2.tar");

    let out = std::process::Command::new(common::binary())
        .arg("client")
        .arg("update")
        .args(args(&shop, &dir, &report))
        .env("ROCKIT_EDGE_CRASH_AT", "client-update-renamed")
        .output()
        .expect("run client");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("crash point"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Mid-way the tree claims to be neither build.
    let verify = client("verify", &["--dir".into(), path_arg(&dir)]);
    assert!(!verify.status.success());
    assert!(
        String::from_utf8_lossy(&verify.stderr).contains("did not complete"),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    client_ok("update", &args(&shop, &dir, &report));
    assert_tree_is(&dir, &shop.path("b2.tar"));
    assert_eq!(read_json(&report)["totalBytes"], 0, "the rest is local");
    client_ok("verify", &["--dir".into(), path_arg(&dir)]);
}

/// What `/client/v1/auth` answers with the shop's access key.
fn auth_answer(shop: &Shop) -> Value {
    let response = shop
        .server
        .client
        .post(shop.server.url("/client/v1/auth"))
        .json(&json!({"orgName": common_builds::ORG, "appName": APP, "accessKey": shop.access}))
        .send()
        .expect("auth");
    let (status, body) = common::json_response(response);
    assert_eq!(status, 200, "{body}");
    body
}
