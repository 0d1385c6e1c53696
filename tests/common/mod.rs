//! Test harness: runs the real `rockit-edge` binary on ephemeral ports with a temp data dir and
//! talks HTTPS (trusting the generated CA) and plain HTTP to it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod files;

/// The binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_rockit-edge")
}

/// Runs a CLI command against a data dir and returns its output.
pub fn cli(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(binary())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run rockit-edge")
}

/// A running appliance.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub https: String,
    pub http: Option<String>,
    pub extra_args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub client: reqwest::blocking::Client,
    log: PathBuf,
}

impl Server {
    /// Starts a server with the default config (both listeners on loopback, port 0).
    pub fn start() -> Server {
        Server::start_with(&[], &[])
    }

    /// Starts a server with extra `serve` arguments and environment variables.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_on(|_| {}, args, env)
    }

    /// Starts a server on a data dir that `prepare` fills first (an older release's store).
    pub fn start_on(prepare: impl FnOnce(&Path), args: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        prepare(&dir.path().join("data"));
        let log = dir.path().join("server.log");
        let mut server = Server {
            dir,
            child: None,
            https: String::new(),
            http: None,
            extra_args: args.iter().map(|a| a.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            client: reqwest::blocking::Client::new(),
            log,
        };
        server.launch();
        server
    }

    /// The data dir.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Starts the process (again) and waits until it serves.
    pub fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--https-listen", "127.0.0.1:0"]);
        if !self.extra_args.iter().any(|a| a == "--http-listen") {
            command.args(["--http-listen", "127.0.0.1:0"]);
        }
        command
            .args(&self.extra_args)
            .env("RUST_LOG", "info")
            .envs(self.env.iter().cloned())
            .stdout(Stdio::null())
            .stderr(log);
        let mut child = command.spawn().expect("spawn rockit-edge");
        let pid = child.id();
        let runtime = self.data_dir().join("run/server.json");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("server exited early with {status}; log:\n{}", self.log());
            }
            if let Some(info) = std::fs::read(&runtime)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .filter(|info| info["pid"] == pid)
            {
                self.https = info["https"].as_str().expect("https addr").to_string();
                self.http = info["http"].as_str().map(str::to_string);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "server did not start; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
        self.client = self.trusting_client();
    }

    /// A client that trusts only the data dir's generated CA (none with an operator certificate).
    pub fn trusting_client(&self) -> reqwest::blocking::Client {
        let mut builder = reqwest::blocking::Client::builder()
            .tls_built_in_root_certs(false)
            .timeout(Duration::from_secs(30));
        if let Ok(ca) = std::fs::read(self.data_dir().join("tls/ca.pem")) {
            builder =
                builder.add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("ca cert"));
        }
        builder.build().expect("client")
    }

    /// An HTTPS URL on `localhost` (a name the certificate carries).
    pub fn url(&self, path: &str) -> String {
        let port = self.https.rsplit(':').next().expect("port");
        format!("https://localhost:{port}{path}")
    }

    /// A plain HTTP URL.
    pub fn http_url(&self, path: &str) -> String {
        format!(
            "http://{}{path}",
            self.http.as_deref().expect("http listener")
        )
    }

    /// An admin token minted by the CLI.
    pub fn admin_token(&self, username: &str) -> String {
        let out = cli(&self.data_dir(), &["admin-token", "--username", username]);
        assert!(
            out.status.success(),
            "admin-token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_string()
    }

    /// Sends a request with the admin token and returns status and JSON body.
    pub fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = self.admin_token("ops");
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("x-rockit-admin-token", token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        json_response(request.send().expect("request"))
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            child.wait().expect("wait");
        }
    }

    /// Waits for the process to die by itself (a crash point); false when it still runs
    /// after `secs` seconds.
    pub fn wait_exit(&mut self, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            match self.child.as_mut().map(|c| c.try_wait()) {
                None | Some(Ok(Some(_))) => {
                    self.child = None;
                    return true;
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        false
    }

    /// SIGTERM and wait for a graceful exit; returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        child.wait().expect("wait").success()
    }

    /// Polls a task through the admin API until it is terminal (at most 3 minutes: a large
    /// build's processing).
    pub fn wait_task(&self, name: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let (status, body) =
                self.admin(reqwest::Method::GET, &format!("/adm/v1/tasks/{name}"), None);
            assert_eq!(status, 200, "{body}");
            let task = body["task"].clone();
            if ["done", "failed", "expired"].contains(&task["status"].as_str().unwrap_or("")) {
                return task;
            }
            assert!(
                Instant::now() < deadline,
                "task {name} did not finish: {task}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Polls `done` every 100 ms until it holds; fails naming `what` after `secs` seconds.
pub fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// True when running in CI (`CI` set to anything but empty, `0` or `false`), where a test
/// must fail instead of skipping for a missing component.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Status and JSON body of a response (the body must be JSON).
pub fn json_response(response: reqwest::blocking::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().expect("body");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

/// Asserts the API error shape with the given status and code.
pub fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["error"], want_code, "{body}");
    assert_listed_code(status, body);
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error without message: {body}"
    );
}

/// The error body's code is in the error-code table, with this status.
pub fn assert_listed_code(status: u16, body: &Value) {
    use rockit_edge::codes::{ALL, Kind};
    let code = body["error"].as_str().unwrap_or("");
    assert!(
        ALL.iter()
            .any(|c| c.code == code && c.kind == Kind::Api(status)),
        "{status} {code} is not in the error-code table: {body}"
    );
}

/// A `/be/v1` client with one kind of credentials, recording every response body.
pub struct Be<'a> {
    pub server: &'a Server,
    pub headers: Vec<(String, String)>,
}

impl<'a> Be<'a> {
    /// No credentials.
    pub fn anonymous(server: &'a Server) -> Self {
        Be {
            server,
            headers: Vec::new(),
        }
    }

    /// A bearer token (access token or API key).
    pub fn bearer(server: &'a Server, token: &str) -> Self {
        Be {
            server,
            headers: vec![("authorization".into(), format!("Bearer {token}"))],
        }
    }

    /// The machine-user header triple.
    pub fn machine(server: &'a Server, org: &str, user: &str, key: &str) -> Self {
        Be {
            server,
            headers: vec![
                ("x-rockit-orgname".into(), org.into()),
                ("x-rockit-username".into(), user.into()),
                ("x-rockit-api-key".into(), key.into()),
            ],
        }
    }

    /// Sends a request; status and JSON body.
    pub fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.server.client.request(method, self.server.url(path));
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        json_response(request.send().expect("request"))
    }
}

/// Logs a person in to an org in one step; the session tokens.
pub fn login(server: &Server, org: &str, user: &str, password: &str) -> Value {
    let (status, body) = Be::anonymous(server).call(
        reqwest::Method::POST,
        "/be/v1/login",
        Some(serde_json::json!({"username": user, "password": password, "orgName": org})),
    );
    assert_eq!(status, 200, "login failed: {body}");
    body
}

/// Creates an org with a known admin password through the admin API.
pub fn create_org(server: &Server, org: &str, password: &str) {
    let (status, body) = server.admin(
        reqwest::Method::POST,
        "/adm/v1/orgs",
        Some(serde_json::json!({"name": org, "password": password})),
    );
    assert_eq!(status, 200, "{body}");
}

/// One HTTP request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: std::collections::HashMap<String, String>,
    pub body: Vec<u8>,
}

/// A minimal HTTP server on loopback that records requests and answers with a fixed body;
/// it can be taken down (connections refused) and brought back on the same port.
pub struct Receiver {
    pub port: u16,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    answer: &'static str,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// Starts on a free port, answering 200 with `answer` as JSON.
    pub fn start(answer: &'static str) -> Receiver {
        let mut receiver = Receiver {
            port: 0,
            received: Default::default(),
            answer,
            stop: Default::default(),
            thread: None,
        };
        receiver.up();
        receiver
    }

    /// The URL of a path on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Starts listening (again, on the same port after the first time).
    pub fn up(&mut self) {
        use std::io::{Read, Write};
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", self.port)).expect("bind receiver");
        self.port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        self.stop.store(false, std::sync::atomic::Ordering::SeqCst);
        let (stop, received, answer) = (self.stop.clone(), self.received.clone(), self.answer);
        self.thread = Some(std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                stream.set_nonblocking(false).expect("blocking");
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .expect("timeout");
                let mut data = Vec::new();
                let mut chunk = [0u8; 8192];
                let head_end = loop {
                    let n = stream.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break None;
                    }
                    data.extend_from_slice(&chunk[..n]);
                    if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                        break Some(i + 4);
                    }
                };
                let Some(head_end) = head_end else { continue };
                let head = String::from_utf8_lossy(&data[..head_end]).to_string();
                let mut lines = head.lines();
                let path = lines
                    .next()
                    .and_then(|l| l.split(' ').nth(1))
                    .unwrap_or("/")
                    .to_string();
                let headers: std::collections::HashMap<String, String> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let length: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = data[head_end..].to_vec();
                while body.len() < length {
                    let n = stream.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&chunk[..n]);
                }
                received.lock().expect("lock").push(Received {
                    path,
                    headers,
                    body,
                });
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = stream.write_all(reply.as_bytes());
            }
        }));
    }

    /// Stops listening: new connections are refused until [`Receiver::up`].
    pub fn down(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("receiver thread");
        }
    }

    /// A copy of everything received so far.
    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.down();
    }
}

/// The setting that lets deployments use a loopback S3 server.
pub const LOCAL_ORIGINS: (&str, &str) = ("ROCKIT_EDGE__ORIGINS__ALLOW_PRIVATE", "true");

/// A real S3 server (s3s-fs, which verifies SigV4) on a free loopback port.
pub struct S3Server {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub access_key: String,
    pub secret_key: String,
    child: Option<Child>,
}

impl S3Server {
    /// Starts s3s-fs with a bucket `edge`; `None` (with a loud message) when it is not
    /// installed, except under CI, where that fails the test.
    pub fn start() -> Option<S3Server> {
        let Ok(found) = Command::new("s3s-fs").arg("--version").output() else {
            let missing = "s3s-fs is not installed (cargo install s3s-fs@0.14.1 --locked --features binary); scripts/test.sh installs it";
            assert!(!in_ci(), "{missing}: CI must run the S3 tests");
            eprintln!("SKIPPED: {missing}");
            return None;
        };
        assert!(found.status.success(), "s3s-fs --version failed");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("edge")).expect("bucket dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut server = S3Server {
            dir,
            port,
            access_key: "AKIAEDGETEST".to_string(),
            secret_key: "edge-test-secret-key-0123456789".to_string(),
            child: None,
        };
        server.up();
        Some(server)
    }

    /// Starts serving (again, on the same port and directory after [`S3Server::down`]).
    pub fn up(&mut self) {
        let child = Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--access-key",
                &self.access_key,
                "--secret-key",
                &self.secret_key,
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn s3s-fs");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server: connections are refused until [`S3Server::up`].
    pub fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The endpoint as a deployment's `hostname`.
    pub fn hostname(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A client for the `edge` bucket with the server's keys.
    pub fn bucket(&self) -> Box<s3::Bucket> {
        let region = s3::Region::Custom {
            region: "us-east-1".into(),
            endpoint: self.hostname(),
        };
        let credentials = s3::creds::Credentials::new(
            Some(&self.access_key),
            Some(&self.secret_key),
            None,
            None,
            None,
        )
        .expect("creds");
        s3::Bucket::new("edge", region, credentials)
            .expect("bucket")
            .with_path_style()
    }

    /// Every object key in the bucket under `prefix`.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let bucket = self.bucket();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            bucket
                .list(prefix.to_string(), None)
                .await
                .expect("list")
                .into_iter()
                .flat_map(|page| page.contents.into_iter().map(|o| o.key))
                .collect()
        })
    }

    /// Stores an object.
    pub fn put(&self, key: &str, data: &[u8]) {
        let bucket = self.bucket();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async { bucket.put_object(key, data).await.expect("put") });
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.down();
    }
}
