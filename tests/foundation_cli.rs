//! First start, restarts, config layering, TLS, the store's schema guard and the CLI commands.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use common::{Server, binary, cli, json_response};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use reqwest::Method;
use serde_json::json;

#[test]
fn version_prints_the_binary_and_format_versions() {
    let out = std::process::Command::new(common::binary())
        .arg("version")
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let schema = format!("store schema {}", rockit_edge::store::SCHEMA_VERSION);
    assert!(
        text.contains(env!("CARGO_PKG_VERSION")) && text.contains(&schema),
        "{text}"
    );
}

#[test]
fn config_layers_merge_in_order_and_secrets_are_masked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("edge.toml");
    std::fs::write(
        &file,
        "[server]\nhttps_listen = \"0.0.0.0:9443\"\nhttp_listen = \"127.0.0.1:9080\"\n[jobs]\nworkers = 3\n[auth]\nadmin_secret = \"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==\"\n",
    )
    .expect("write");
    let out = Command::new(binary())
        .args(["--config", file.to_str().expect("path"), "config", "show"])
        .env("ROCKIT_EDGE__JOBS__WORKERS", "5")
        .env("ROCKIT_EDGE__SERVER__HTTP_LISTEN", "off")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: toml::Table =
        toml::from_str(&String::from_utf8_lossy(&out.stdout)).expect("TOML output");
    assert_eq!(
        shown["server"]["https_listen"].as_str(),
        Some("0.0.0.0:9443"),
        "file over default"
    );
    assert_eq!(
        shown["server"]["http_listen"].as_str(),
        Some("off"),
        "env over file"
    );
    assert_eq!(
        shown["jobs"]["workers"].as_integer(),
        Some(5),
        "env over file"
    );
    assert_eq!(shown["auth"]["admin_secret"].as_str(), Some("********"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("c2VjcmV0"));

    let out = Command::new(binary())
        .args([
            "--config",
            file.to_str().expect("path"),
            "--data-dir",
            "/srv/edge",
            "config",
            "show",
        ])
        .output()
        .expect("run");
    let shown: toml::Table =
        toml::from_str(&String::from_utf8_lossy(&out.stdout)).expect("TOML output");
    assert_eq!(
        shown["storage"]["data_dir"].as_str(),
        Some("/srv/edge"),
        "flag over everything"
    );
}

#[test]
fn unknown_config_keys_are_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(binary())
        .args(["config", "show"])
        .env("ROCKIT_EDGE__SERVER__HTTPS_LISTN", "x")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("https_listn"));
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[server\n").expect("write");
    let out = Command::new(binary())
        .args(["--config", file.to_str().expect("path"), "config", "show"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid TOML"));
}

#[test]
fn admin_token_needs_an_initialised_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = cli(
        &dir.path().join("nothing"),
        &["admin-token", "--username", "ops"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("start the appliance once"));
}

#[test]
fn first_start_creates_the_layout_and_later_starts_reuse_it() {
    let mut server = Server::start();
    let data = server.data_dir();
    for dir in ["secrets", "tls", "depot", "work", "traces", "backups"] {
        assert!(data.join(dir).is_dir(), "{dir} missing");
    }
    for secret in [
        "admin.secret",
        "token.secret",
        "encryption.key",
        "depot.secret",
    ] {
        let mode = std::fs::metadata(data.join("secrets").join(secret))
            .expect("secret")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{secret}");
    }
    assert_eq!(
        std::fs::metadata(data.join("tls/key.pem"))
            .expect("key")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(
        server.log().contains("rockit-edge admin-token"),
        "first start explains the admin token"
    );

    for host in ["localhost", "127.0.0.1"] {
        let port = server.https.rsplit(':').next().expect("port");
        let url = format!("https://{host}:{port}/srv/v1/ping");
        let (status, _) = json_response(
            server
                .client
                .post(url)
                .send()
                .expect("certificate names {host}"),
        );
        assert_eq!(status, 200);
    }
    let token = server.admin_token("ops");
    let before: Vec<_> = ["secrets/admin.secret", "tls/cert.pem", "tls/ca.pem"]
        .iter()
        .map(|f| std::fs::read(data.join(f)).expect("read"))
        .collect();
    std::fs::write(data.join("work/leftover.part"), b"half").expect("write");
    assert!(server.terminate());
    server.launch();
    let after: Vec<_> = ["secrets/admin.secret", "tls/cert.pem", "tls/ca.pem"]
        .iter()
        .map(|f| std::fs::read(data.join(f)).expect("read"))
        .collect();
    assert_eq!(before, after, "secrets and certificate are reused");
    assert!(
        !data.join("work/leftover.part").exists(),
        "work/ is emptied on start"
    );
    let response = server
        .client
        .post(server.url("/adm/v1/orgs"))
        .header("x-rockit-admin-token", token)
        .json(&json!({"name": "acme"}))
        .send()
        .expect("post");
    assert_eq!(response.status().as_u16(), 200, "an old token still works");
}

#[test]
fn public_names_reissue_the_leaf_under_the_same_ca() {
    let names = |list: &str| {
        (
            "ROCKIT_EDGE__SERVER__PUBLIC_NAMES".to_string(),
            list.to_string(),
        )
    };
    let mut server = Server::start_with(
        &[],
        &[(
            "ROCKIT_EDGE__SERVER__PUBLIC_NAMES",
            "[\"edge.example.test\", \"old.example.test\"]",
        )],
    );
    let ca = std::fs::read(server.data_dir().join("tls/ca.pem")).expect("ca");
    assert!(server.terminate());
    server.env = vec![names("[\"edge.example.test\"]")];
    server.launch();
    assert_eq!(
        std::fs::read(server.data_dir().join("tls/ca.pem")).expect("ca"),
        ca,
        "names the CA may sign keep the CA"
    );
    let facts = std::fs::read_to_string(server.data_dir().join("tls/leaf.json")).expect("facts");
    assert!(
        facts.contains("edge.example.test") && !facts.contains("old.example.test"),
        "{facts}"
    );
    assert_eq!(ping_name(&server, &ca, "edge.example.test"), 200);

    // A name the CA may not sign: a new, again constrained, CA (clients trust it anew).
    assert!(server.terminate());
    server.env = vec![names("[\"new.example.test\"]")];
    server.launch();
    let new_ca = std::fs::read(server.data_dir().join("tls/ca.pem")).expect("ca");
    assert_ne!(new_ca, ca);
    assert!(
        server
            .log()
            .contains("clients must trust the new tls/ca.pem")
    );
    assert_eq!(ping_name(&server, &new_ca, "new.example.test"), 200);
}

/// Pings the server under `name` (resolved to loopback), trusting only `ca`.
fn ping_name(server: &Server, ca: &[u8], name: &str) -> u16 {
    let port = server.https.rsplit(':').next().expect("port").to_string();
    let client = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca).expect("ca"))
        .resolve(name, format!("127.0.0.1:{port}").parse().expect("addr"))
        .build()
        .expect("client");
    client
        .post(format!("https://{name}:{port}/srv/v1/ping"))
        .send()
        .expect("the name validates")
        .status()
        .as_u16()
}

fn issue(dir: &std::path::Path, tag: &str) -> Vec<u8> {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("operator CA {tag}"));
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    std::fs::write(dir.join("op.key.tmp"), leaf_key.serialize_pem()).expect("key");
    std::fs::write(dir.join("op.crt.tmp"), leaf.pem()).expect("cert");
    std::fs::rename(dir.join("op.key.tmp"), dir.join("op.key")).expect("rename");
    std::fs::rename(dir.join("op.crt.tmp"), dir.join("op.crt")).expect("rename");
    ca.pem().into_bytes()
}

fn ping_trusting(server: &Server, ca: &[u8]) -> bool {
    reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca).expect("ca"))
        .build()
        .expect("client")
        .post(server.url("/srv/v1/ping"))
        .send()
        .is_ok()
}

#[test]
fn an_operator_certificate_is_served_and_reloaded_on_sighup_and_on_change() {
    let certs = tempfile::tempdir().expect("tempdir");
    let first = issue(certs.path(), "one");
    let cert = certs.path().join("op.crt");
    let key = certs.path().join("op.key");
    let server = Server::start_with(
        &[],
        &[
            ("ROCKIT_EDGE__TLS__CERT_FILE", cert.to_str().expect("path")),
            ("ROCKIT_EDGE__TLS__KEY_FILE", key.to_str().expect("path")),
            ("ROCKIT_EDGE__TLS__RELOAD_INTERVAL_SECS", "3600"),
        ],
    );
    assert!(ping_trusting(&server, &first));
    assert!(
        !server.data_dir().join("tls/cert.pem").exists(),
        "no self-signed certificate when one is configured"
    );

    let second = issue(certs.path(), "two");
    let pid = server.child.as_ref().expect("child").id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ping_trusting(&server, &second) {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!ping_trusting(&server, &first));

    let watched = Server::start_with(
        &[],
        &[
            ("ROCKIT_EDGE__TLS__CERT_FILE", cert.to_str().expect("path")),
            ("ROCKIT_EDGE__TLS__KEY_FILE", key.to_str().expect("path")),
            ("ROCKIT_EDGE__TLS__RELOAD_INTERVAL_SECS", "1"),
        ],
    );
    assert!(ping_trusting(&watched, &second));
    let third = issue(certs.path(), "three");
    // A modification time the watcher cannot have seen, even on a file system that keeps
    // whole seconds only.
    for file in ["op.crt", "op.key"] {
        std::fs::File::options()
            .write(true)
            .open(certs.path().join(file))
            .and_then(|f| f.set_modified(std::time::SystemTime::now() + Duration::from_secs(60)))
            .expect("set mtime");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ping_trusting(&watched, &third) {
        assert!(
            Instant::now() < deadline,
            "file change did not reload:\n{}",
            watched.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn healthcheck_exits_zero_only_while_the_server_answers() {
    let mut server = Server::start_with(&["--http-listen", "off"], &[]);
    assert!(server.http.is_none(), "plain HTTP can be switched off");
    let out = cli(&server.data_dir(), &["healthcheck"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("https://127.0.0.1"));
    server.kill9();
    let out = cli(&server.data_dir(), &["healthcheck"]);
    assert!(!out.status.success());
}

#[test]
fn a_store_from_a_newer_binary_is_refused() {
    let mut server = Server::start();
    assert!(server.terminate());
    let file = server.data_dir().join("edge.redb");
    {
        let db = redb::Database::open(&file).expect("open");
        let tx = db.begin_write().expect("write");
        {
            let mut meta = tx
                .open_table(redb::TableDefinition::<&str, u64>::new("meta"))
                .expect("meta");
            meta.insert("schema_version", 99).expect("insert");
        }
        tx.commit().expect("commit");
    }
    let out = Command::new(binary())
        .args([
            "serve",
            "--data-dir",
            server.data_dir().to_str().expect("path"),
        ])
        .args(["--https-listen", "127.0.0.1:0", "--http-listen", "off"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("schema 99") && stderr.contains("upgrade the binary"),
        "{stderr}"
    );
}

#[test]
fn an_admin_secret_from_the_config_signs_vendor_style_tokens() {
    let secret = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let server = Server::start_with(&[], &[("ROCKIT_EDGE__AUTH__ADMIN_SECRET", &secret)]);
    let token =
        rockit_edge::auth::jwt::sign(&json!({"username": "migrated"}), &[42u8; 32]).expect("sign");
    let response = server
        .client
        .get(server.url("/adm/v1/orgs"))
        .header("x-rockit-admin-token", token)
        .send()
        .expect("get");
    assert_eq!(response.status().as_u16(), 200);
    let (status, _) = server.admin(Method::GET, "/adm/v1/orgs", None);
    assert_eq!(
        status, 401,
        "the generated secret no longer signs valid tokens"
    );
}

#[test]
fn the_shipped_example_config_is_valid_and_matches_the_defaults() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/config.toml");
    let dir = tempfile::tempdir().expect("tempdir");
    let with_example = Command::new(binary())
        .args(["--config", example, "config", "show"])
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert!(
        with_example.status.success(),
        "{}",
        String::from_utf8_lossy(&with_example.stderr)
    );
    let defaults = Command::new(binary())
        .args(["config", "show"])
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert_eq!(
        with_example.stdout, defaults.stdout,
        "the example documents the defaults"
    );
}
