//! Helpers of the build pipeline tests: an org with a publishing machine user, game builds
//! in several versions, imports followed to their end, and depot URLs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use base64::Engine;
use md5::{Digest, Md5};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Be, Server, create_org, login, wait_for};
use crate::common_engine::{noise, tar_of, write};

pub const ORG: &str = "studio";
pub const APP: &str = "Racer";

/// Settings every test here runs the server with: loopback build URLs, a short grace period.
pub const ENV: [(&str, &str); 3] = [
    ("ROCKIT_EDGE__BUILDS__ALLOW_PRIVATE_URLS", "true"),
    ("ROCKIT_EDGE__BUILDS__GRACE_SECS", "2"),
    ("ROCKIT_EDGE__BUILDS__PATCH_BUDGET_MB", "256"),
];

/// A machine user of a fresh org with every permission; its API key.
pub fn publisher(server: &Server) -> String {
    create_org(server, ORG, "orgadmin-pass-1");
    let tokens = login(server, ORG, "admin", "orgadmin-pass-1");
    let admin = Be::bearer(server, tokens["accessToken"].as_str().expect("token"));
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/users",
        Some(json!({"username": "ci", "label": "CI", "roles": ["Administrators"]})),
    );
    assert_eq!(status, 200, "{body}");
    body["apiKey"].as_str().expect("api key").to_string()
}

/// Four versions of a game: shared assets, edited code, a moved directory, added and removed
/// files; each as a tar in `dir`.
pub fn game_versions(dir: &Path) -> Vec<PathBuf> {
    let mut tars = Vec::new();
    for version in 1..=4u64 {
        let tree = dir.join(format!("v{version}"));
        write(&tree.join("assets/level1.pak"), &noise(3 << 20, 1));
        write(
            &tree.join("assets/level2.pak"),
            &noise(1 << 20, 2 + version / 3),
        );
        let mut code = noise(600 << 10, 10);
        code[1000..1000 + 64].copy_from_slice(&noise(64, 100 + version));
        write(&tree.join("bin/game"), &code);
        let music = if version >= 3 { "media/music" } else { "music" };
        write(&tree.join(music).join("theme.ogg"), &noise(700 << 10, 30));
        write(
            &tree.join(format!("notes-{version}.txt")),
            format!("release {version}\n").as_bytes(),
        );
        std::fs::create_dir_all(tree.join("empty")).expect("mkdir");
        let tar = dir.join(format!("v{version}.tar"));
        tar_of(&tree, &tar, "--format=pax");
        tars.push(tar);
    }
    tars
}

/// Starts an import; the answer.
pub fn import(be: &Be, body: Value) -> Value {
    let (status, answer) = be.call(Method::POST, "/be/v1/builds", Some(body));
    assert_eq!(status, 200, "{answer}");
    answer
}

/// Waits for the import started by `task` (a `dltar` or `upload`) to end with its `mkraw`;
/// the last task of its group.
pub fn wait_import(be: &Be, task: &str) -> Value {
    let group = task.to_string();
    let mut last = Value::Null;
    wait_for("the import to end", 180, || {
        let (status, body) = be.call(
            Method::GET,
            &format!("/be/v1/tasks?group={group}&limit=10"),
            None,
        );
        assert_eq!(status, 200, "{body}");
        let tasks = body["tasks"].as_array().cloned().unwrap_or_default();
        let ended =
            |t: &Value| ["done", "failed", "expired"].contains(&t["status"].as_str().unwrap_or(""));
        let failed = tasks.iter().find(|t| ended(t) && t["status"] != "done");
        let mkraw = tasks.iter().find(|t| t["type"] == "mkraw" && ended(t));
        last = failed.or(mkraw).cloned().unwrap_or(Value::Null);
        !last.is_null()
    });
    last
}

/// Uploads a tar through an upload URL: the first `cut` bytes, a status query, then the rest.
pub fn upload_in_two(server: &Server, url: &str, tar: &Path, cut: usize) -> Value {
    let bytes = std::fs::read(tar).expect("read tar");
    let total = bytes.len();
    let first = server
        .client
        .put(url)
        .header("content-range", format!("bytes 0-{}/{total}", cut - 1))
        .body(bytes[..cut].to_vec())
        .send()
        .expect("first piece");
    assert_eq!(first.status().as_u16(), 308);
    assert_eq!(
        first.headers()["range"].to_str().expect("range"),
        format!("bytes=0-{}", cut - 1)
    );
    let query = server
        .client
        .put(url)
        .header("content-range", format!("bytes */{total}"))
        .send()
        .expect("status query");
    assert_eq!(query.status().as_u16(), 308);
    let gap = server
        .client
        .put(url)
        .header(
            "content-range",
            format!("bytes {}-{}/{total}", cut + 1, total - 1),
        )
        .body(bytes[cut + 1..].to_vec())
        .send()
        .expect("gap");
    let (status, body) = crate::common::json_response(gap);
    crate::common::assert_error(status, &body, 416, "range-not-satisfiable");
    let rest = server
        .client
        .put(url)
        .header(
            "content-range",
            format!("bytes {cut}-{}/{total}", total - 1),
        )
        .body(bytes[cut..].to_vec())
        .send()
        .expect("rest");
    let (status, body) = crate::common::json_response(rest);
    assert_eq!(status, 200, "{body}");
    body
}

pub fn app_details(be: &Be) -> Value {
    let (status, body) = be.call(Method::GET, &format!("/be/v1/apps/{APP}"), None);
    assert_eq!(status, 200, "{body}");
    body["app"].clone()
}

pub fn patch_keys(app: &Value) -> Vec<String> {
    app["files"]["patches"]
        .as_object()
        .expect("patches")
        .keys()
        .cloned()
        .collect()
}

pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// The depot's signing token, as the server derives it from its secret.
pub fn depot_token(server: &Server) -> String {
    let text = std::fs::read_to_string(server.data_dir().join("secrets/depot.secret"))
        .expect("depot secret");
    let secret = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .expect("base64");
    hex::encode(secret)
}

/// A depot URL signed with the server's secret until `expires`.
pub fn signed(server: &Server, key: &str, expires: i64) -> String {
    let path = format!("/depot/{key}");
    let query = rockit_edge::publish::signing::gcore_query(&path, expires, &depot_token(server));
    server.url(&format!("{path}?{query}"))
}

pub fn fetch(server: &Server, url: &str) -> Vec<u8> {
    let response = server.client.get(url).send().expect("depot get");
    assert_eq!(response.status().as_u16(), 200, "{url}");
    response.bytes().expect("body").to_vec()
}

/// Fetches every file of a `files` list from its URLs into `dir`, checking size and md5.
pub fn fetch_all(server: &Server, files: &Value, urls: &Value, dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for file in files.as_array().expect("files") {
        let name = file["name"].as_str().expect("name");
        let bytes = fetch(server, urls[name].as_str().expect("url"));
        assert_eq!(
            bytes.len() as u64,
            file["size"].as_u64().expect("size"),
            "{name}"
        );
        assert_eq!(md5_hex(&bytes), file["md5"], "{name}");
        std::fs::write(dir.join(name), bytes).expect("write");
    }
}

/// Creates the app `APP` with `settings` (`maxBuilds`, `autoCommit` ...) beside its name and
/// label.
pub fn create_app(be: &Be, settings: Value) {
    let mut body = json!({"name": APP, "label": "Racer"});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), settings) {
        body.extend(extra);
    }
    let (status, answer) = be.call(Method::POST, "/be/v1/apps", Some(body));
    assert_eq!(status, 200, "{answer}");
}
