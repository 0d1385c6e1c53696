//! Helpers of the launcher client tests: an app with imported builds and an access key, runs
//! of `rockit-edge client`, and an HTTP proxy in front of the appliance that counts what it
//! returns and can damage one byte of one answer.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Be, Server, binary};
use crate::common_builds::{APP, ENV, ORG, create_app, import, publisher, wait_import};

/// An appliance with the app, its publisher and an access key.
pub struct Shop {
    pub server: Server,
    pub key: String,
    pub access: String,
    pub files: crate::common::files::FileServer,
    pub work: tempfile::TempDir,
}

impl Shop {
    /// Starts the appliance and creates the app with `settings`; the builds are written into
    /// the work dir by `make(work dir)` and served for imports.
    pub fn open(settings: Value, make: impl FnOnce(&Path)) -> Shop {
        Self::open_with(&ENV, settings, make)
    }

    /// [`Shop::open`] with the server's environment `env`.
    pub fn open_with(env: &[(&str, &str)], settings: Value, make: impl FnOnce(&Path)) -> Shop {
        let server = Server::start_with(&[], env);
        let key = publisher(&server);
        let work = tempfile::tempdir().expect("tempdir");
        make(work.path());
        let files = crate::common::files::FileServer::start(work.path().to_path_buf());
        let be = Be::bearer(&server, &key);
        create_app(&be, settings);
        let (status, created) = be.call(Method::POST, "/be/v1/keys", Some(json!({"appName": APP})));
        assert_eq!(status, 200, "{created}");
        let access = created["key"].as_str().expect("key").to_string();
        Shop {
            server,
            key,
            access,
            files,
            work,
        }
    }

    /// The publisher's API client.
    pub fn be(&self) -> Be<'_> {
        Be::bearer(&self.server, &self.key)
    }

    /// Imports the tar `name` of the work dir and waits until it is the current build.
    pub fn import(&self, name: &str) {
        let started = import(
            &self.be(),
            json!({"appName": APP, "url": self.files.url(name)}),
        );
        let task = started["taskName"].as_str().expect("task");
        let last = wait_import(&self.be(), task);
        assert_eq!(last["status"], "done", "{last}");
    }

    /// The work dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// The client options that reach the appliance over HTTPS, trusting its CA.
    pub fn https_args(&self) -> Vec<String> {
        let ca = self.server.data_dir().join("tls/ca.pem");
        let mut args = self.app_args(&self.server.url(""));
        args.extend(["--ca-cert".into(), ca.display().to_string()]);
        args
    }

    /// The client options that reach the appliance through `proxy` (plain HTTP).
    pub fn proxied_args(&self, proxy: &HttpProxy) -> Vec<String> {
        self.app_args(&format!("http://127.0.0.1:{}", proxy.port))
    }

    /// The options naming the app and its key on the appliance at `server`.
    fn app_args(&self, server: &str) -> Vec<String> {
        [
            "--server",
            server,
            "--org",
            ORG,
            "--app",
            APP,
            "--access-key",
            &self.access,
        ]
        .map(String::from)
        .to_vec()
    }

    /// A proxy in front of the appliance's plain HTTP listener.
    pub fn proxy(&self) -> HttpProxy {
        let target = self.server.http.as_deref().expect("http listener");
        HttpProxy::start(
            target
                .rsplit(':')
                .next()
                .expect("port")
                .parse()
                .expect("port"),
        )
    }
}

/// Runs `rockit-edge client COMMAND ARGS...`.
pub fn client(command: &str, args: &[String]) -> Output {
    Command::new(binary())
        .arg("client")
        .arg(command)
        .args(args)
        .output()
        .expect("run rockit-edge client")
}

/// Runs the client and asserts success; its `--report` JSON when `report` is given.
pub fn client_ok(command: &str, args: &[String]) -> Output {
    let out = client(command, args);
    assert!(
        out.status.success(),
        "client {command} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read json")).expect("json")
}

/// Asserts that the tree in `dir` (without its state dir) is the content of `tar`.
pub fn assert_tree_is(dir: &Path, tar: &Path) {
    let expected = tempfile::tempdir().expect("tempdir");
    crate::common_engine::sh(&format!(
        "tar -C {} -xf {} && diff -r --no-dereference --exclude=.rockit {} {}",
        expected.path().display(),
        tar.display(),
        expected.path().display(),
        dir.display()
    ));
}

/// One request the proxy forwarded.
#[derive(Debug, Clone)]
pub struct Forwarded {
    pub path: String,
    pub range: String,
    pub status: u16,
    pub body_bytes: u64,
}

/// An HTTP/1.1 proxy on loopback in front of a server's plain HTTP port: one request per
/// connection, the bytes it returns counted, and optionally one byte of one answer damaged.
pub struct HttpProxy {
    pub port: u16,
    returned: Arc<AtomicU64>,
    log: Arc<Mutex<Vec<Forwarded>>>,
    /// `(path part, file offset)`: the next answer for a path containing the part whose
    /// bytes cover the offset gets that byte flipped, once.
    damage: Arc<Mutex<Option<(String, u64)>>>,
    /// `(path part, status, times)`: the next `times` requests for a path containing the part
    /// are answered with `status` and no body.
    refuse: Arc<Mutex<Option<(String, u16, u32)>>>,
}

impl HttpProxy {
    /// Forwards a free port to `target` on loopback until the test ends.
    pub fn start(target: u16) -> HttpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let proxy = HttpProxy {
            port,
            returned: Arc::default(),
            log: Arc::default(),
            damage: Arc::default(),
            refuse: Arc::default(),
        };
        let shared = Shared {
            target,
            returned: Arc::clone(&proxy.returned),
            log: Arc::clone(&proxy.log),
            damage: Arc::clone(&proxy.damage),
            refuse: Arc::clone(&proxy.refuse),
        };
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = forward(client, &shared);
                });
            }
        });
        proxy
    }

    /// Answers the next `times` requests for a path containing `path_part` with `status`.
    pub fn refuse(&self, path_part: &str, status: u16, times: u32) {
        *self.refuse.lock().expect("lock") = Some((path_part.to_string(), status, times));
    }

    /// Bytes of answers (heads and bodies) returned so far.
    pub fn returned(&self) -> u64 {
        self.returned.load(Ordering::Relaxed)
    }

    /// The requests forwarded so far.
    pub fn log(&self) -> Vec<Forwarded> {
        self.log.lock().expect("lock").clone()
    }

    /// Damages byte `offset` of the next answer for a path containing `path_part`.
    pub fn damage_once(&self, path_part: &str, offset: u64) {
        *self.damage.lock().expect("lock") = Some((path_part.to_string(), offset));
    }

    /// True once the damage was done.
    pub fn damaged(&self) -> bool {
        self.damage.lock().expect("lock").is_none()
    }
}

/// Reads a request or answer head: the first line and the header lines.
fn read_head(reader: &mut impl BufRead) -> std::io::Result<(String, Vec<(String, String)>)> {
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            return Ok((first.trim_end().to_string(), headers));
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn write_head(
    out: &mut impl Write,
    first: &str,
    headers: &[(String, String)],
) -> std::io::Result<()> {
    let mut head = format!("{first}\r\n");
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    out.write_all(head.as_bytes())
}

/// What the proxy's connection threads share.
#[derive(Clone)]
struct Shared {
    target: u16,
    returned: Arc<AtomicU64>,
    log: Arc<Mutex<Vec<Forwarded>>>,
    damage: Arc<Mutex<Option<(String, u64)>>>,
    refuse: Arc<Mutex<Option<(String, u16, u32)>>>,
}

/// The status to answer `path` with instead of forwarding it, if it is to be refused.
fn refusal(refuse: &Mutex<Option<(String, u16, u32)>>, path: &str) -> Option<u16> {
    let mut refuse = refuse.lock().expect("lock");
    let (part, status, times) = refuse.clone()?;
    if !path.contains(&part) {
        return None;
    }
    *refuse = (times > 1).then(|| (part, status, times - 1));
    Some(status)
}

fn forward(client: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let Shared {
        target,
        returned,
        log,
        damage,
        refuse,
    } = shared;
    let mut from_client = BufReader::new(client.try_clone()?);
    let (request, headers) = read_head(&mut from_client)?;
    let path = request.split(' ').nth(1).unwrap_or("/").to_string();
    let range = header(&headers, "range").unwrap_or_default().to_string();
    if let Some(status) = refusal(refuse, &path) {
        let mut client = client;
        client.write_all(
            format!("HTTP/1.1 {status} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )?;
        log.lock().expect("lock").push(Forwarded {
            path,
            range,
            status,
            body_bytes: 0,
        });
        return Ok(());
    }
    let mut server = TcpStream::connect(("127.0.0.1", *target))?;
    write_head(&mut server, &request, &headers)?;
    let body_len: u64 = header(&headers, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    std::io::copy(&mut (&mut from_client).take(body_len), &mut server)?;

    let mut from_server = BufReader::new(server);
    let (status_line, answer_headers) = read_head(&mut from_server)?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let first_byte: u64 = header(&answer_headers, "content-range")
        .and_then(|v| v.strip_prefix("bytes "))
        .and_then(|v| v.split('-').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = Vec::new();
    from_server.read_to_end(&mut body)?;
    {
        let mut damage = damage.lock().expect("lock");
        if let Some((part, offset)) = damage.clone()
            && path.contains(&part)
            && offset >= first_byte
            && offset < first_byte + body.len() as u64
        {
            body[(offset - first_byte) as usize] ^= 0x5a;
            *damage = None;
        }
    }
    let mut client = client;
    let mut head = Vec::new();
    write_head(&mut head, &status_line, &answer_headers)?;
    client.write_all(&head)?;
    client.write_all(&body)?;
    returned.fetch_add((head.len() + body.len()) as u64, Ordering::Relaxed);
    log.lock().expect("lock").push(Forwarded {
        path,
        range,
        status,
        body_bytes: body.len() as u64,
    });
    Ok(())
}
