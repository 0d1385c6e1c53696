//! The build pipeline end to end against the real server over HTTPS: builds enter an app by
//! URL and by resumable upload, become images and patches, rotate out, and a launcher fetches
//! them from the depot with the signed URLs of `/client/v1/auth`.

mod common;
mod common_engine;

use std::path::{Path, PathBuf};

use base64::Engine;
use common::files::FileServer;
use common::{Be, Server, create_org, login, wait_for};
use common_engine::{assert_same_tree, cli_ok, noise, tar_of, write};
use md5::{Digest, Md5};
use reqwest::Method;
use serde_json::{Value, json};

const ORG: &str = "studio";
const APP: &str = "Racer";

/// Settings every test here runs the server with: loopback build URLs, a short grace period.
const ENV: [(&str, &str); 3] = [
    ("ROCKIT_EDGE__BUILDS__ALLOW_PRIVATE_URLS", "true"),
    ("ROCKIT_EDGE__BUILDS__GRACE_SECS", "2"),
    ("ROCKIT_EDGE__BUILDS__PATCH_BUDGET_MB", "256"),
];

/// A machine user of a fresh org with every permission; its API key.
fn publisher(server: &Server) -> String {
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
fn game_versions(dir: &Path) -> Vec<PathBuf> {
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
fn import(be: &Be, body: Value) -> Value {
    let (status, answer) = be.call(Method::POST, "/be/v1/builds", Some(body));
    assert_eq!(status, 200, "{answer}");
    answer
}

/// Waits for the import started by `task` (a `dltar` or `upload`) to end with its `mkraw`;
/// the last task of its group.
fn wait_import(be: &Be, task: &str) -> Value {
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
fn upload_in_two(server: &Server, url: &str, tar: &Path, cut: usize) -> Value {
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
    let (status, body) = common::json_response(gap);
    common::assert_error(status, &body, 416, "range-not-satisfiable");
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
    let (status, body) = common::json_response(rest);
    assert_eq!(status, 200, "{body}");
    body
}

fn app_details(be: &Be) -> Value {
    let (status, body) = be.call(Method::GET, &format!("/be/v1/apps/{APP}"), None);
    assert_eq!(status, 200, "{body}");
    body["app"].clone()
}

fn patch_keys(app: &Value) -> Vec<String> {
    app["files"]["patches"]
        .as_object()
        .expect("patches")
        .keys()
        .cloned()
        .collect()
}

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// The depot's signing token, as the server derives it from its secret.
fn depot_token(server: &Server) -> String {
    let text = std::fs::read_to_string(server.data_dir().join("secrets/depot.secret"))
        .expect("depot secret");
    let secret = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .expect("base64");
    hex::encode(secret)
}

/// A depot URL signed with the server's secret until `expires`.
fn signed(server: &Server, key: &str, expires: i64) -> String {
    let path = format!("/depot/{key}");
    let query = rockit_edge::publish::signing::gcore_query(&path, expires, &depot_token(server));
    server.url(&format!("{path}?{query}"))
}

fn fetch(server: &Server, url: &str) -> Vec<u8> {
    let response = server.client.get(url).send().expect("depot get");
    assert_eq!(response.status().as_u16(), 200, "{url}");
    response.bytes().expect("body").to_vec()
}

/// Fetches every file of a `files` list from its URLs into `dir`, checking size and md5.
fn fetch_all(server: &Server, files: &Value, urls: &Value, dir: &Path) {
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

#[test]
fn builds_enter_by_url_and_upload_rotate_and_reach_launchers_from_the_depot() {
    let server = Server::start_with(&[], &ENV);
    let key = publisher(&server);
    let be = Be::bearer(&server, &key);
    let work = tempfile::tempdir().expect("tempdir");
    let tars = game_versions(work.path());
    let files = FileServer::start(work.path().to_path_buf());

    let (status, body) = be.call(
        Method::POST,
        "/be/v1/apps",
        Some(json!({"name": APP, "label": "Racer", "maxBuilds": 3})),
    );
    assert_eq!(status, 200, "{body}");
    let empty = app_details(&be);
    assert_eq!(empty["iCurBuild"], 0);
    assert_eq!(empty["dxfName"], "");
    assert_eq!(empty["files"], json!({"dxf": [], "patches": {}}));

    // Build 1 by URL, through a redirect.
    let started = import(
        &be,
        json!({"appName": APP, "buildName": "1.0", "url": files.url("redirect/v1.tar")}),
    );
    let done = wait_import(&be, started["taskName"].as_str().expect("task"));
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["result"]["buildId"], 1, "{done}");

    // Build 2 by upload, cut at 40 % and continued.
    let started = import(&be, json!({"appName": APP, "buildName": "1.1"}));
    let url = started["uploadUrl"].as_str().expect("upload url");
    assert!(url.starts_with("https://"), "{url}");
    let size = std::fs::metadata(&tars[1]).expect("meta").len() as usize;
    let completed = upload_in_two(&server, url, &tars[1], size * 2 / 5);
    assert_eq!(completed["sizeBytes"], size as u64);
    let done = wait_import(&be, started["taskName"].as_str().expect("task"));
    assert_eq!(done["status"], "done", "{done}");
    let again = server
        .client
        .put(url)
        .header("content-range", format!("bytes 0-0/{size}"))
        .body(vec![0u8])
        .send()
        .expect("second upload");
    let (status, body) = common::json_response(again);
    common::assert_error(status, &body, 409, "item-protected");

    // Build 3 by URL with a plain one-shot upload's twin: a download that breaks off at 40 %.
    files
        .cut_after
        .store(size as u64 * 2 / 5, std::sync::atomic::Ordering::SeqCst);
    let started = import(
        &be,
        json!({"appName": APP, "buildName": "1.2", "url": files.url("v3.tar")}),
    );
    let done = wait_import(&be, started["taskName"].as_str().expect("task"));
    assert_eq!(done["status"], "done", "{done}");
    assert!(
        files
            .ranges
            .lock()
            .expect("lock")
            .iter()
            .any(|r| r.starts_with("bytes=")),
        "the download continued with a Range request"
    );

    let app = app_details(&be);
    assert_eq!(app["iCurBuild"], 3, "{app}");
    assert_eq!(patch_keys(&app), ["0001-0003", "0002-0003"], "{app}");
    let names: Vec<&str> = app["files"]["dxf"]
        .as_array()
        .expect("dxf")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["app.json", "img.json", "img.idx.7z", "img.dxf"]);
    let patch_names: Vec<&str> = app["files"]["patches"]["0001-0003"]
        .as_array()
        .expect("patch files")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        patch_names,
        [
            "app.json",
            "img.json",
            "map.7z",
            "patch.7z",
            "patch.json",
            "patch.data"
        ]
    );
    for key in [
        "name",
        "label",
        "dxfName",
        "iCurBuild",
        "maxBuilds",
        "processing",
        "exporting",
        "deployed",
        "files",
    ] {
        assert!(!app[key].is_null(), "{key} in {app}");
    }

    // Build 4 by URL, gzip-compressed: build 1 rotates out.
    let gz = work.path().join("v4.tar.gz");
    common_engine::sh(&format!(
        "gzip -c '{}' > '{}'",
        tars[3].display(),
        gz.display()
    ));
    let started = import(
        &be,
        json!({"appName": APP, "buildName": "1.3", "url": files.url("v4.tar.gz")}),
    );
    let done = wait_import(&be, started["taskName"].as_str().expect("task"));
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["warnings"][0]["code"], "compressedTar", "{done}");
    let app = app_details(&be);
    assert_eq!(app["iCurBuild"], 4);
    let ids: Vec<u64> = app["builds"]
        .as_array()
        .expect("builds")
        .iter()
        .map(|b| b["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(ids, [2, 3, 4], "{app}");
    assert_eq!(patch_keys(&app), ["0002-0004", "0003-0004"], "{app}");
    let depot = server.data_dir().join("depot/dxf").join(ORG).join(APP);
    wait_for("build 1's files to leave the depot", 30, || {
        !depot.join("0001").exists()
    });
    assert!(depot.join("0004").exists() && depot.join("0002").exists());

    // A launcher: an access key, the signed URLs, every file with its size and md5.
    let (status, created) = be.call(
        Method::POST,
        "/be/v1/keys",
        Some(json!({"appName": APP, "label": "launcher"})),
    );
    assert_eq!(status, 200, "{created}");
    let access = created["key"].as_str().expect("key");
    let (status, auth) = Be::anonymous(&server).call(
        Method::POST,
        "/client/v1/auth",
        Some(json!({"orgName": ORG, "appName": APP, "accessKey": access})),
    );
    assert_eq!(status, 200, "{auth}");
    assert_eq!(auth["files"], app["files"]);
    assert_eq!(auth["iCurBuild"], 4);
    let fetched = work.path().join("fetched");
    let depot_urls = &auth["sources"]["depot"];
    fetch_all(
        &server,
        &auth["files"]["dxf"],
        &depot_urls["dxf"],
        &fetched.join("img4"),
    );
    fetch_all(
        &server,
        &auth["files"]["patches"]["0002-0004"],
        &depot_urls["patches"]["0002-0004"],
        &fetched.join("pat"),
    );
    let (status, refused) = Be::anonymous(&server).call(
        Method::POST,
        "/client/v1/auth",
        Some(json!({"orgName": ORG, "appName": APP, "accessKey": format!("{access}x")})),
    );
    common::assert_error(status, &refused, 401, "unauthorized");

    // Signatures, ranges, conditional requests.
    let dxf_url = depot_urls["dxf"]["img.dxf"].as_str().expect("url");
    let tampered = dxf_url.replace("md5=", "md5=A");
    let (status, body) = common::json_response(server.client.get(&tampered).send().expect("get"));
    common::assert_error(status, &body, 403, "signature-invalid");
    let dxf_key = dxf_url
        .split("/depot/")
        .nth(1)
        .and_then(|rest| rest.split('?').next())
        .expect("key");
    let expired = signed(&server, dxf_key, chrono::Utc::now().timestamp() - 10);
    let (status, body) = common::json_response(server.client.get(&expired).send().expect("get"));
    common::assert_error(status, &body, 410, "url-expired");
    let whole = std::fs::read(fetched.join("img4/img.dxf")).expect("dxf");
    let ranged = server
        .client
        .get(dxf_url)
        .header("range", "bytes=4096-8191")
        .send()
        .expect("range");
    assert_eq!(ranged.status().as_u16(), 206);
    let etag = ranged.headers()["etag"].to_str().expect("etag").to_string();
    assert_eq!(ranged.bytes().expect("body").as_ref(), &whole[4096..8192]);
    let head = server.client.head(dxf_url).send().expect("head");
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(
        head.headers()["content-length"],
        whole.len().to_string().as_str()
    );
    assert_eq!(head.headers()["accept-ranges"], "bytes");
    let unchanged = server
        .client
        .get(dxf_url)
        .header("if-none-match", &etag)
        .send()
        .expect("conditional");
    assert_eq!(unchanged.status().as_u16(), 304);
    let beyond = server
        .client
        .get(dxf_url)
        .header("range", format!("bytes={}-", whole.len() + 10))
        .send()
        .expect("beyond");
    assert_eq!(beyond.status().as_u16(), 416);
    let unsigned = server
        .client
        .get(server.url(&format!("/depot/{dxf_key}")))
        .send()
        .expect("get");
    assert_eq!(unsigned.status().as_u16(), 403);

    // Build 2's image (signed by hand) plus the fetched patch give build 4's tree exactly.
    let build2 = &app["builds"][0];
    assert_eq!(build2["id"], 2);
    let img2 = fetched.join("img2");
    std::fs::create_dir_all(&img2).expect("mkdir");
    for name in ["app.json", "img.json", "img.idx.7z", "img.dxf"] {
        let key = format!(
            "dxf/{ORG}/{APP}/0002/{}/{name}",
            build2["dxfName"].as_str().expect("dxf name")
        );
        let bytes = fetch(
            &server,
            &signed(&server, &key, chrono::Utc::now().timestamp() + 60),
        );
        std::fs::write(img2.join(name), bytes).expect("write");
    }
    for (way, flag) in [("bulk", None), ("streaming", Some("--streaming"))] {
        let rebuilt = fetched.join(format!("rebuilt-{way}"));
        std::fs::create_dir_all(&rebuilt).expect("mkdir");
        for name in ["app.json", "img.json", "img.idx.7z"] {
            std::fs::copy(fetched.join("img4").join(name), rebuilt.join(name)).expect("copy");
        }
        let out = rebuilt.join("img.dxf");
        let pat = fetched.join("pat");
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
            vec![&"patch", &"apply", &img2, &pat, &out];
        if let Some(flag) = &flag {
            args.push(flag);
        }
        cli_ok(&args);
        let tree = fetched.join(format!("tree-{way}"));
        cli_ok(&[&"image", &"extract", &rebuilt, &tree]);
        assert_same_tree(&tree, &work.path().join("v4"));
    }
}
