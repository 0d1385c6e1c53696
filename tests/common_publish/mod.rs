//! Helpers of the publishing tests: a server and an org publishing to a real S3 server, deploys
//! followed to their end, and the objects an origin holds.

#![allow(dead_code)]

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Be, LOCAL_ORIGINS, S3Server, wait_for};
use crate::common_builds::{APP, ENV};

/// The origin prefix every test deployment publishes under.
pub const PREFIX: &str = "games/live";

/// The server settings of the publishing tests: those of the build tests, loopback origins,
/// the smallest part size (5 MiB), few retries.
pub fn publishing_env() -> Vec<(&'static str, &'static str)> {
    let mut env = ENV.to_vec();
    env.extend([
        LOCAL_ORIGINS,
        ("ROCKIT_EDGE__ORIGINS__PART_SIZE_MB", "5"),
        ("ROCKIT_EDGE__ORIGINS__RETRIES", "1"),
        ("ROCKIT_EDGE__ORIGINS__REQUEST_TIMEOUT_SECS", "10"),
    ]);
    env
}

/// The body creating deployment `name` on `s3` under `prefix`, with `dl_auth` when given.
pub fn deployment_body(name: &str, s3: &S3Server, prefix: &str, dl_auth: Option<Value>) -> Value {
    let mut body = json!({
        "name": name,
        "label": format!("{name} origin"),
        "origin": {"s3": {
            "hostname": s3.hostname(), "accessKey": s3.access_key, "secretKey": s3.secret_key,
            "location": "us-east-1", "bucket": "edge", "prefix": prefix,
        }},
    });
    if let Some(auth) = dl_auth {
        body["dlAuth"] = auth;
    }
    body
}

/// Creates a deployment; fails the test unless its probe succeeded.
pub fn create_deployment(be: &Be, body: Value) {
    let (status, answer) = be.call(Method::POST, "/be/v1/deployments", Some(body.clone()));
    assert_eq!(status, 200, "{answer}");
    let name = body["name"].as_str().expect("name");
    let (_, shown) = be.call(Method::GET, &format!("/be/v1/deployments/{name}"), None);
    assert_eq!(shown["deployment"]["status"], "ok", "{shown}");
}

/// The tasks of `kind` of the app, newest first.
pub fn tasks_of(be: &Be, kind: &str) -> Vec<Value> {
    tasks_of_app(be, APP, kind)
}

/// The tasks of `kind` of app `app`, newest first.
pub fn tasks_of_app(be: &Be, app: &str, kind: &str) -> Vec<Value> {
    let (status, body) = be.call(
        Method::GET,
        &format!("/be/v1/tasks?appName={app}&type={kind}&limit=100&order[]=-created"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body["tasks"].as_array().cloned().unwrap_or_default()
}

/// Waits until `count` deploy tasks of the app exist and all of them ended; the newest.
pub fn wait_deploys(be: &Be, count: usize) -> Vec<Value> {
    wait_deploys_of(be, APP, count)
}

/// Waits until `count` deploy tasks of app `app` exist and all of them ended; the newest.
pub fn wait_deploys_of(be: &Be, app: &str, count: usize) -> Vec<Value> {
    let mut tasks = Vec::new();
    wait_for("the deploys to end", 180, || {
        tasks = tasks_of_app(be, app, "deploy");
        tasks.len() >= count
            && tasks.iter().all(|t| {
                ["done", "failed", "expired"].contains(&t["status"].as_str().unwrap_or(""))
            })
    });
    tasks
}

/// Every key the origin holds under the test prefix and `path`, sorted.
pub fn origin_keys(s3: &S3Server, path: &str) -> Vec<String> {
    let mut keys = s3.keys(&format!("{PREFIX}/{path}"));
    keys.sort();
    keys
}

/// The bytes of an object.
pub fn object(s3: &S3Server, key: &str) -> Vec<u8> {
    let bucket = s3.bucket();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let answer = bucket.get_object(key).await.expect("get object");
        assert_eq!(answer.status_code(), 200, "{key}");
        answer.to_vec()
    })
}

/// Every file of the app's current image and patches with its object key on the origin:
/// (key, size, md5).
pub fn published_files(app: &Value) -> Vec<(String, u64, String)> {
    let entry = |dir: &str, file: &Value| {
        (
            format!("{PREFIX}/{dir}/{}", file["name"].as_str().expect("name")),
            file["size"].as_u64().expect("size"),
            file["md5"].as_str().expect("md5").to_string(),
        )
    };
    let org = crate::common_builds::ORG;
    let name = app["name"].as_str().expect("the app's name");
    let current = app["iCurBuild"].as_u64().expect("iCurBuild");
    let image = format!(
        "dxf/{org}/{name}/{current:04}/{}",
        app["dxfName"].as_str().expect("dxf")
    );
    let mut files: Vec<_> = app["files"]["dxf"]
        .as_array()
        .expect("dxf files")
        .iter()
        .map(|f| entry(&image, f))
        .collect();
    for (key, patch) in app["files"]["patches"].as_object().expect("patches") {
        let (from, to) = key.split_once('-').expect("FFFF-TTTT");
        let dir = format!("pat/{org}/{name}/{to}/{from}");
        files.extend(
            patch
                .as_array()
                .expect("patch files")
                .iter()
                .map(|f| entry(&dir, f)),
        );
    }
    files
}

/// A TCP proxy on loopback in front of a server, counting the bytes clients send through it:
/// what an origin received, whatever the client says it sent.
pub struct CountingProxy {
    pub port: u16,
    pub received: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl CountingProxy {
    /// Forwards a free port to `target` on loopback until the test ends.
    pub fn start(target: u16) -> CountingProxy {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU64, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&received);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let (mut client_in, mut server_out) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || {
                    let mut buffer = vec![0u8; 256 << 10];
                    loop {
                        use std::io::{Read, Write};
                        let n = match client_in.read(&mut buffer) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        counter.fetch_add(n as u64, Ordering::Relaxed);
                        if server_out.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = server_out.shutdown(std::net::Shutdown::Write);
                });
                let (mut server_in, mut client_out) = (server, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server_in, &mut client_out);
                    let _ = client_out.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        CountingProxy { port, received }
    }

    /// Bytes clients sent so far.
    pub fn received(&self) -> u64 {
        self.received.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The proxy as a deployment's `hostname`.
    pub fn hostname(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A publishing test's world: a real S3 server, the appliance, an org with a publishing
/// machine user, and the game's versions served over HTTP.
pub struct Scene {
    pub s3: S3Server,
    pub server: crate::common::Server,
    /// The machine user's API key.
    pub key: String,
    pub files: crate::common::files::FileServer,
    pub work: tempfile::TempDir,
}

impl Scene {
    /// Starts everything with the server settings `env`; `None` when s3s-fs is missing
    /// outside CI (see [`S3Server::start`]).
    pub fn start(env: &[(&str, &str)]) -> Option<Scene> {
        let s3 = S3Server::start()?;
        let server = crate::common::Server::start_with(&[], env);
        let key = crate::common_builds::publisher(&server);
        let work = tempfile::tempdir().expect("tempdir");
        crate::common_builds::game_versions(work.path());
        let files = crate::common::files::FileServer::start(work.path().to_path_buf());
        Some(Scene {
            s3,
            server,
            key,
            files,
            work,
        })
    }

    /// The machine user's client.
    pub fn be(&self) -> Be<'_> {
        Be::bearer(&self.server, &self.key)
    }

    /// A new access key of the app, for `/client/v1/auth`.
    pub fn access_key(&self) -> String {
        let (status, created) =
            self.be()
                .call(Method::POST, "/be/v1/keys", Some(json!({"appName": APP})));
        assert_eq!(status, 200, "{created}");
        created["key"].as_str().expect("key").to_string()
    }
}

/// What `/client/v1/auth` answers a launcher with the access key `access`.
pub fn client_auth(server: &crate::common::Server, access: &str) -> Value {
    let response = server
        .client
        .post(server.url("/client/v1/auth"))
        .json(&json!({"orgName": crate::common_builds::ORG, "appName": APP, "accessKey": access}))
        .send()
        .expect("auth");
    let (status, body) = crate::common::json_response(response);
    assert_eq!(status, 200, "{body}");
    body
}
