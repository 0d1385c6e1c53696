//! The admin UI in a real browser: `web/e2e/run.mjs` drives Debian's Chromium (through
//! playwright-core) against the real server on a fresh data dir, with a real S3 server for a
//! deployment and a file server for an import by URL. What the browser did is then checked
//! through the API. The committed bundle must be what `web/` builds.

mod common;
mod common_builds;
mod common_engine;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::files::FileServer;
use common::{Be, LOCAL_ORIGINS, S3Server, Server, in_ci};
use common_builds::game_versions;
use reqwest::Method;
use serde_json::{Value, json};

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

/// Node, Chromium and `web/node_modules` (scripts/test.sh installs all three); `None` with a
/// loud message when one is missing, except under CI, where that fails the test.
fn browser_tools() -> Option<String> {
    let chromium = std::env::var("ROCKIT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing = if Command::new("node").arg("--version").output().is_err() {
        Some("node")
    } else if !Path::new(&chromium).exists() {
        Some("chromium (Debian package chromium)")
    } else if !web_dir().join("node_modules/playwright-core").exists() {
        Some("web/node_modules (npm ci in web/)")
    } else {
        None
    };
    if let Some(missing) = missing {
        let message = format!("{missing} is missing; scripts/test.sh installs it");
        assert!(!in_ci(), "{message}: CI must run the browser tests");
        eprintln!("SKIPPED: {message}");
        return None;
    }
    Some(chromium)
}

#[test]
fn the_committed_bundle_is_what_web_builds() {
    if browser_tools().is_none() {
        return;
    }
    let output = Command::new("npm")
        .args(["run", "--silent", "check"])
        .current_dir(web_dir())
        .output()
        .expect("run npm");
    assert!(
        output.status.success(),
        "npm run check failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn an_admin_runs_the_whole_appliance_from_the_browser() {
    let Some(chromium) = browser_tools() else {
        return;
    };
    let Some(s3) = S3Server::start() else {
        return;
    };
    // Access tokens live 5 s, so the walk only works if the UI refreshes them silently.
    let server = Server::start_with(
        &[],
        &[
            LOCAL_ORIGINS,
            ("ROCKIT_EDGE__BUILDS__ALLOW_PRIVATE_URLS", "true"),
            ("ROCKIT_EDGE__AUTH__ACCESS_TOKEN_SECS", "5"),
        ],
    );
    let builds = tempfile::tempdir().expect("tempdir");
    let tars = game_versions(builds.path());
    let gzipped = Command::new("gzip")
        .arg("-k")
        .arg(&tars[2])
        .status()
        .expect("run gzip");
    assert!(gzipped.success());
    let files = FileServer::start(builds.path().to_path_buf());
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    let _ = std::fs::remove_dir_all(&screenshots);
    let s3_settings = json!({
        "hostname": s3.hostname(), "bucket": "edge",
        "accessKey": s3.access_key, "secretKey": s3.secret_key,
    });

    let output = Command::new("node")
        .arg("e2e/run.mjs")
        .current_dir(web_dir())
        .env("ROCKIT_CHROMIUM", chromium)
        .env("ROCKIT_UI_BASE", server.url(""))
        .env("ROCKIT_UI_ADMIN_TOKEN", server.admin_token("ops"))
        .env("ROCKIT_UI_TAR1", &tars[0])
        .env("ROCKIT_UI_TAR2_URL", files.url("v2.tar"))
        .env("ROCKIT_UI_TAR4", &tars[3])
        .env("ROCKIT_UI_TAR_GZ_URL", files.url("v3.tar.gz"))
        .env(
            "ROCKIT_UI_DEAD_URL",
            format!("http://127.0.0.1:{dead_port}/build.tar"),
        )
        .env("ROCKIT_UI_S3", s3_settings.to_string())
        .env("ROCKIT_UI_SCREENSHOTS", &screenshots)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or(Value::Null);
    assert!(
        output.status.success(),
        "the browser walk failed: {summary:#}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    eprintln!(
        "{}screenshots in {}",
        String::from_utf8_lossy(&output.stderr),
        screenshots.display()
    );

    // What the browser showed and did, checked through the API.
    assert_eq!(summary["uploadResumed"], true, "{summary}");
    assert_eq!(summary["committedAndDeleted"], true, "{summary}");
    // After the reload: one question (how far?), then pieces from where the appliance stood
    // (past the first piece; a held piece may have arrived in part) to the end.
    let size = std::fs::metadata(&tars[3]).expect("tar").len();
    assert_eq!(summary["resumedAfterReload"], true, "{summary}");
    let ranges: Vec<&str> = summary["rangesAfterReload"]
        .as_array()
        .expect("ranges")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        ranges.first(),
        Some(&format!("bytes */{size}").as_str()),
        "{ranges:?}"
    );
    let first_sent: u64 = ranges
        .get(1)
        .and_then(|r| r.strip_prefix("bytes "))
        .and_then(|r| r.split('-').next())
        .and_then(|n| n.parse().ok())
        .expect("a piece after the question");
    assert!(first_sent >= 4 << 20, "{ranges:?}");
    assert!(
        ranges
            .last()
            .is_some_and(|r| r.ends_with(&format!("-{}/{size}", size - 1))),
        "{ranges:?}"
    );
    assert_eq!(summary["deploymentStatus"], "ok", "{summary}");
    assert_eq!(summary["afterLogout"], 401, "{summary}");
    assert!(summary["refreshes"].as_u64() > Some(0), "{summary}");
    assert!(
        summary["errorShown"]
            .as_str()
            .is_some_and(|m| m.contains("racer")),
        "{summary}"
    );

    assert!(
        summary["failedException"]
            .as_str()
            .is_some_and(|e| e.contains("httpDownloadFailed")),
        "{summary}"
    );
    let key = summary["apiKey"].as_str().expect("the copied API key");
    let machine = Be::bearer(&server, key);
    let (status, app) = machine.call(Method::GET, "/be/v1/apps/racer", None);
    assert_eq!(status, 200, "{app}");
    let app = &app["app"];
    assert_eq!(app["iCurBuild"], 1, "rolled back: {app}");
    assert_eq!(app["builds"].as_array().map(Vec::len), Some(2), "{app}");
    assert_eq!(
        summary["filesShown"].as_u64(),
        Some(4),
        "every file of the image was listed"
    );
    let upload = summary["expiredUpload"]
        .as_str()
        .expect("the expired upload");
    let (_, task) = machine.call(Method::GET, &format!("/be/v1/tasks/{upload}"), None);
    assert_eq!(task["task"]["status"], "expired", "{task}");
    let (_, tasks) = machine.call(Method::GET, "/be/v1/tasks?appName=tools&type=mkraw", None);
    let warnings: Vec<&Value> = tasks["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .flat_map(|task| task["warnings"].as_array().into_iter().flatten())
        .filter(|warning| warning["acknowledged"] == true)
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "the one acknowledged in the browser: {tasks}"
    );
    assert_eq!(warnings[0]["code"], "compressedTar", "{tasks}");
    let revoked = summary["revokedKey"].as_str().expect("the revoked key");
    let (status, _) = Be::bearer(&server, revoked).call(Method::GET, "/be/v1/apps", None);
    assert_eq!(
        status, 401,
        "the key revoked in the browser no longer works"
    );
    let (status, _) = machine.call(Method::GET, "/be/v1/apps/tools", None);
    assert_eq!(status, 404, "the app deleted in the browser is gone");
    // The copied key holds exactly the role made with the matrix: apps read + update.
    let (status, _) = machine.call(Method::DELETE, "/be/v1/apps/racer", None);
    assert_eq!(status, 403);
    let (status, role) = machine.call(Method::GET, "/be/v1/roles/Publishers", None);
    assert_eq!(status, 403, "{role}");

    let (status, listed) = server.admin(Method::GET, "/adm/v1/orgs", None);
    assert_eq!(status, 200);
    let orgs: Vec<&str> = listed["orgs"]
        .as_array()
        .expect("orgs")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert_eq!(orgs, ["acme"], "beta was deleted from the admin screen");
    assert!(
        s3.keys("games/").iter().any(|k| k.ends_with("app.json")),
        "the deployment made in the browser received the current build"
    );
    assert_gcore_signed_with(&server, &summary, "gcore-secret-token");
}

/// The CDN URLs a launcher gets (with the access key made in the browser) carry a Gcore token
/// made with `secret`: the one typed at creation, kept through the edit that did not retype it.
fn assert_gcore_signed_with(server: &Server, summary: &Value, secret: &str) {
    use base64::Engine;
    use md5::Digest;

    let access = summary["accessKey"]
        .as_str()
        .expect("the access key made in the browser");
    let response = server
        .client
        .post(server.url("/client/v1/auth"))
        .json(&json!({"orgName": "acme", "appName": "racer", "accessKey": access}))
        .send()
        .expect("client auth");
    let (status, auth) = common::json_response(response);
    assert_eq!(status, 200, "{auth}");
    let url = auth["sources"]["cdn"]["dxf"]["img.dxf"]
        .as_str()
        .expect("a CDN URL of the image");
    let url = reqwest::Url::parse(url).expect("URL");
    let query: std::collections::HashMap<_, _> = url.query_pairs().collect();
    let signed = format!("{}{} {secret}", query["expires"], url.path());
    let want = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(md5::Md5::digest(signed));
    assert_eq!(query["md5"], want, "{url}");
}
