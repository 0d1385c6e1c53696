//! Server hardening: private files whatever the umask, and health checks that hold under
//! concurrent load.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Server, binary, wait_for};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_data_dir_is_private_whatever_the_umask() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let log = std::fs::File::create(dir.path().join("log")).expect("log");
    let script = format!(
        "umask 000; exec {} serve --data-dir {} --https-listen 127.0.0.1:0 --http-listen off",
        binary(),
        data.display()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn");
    wait_for("the server to start", 60, || {
        data.join("run/server.json").exists()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(mode(&data), 0o700, "data dir");
    for file in [
        "edge.redb",
        "secrets/admin.secret",
        "secrets/encryption.key",
        "tls/key.pem",
        "tls/ca.key",
        "run/server.json",
    ] {
        let path = data.join(file);
        assert_eq!(mode(&path) & 0o077, 0, "{file} is {:o}", mode(&path));
    }
    for sub in ["depot", "work", "backups", "secrets", "tls"] {
        assert_eq!(mode(&data.join(sub)) & 0o077, 0, "{sub}/");
    }

    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let log_path = dir.path().join("log2");
    let log = std::fs::File::create(&log_path).expect("log");
    let mut child = Command::new(binary())
        .args(["serve", "--data-dir"])
        .arg(&data)
        .args(["--https-listen", "127.0.0.1:0", "--http-listen", "off"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn");
    wait_for("the warning about an open data dir", 60, || {
        std::fs::read_to_string(&log_path).is_ok_and(|l| l.contains("readable by other users"))
    });
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn concurrent_health_checks_all_pass() {
    let server = Server::start();
    let url = server.url("/healthz");
    let failures: Vec<String> = std::thread::scope(|scope| {
        let checks: Vec<_> = (0..40)
            .map(|_| {
                let (client, url) = (server.client.clone(), url.clone());
                scope.spawn(move || {
                    let response = client.get(&url).send().expect("healthz");
                    let status = response.status().as_u16();
                    (status, response.text().unwrap_or_default())
                })
            })
            .collect();
        checks
            .into_iter()
            .map(|check| check.join().expect("thread"))
            .filter(|(status, _)| *status != 200)
            .map(|(status, body)| format!("{status}: {body}"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of 40 failed: {failures:?}",
        failures.len()
    );
}

/// The first certificate of a PEM file, parsed.
fn with_cert<R>(
    path: &Path,
    read: impl FnOnce(&x509_parser::certificate::X509Certificate) -> R,
) -> R {
    let pem = std::fs::read(path).expect("pem");
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).expect("pem block");
    let cert = pem.parse_x509().expect("certificate");
    read(&cert)
}

fn validity_days(cert: &x509_parser::certificate::X509Certificate) -> i64 {
    let validity = cert.validity();
    (validity.not_after.timestamp() - validity.not_before.timestamp()) / 86_400
}

#[test]
fn the_generated_ca_is_constrained_and_the_leaf_short_lived_and_renewed() {
    let server = Server::start_with(&[], &[("ROCKIT_EDGE__TLS__RELOAD_INTERVAL_SECS", "1")]);
    let tls = server.data_dir().join("tls");
    with_cert(&tls.join("ca.pem"), |ca| {
        assert!(
            validity_days(ca) <= 3651,
            "CA valid {} days",
            validity_days(ca)
        );
        let constraints = ca
            .name_constraints()
            .expect("extension")
            .expect("the CA has name constraints");
        let permitted = constraints
            .value
            .permitted_subtrees
            .as_ref()
            .expect("permitted");
        assert!(permitted.len() >= 3, "{permitted:?}");
    });
    let first_serial = with_cert(&tls.join("cert.pem"), |leaf| {
        assert!(
            validity_days(leaf) <= 398,
            "leaf valid {} days",
            validity_days(leaf)
        );
        let eku = leaf
            .extended_key_usage()
            .expect("ext")
            .expect("extendedKeyUsage");
        assert!(eku.value.server_auth, "serverAuth");
        let usage = leaf.key_usage().expect("ext").expect("keyUsage");
        assert!(usage.value.digital_signature());
        leaf.raw_serial().to_vec()
    });
    let (status, _) = common::json_response(
        server
            .client
            .post(server.url("/srv/v1/ping"))
            .send()
            .expect("ping"),
    );
    assert_eq!(status, 200, "a client trusting ca.pem accepts the leaf");

    // Ten days left: inside the renewal window, so the running server re-issues and serves it.
    let facts_file = tls.join("leaf.json");
    let mut facts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&facts_file).expect("facts")).expect("json");
    facts["notAfter"] = serde_json::json!(chrono::Utc::now().timestamp() + 10 * 86_400);
    std::fs::write(&facts_file, facts.to_string()).expect("write facts");
    wait_for("the leaf to be renewed and reloaded", 30, || {
        with_cert(&tls.join("cert.pem"), |leaf| leaf.raw_serial().to_vec()) != first_serial
            && server.log().contains("TLS certificate reloaded")
    });
    let (status, _) = common::json_response(
        server
            .trusting_client()
            .post(server.url("/srv/v1/ping"))
            .send()
            .expect("ping"),
    );
    assert_eq!(status, 200, "the renewed leaf chains to the same CA");
}
