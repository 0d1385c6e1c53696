//! Bad builds fail with their documented exception and leave the app at its previous build,
//! usable; uploads refuse what does not fit; every step reaches a webhook receiver in order.

mod common;
mod common_builds;
mod common_engine;

use common::files::FileServer;
use common::{Be, Receiver, Server, assert_error, json_response, wait_for};
use common_builds::*;
use common_engine::python;
use reqwest::Method;
use serde_json::{Value, json};

/// A running server with an org, an app at build 1 and a webhook receiver subscribed.
struct Scene {
    server: Server,
    key: String,
    work: tempfile::TempDir,
    files: FileServer,
    receiver: Receiver,
}

impl Scene {
    fn start(env: &[(&str, &str)]) -> Scene {
        let mut all: Vec<(&str, &str)> = ENV.to_vec();
        all.extend_from_slice(env);
        all.push(("ROCKIT_EDGE__WEBHOOKS__POLL_INTERVAL_MS", "50"));
        let server = Server::start_with(&[], &all);
        let key = publisher(&server);
        let work = tempfile::tempdir().expect("tempdir");
        game_versions(work.path());
        let files = FileServer::start(work.path().to_path_buf());
        let receiver = Receiver::start("{}");
        let scene = Scene {
            server,
            key,
            work,
            files,
            receiver,
        };
        let be = scene.be();
        let (status, body) = be.call(
            Method::POST,
            "/be/v1/subscriptions",
            Some(json!({"name": "hooks", "url": scene.receiver.url("/hook")})),
        );
        assert_eq!(status, 200, "{body}");
        create_app(&be, json!({}));
        scene
    }

    fn be(&self) -> Be<'_> {
        Be::bearer(&self.server, &self.key)
    }

    /// Imports a file of the work dir by URL; the import's last task.
    fn by_url(&self, name: &str, size: Option<u64>) -> Value {
        let mut body = json!({"appName": APP, "url": self.files.url(name)});
        if let Some(size) = size {
            body["size"] = json!(size);
        }
        let started = import(&self.be(), body);
        wait_import(&self.be(), started["taskName"].as_str().expect("task"))
    }

    /// Uploads bytes in one `PUT`; the import's last task.
    fn by_upload(&self, bytes: Vec<u8>) -> Value {
        let started = import(&self.be(), json!({"appName": APP}));
        let response = self
            .server
            .client
            .put(started["uploadUrl"].as_str().expect("url"))
            .body(bytes)
            .send()
            .expect("put");
        assert_eq!(response.status().as_u16(), 200);
        wait_import(&self.be(), started["taskName"].as_str().expect("task"))
    }

    fn current(&self) -> u64 {
        app_details(&self.be())["iCurBuild"]
            .as_u64()
            .expect("iCurBuild")
    }

    /// `type.event` of every delivered event of `task`, in delivery order.
    fn events_of(&self, tasks: &[&str]) -> Vec<String> {
        self.receiver
            .requests()
            .iter()
            .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
            .filter(|e| tasks.contains(&e["taskName"].as_str().unwrap_or("")))
            .map(|e| {
                format!(
                    "{}.{}",
                    e["type"].as_str().unwrap_or(""),
                    e["event"].as_str().unwrap_or("")
                )
            })
            .collect()
    }
}

fn exception_of(task: &Value, code: &str) -> Value {
    assert_eq!(task["status"], "failed", "{task}");
    task["exception"][code].clone()
}

#[test]
fn bad_builds_fail_with_their_exception_and_the_app_stays_usable() {
    let scene = Scene::start(&[]);
    let work = scene.work.path();
    let good = scene.by_url("v1.tar", None);
    assert_eq!(good["status"], "done", "{good}");
    assert_eq!(scene.current(), 1);

    python(&format!(
        "import zipfile\n\
         z = zipfile.ZipFile('{}', 'w')\n\
         z.writestr('game/readme.txt', 'a zip, not a tar')\n\
         z.close()",
        work.join("build.zip").display()
    ));
    let zip = std::fs::read(work.join("build.zip")).expect("zip");
    let failed = scene.by_upload(zip);
    let details = exception_of(&failed, "fileReadFailed");
    assert_eq!(details["typeDetected"], "zip", "{failed}");
    assert_eq!(details["typeExpected"], "tar", "{failed}");

    std::fs::write(work.join("noise.bin"), common_engine::noise(100_000, 9)).expect("write");
    let failed = scene.by_url("noise.bin", None);
    assert_eq!(
        exception_of(&failed, "fileReadFailed")["typeDetected"],
        "unknown"
    );

    python(&format!(
        "import tarfile, io\n\
         t = tarfile.open('{}', 'w')\n\
         data = b'evil'\n\
         info = tarfile.TarInfo('../escape.txt'); info.size = len(data)\n\
         t.addfile(info, io.BytesIO(data)); t.close()",
        work.join("evil.tar").display()
    ));
    let failed = scene.by_url("evil.tar", None);
    let unsafe_path = exception_of(&failed, "unsafePath");
    assert!(
        unsafe_path["filename"]
            .as_str()
            .is_some_and(|f| f.contains("escape")),
        "{failed}"
    );

    let failed = scene.by_url("missing.tar", None);
    let download = exception_of(&failed, "httpDownloadFailed");
    assert_eq!(download["httpStatus"], 404, "{failed}");
    assert_eq!(download["exitCode"], 22, "{failed}");
    assert!(
        download["url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/missing.tar"))
    );
    assert_eq!(failed["type"], "dltar");

    let size = std::fs::metadata(work.join("v2.tar")).expect("meta").len();
    let failed = scene.by_url("v2.tar", Some(size + 1));
    let mismatch = exception_of(&failed, "sizeMismatch");
    assert_eq!(
        mismatch,
        json!({"sizeBytesActual": size, "sizeBytesExpected": size + 1})
    );

    // An upload abandoned half way, expired by hand: its partial file goes.
    let started = import(&scene.be(), json!({"appName": APP}));
    let task = started["taskName"].as_str().expect("task").to_string();
    let partial = scene
        .server
        .client
        .put(started["uploadUrl"].as_str().expect("url"))
        .header("content-range", format!("bytes 0-99/{size}"))
        .body(vec![1u8; 100])
        .send()
        .expect("put");
    assert_eq!(partial.status().as_u16(), 308);
    let incoming = scene
        .server
        .data_dir()
        .join(format!("work/incoming/{task}.tar"));
    assert!(incoming.exists());
    let (status, body) = scene.be().call(
        Method::PATCH,
        "/be/v1/tasks",
        Some(json!({"name": task, "expire": true})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["task"]["status"], "expired");
    assert_eq!(body["task"]["exception"], json!({"uploadExpired": {}}));
    assert!(!incoming.exists(), "the partial upload was removed");
    let late = scene
        .server
        .client
        .put(started["uploadUrl"].as_str().expect("url"))
        .header("content-range", format!("bytes 100-199/{size}"))
        .body(vec![1u8; 100])
        .send()
        .expect("put");
    let (status, body) = json_response(late);
    assert_error(status, &body, 410, "url-expired");

    // Nothing of that moved the app; the next good build is build 2.
    let app = app_details(&scene.be());
    assert_eq!(app["iCurBuild"], 1, "{app}");
    assert_eq!(app["state"], "idle", "{app}");
    let good2 = scene.by_url("v2.tar", Some(size));
    assert_eq!(good2["status"], "done", "{good2}");
    assert_eq!(
        good2["result"]["buildId"], 2,
        "failed imports took no build id"
    );
    assert_eq!(scene.current(), 2);

    // Events reach the subscription in order.
    let group = good["group"].as_str().expect("group").to_string();
    let (_, tasks) = scene
        .be()
        .call(Method::GET, &format!("/be/v1/tasks?group={group}"), None);
    let names: Vec<String> = tasks["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_string())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    wait_for("the good build's events", 30, || {
        scene.events_of(&names).len() >= 6
    });
    assert_eq!(
        scene.events_of(&names),
        [
            "dltar.submit",
            "dltar.begin",
            "dltar.end",
            "mkraw.submit",
            "mkraw.begin",
            "mkraw.end"
        ]
    );
    let dltar_404 = failed_dltar_name(&scene);
    wait_for("the failed download's events", 30, || {
        scene.events_of(&[dltar_404.as_str()]).len() >= 3
    });
    assert_eq!(
        scene.events_of(&[dltar_404.as_str()]),
        ["dltar.submit", "dltar.begin", "dltar.error"]
    );
}

/// The name of the download that met a 404.
fn failed_dltar_name(scene: &Scene) -> String {
    let (_, tasks) = scene.be().call(
        Method::GET,
        "/be/v1/tasks?type=dltar&status=failed&limit=100",
        None,
    );
    tasks["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["exception"]["httpDownloadFailed"]["httpStatus"] == 404)
        .and_then(|t| t["name"].as_str())
        .expect("the 404 download")
        .to_string()
}

#[test]
fn upload_urls_refuse_what_does_not_fit_and_expire() {
    let scene = Scene::start(&[
        ("ROCKIT_EDGE__BUILDS__MAX_SIZE_MB", "8"),
        ("ROCKIT_EDGE__BUILDS__UPLOAD_EXPIRY_SECS", "3"),
    ]);
    let be = scene.be();
    let (status, body) = be.call(
        Method::POST,
        "/be/v1/builds",
        Some(json!({"appName": APP, "size": 9u64 << 20})),
    );
    assert_error(status, &body, 413, "payload-too-large");
    let (status, body) = be.call(
        Method::POST,
        "/be/v1/builds",
        Some(json!({"appName": "Nope"})),
    );
    assert_error(status, &body, 404, "not-found");
    let (status, body) = be.call(
        Method::POST,
        "/be/v1/builds",
        Some(json!({"appName": APP, "url": "ftp://example.com/a.tar"})),
    );
    assert_error(status, &body, 400, "invalid-param");

    let started = import(&be, json!({"appName": APP}));
    let url = started["uploadUrl"].as_str().expect("url").to_string();
    let task = started["taskName"].as_str().expect("task").to_string();
    let client = &scene.server.client;
    let send = |range: &str, body: Vec<u8>, url: &str| {
        json_response(
            client
                .put(url)
                .header("content-range", range)
                .body(body)
                .send()
                .expect("put"),
        )
    };
    let (status, body) = send(
        "bytes 0-9/100",
        vec![0; 10],
        &url.replace("signature=", "signature=0"),
    );
    assert_error(status, &body, 403, "signature-invalid");
    let (status, body) = send("items 0-9/100", vec![0; 10], &url);
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = send(&format!("bytes 0-9/{}", 9u64 << 20), vec![0; 10], &url);
    assert_error(status, &body, 413, "payload-too-large");
    let response = client
        .put(&url)
        .header("content-range", "bytes */100")
        .send()
        .expect("query");
    assert_eq!(response.status().as_u16(), 308);
    assert!(
        response.headers().get("range").is_none(),
        "nothing stored yet"
    );
    let (status, _) = send("bytes 0-9/100", vec![0; 10], &url);
    assert_eq!(status, 308);

    // Left alone, the upload expires by itself and its partial file goes.
    let expired = scene.server.wait_task(&task);
    assert_eq!(expired["status"], "expired", "{expired}");
    assert_eq!(expired["exception"], json!({"uploadExpired": {}}));
    let incoming = scene
        .server
        .data_dir()
        .join(format!("work/incoming/{task}.tar"));
    assert!(!incoming.exists());
    let (status, body) = send("bytes 10-19/100", vec![0; 10], &url);
    assert_error(status, &body, 410, "url-expired");
    assert_eq!(app_details(&be)["state"], "idle");
}

#[test]
fn build_urls_on_internal_addresses_are_refused_unless_allowed() {
    let server = Server::start();
    let key = publisher(&server);
    let be = Be::bearer(&server, &key);
    create_app(&be, json!({}));
    let started = import(
        &be,
        json!({"appName": APP, "url": "http://127.0.0.1:9/x.tar"}),
    );
    let failed = wait_import(&be, started["taskName"].as_str().expect("task"));
    let download = exception_of(&failed, "httpDownloadFailed");
    assert_eq!(download["exitCode"], 7, "{failed}");
    assert!(
        download["message"]
            .as_str()
            .is_some_and(|m| m.contains("builds.allow_private_urls")),
        "{failed}"
    );
}

#[test]
fn push_refuses_an_empty_tree_and_wait_reports_a_failed_build() {
    let scene = Scene::start(&[]);
    let work = scene.work.path();
    let push = |path: &std::path::Path| {
        std::process::Command::new(common::binary())
            .args([
                "push",
                "--server",
                &scene.server.url(""),
                "--org",
                ORG,
                "--app",
                APP,
            ])
            .args(["--wait", "--ca-cert"])
            .arg(scene.server.data_dir().join("tls/ca.pem"))
            .arg(path)
            .env("ROCKIT_EDGE_API_KEY", &scene.key)
            .env("XDG_CACHE_HOME", work.join("cache"))
            .output()
            .expect("push")
    };
    std::fs::create_dir_all(work.join("empty-tree")).expect("mkdir");
    let empty = push(&work.join("empty-tree"));
    assert_eq!(empty.status.code(), Some(2), "{empty:?}");
    std::fs::write(work.join("not-a-tar.bin"), common_engine::noise(50_000, 3)).expect("write");
    let failed = push(&work.join("not-a-tar.bin"));
    let said = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{said}");
    assert!(said.contains("fileReadFailed"), "{said}");
}
