//! `rockit-edge doctor`: exit 0 and only `ok` lines on a healthy install; a precise `FAIL` line
//! and exit 1 for each kind of trouble it knows.

mod common;
mod common_builds;
mod common_engine;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::Server;

fn doctor(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(common::binary())
        .arg("doctor")
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .output()
        .expect("run doctor")
}

/// The line of check `name`, which must exist.
fn line_of(out: &Output, name: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find(|line| line.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no {name} line in:\n{stdout}"))
        .to_string()
}

#[test]
fn a_healthy_install_passes_every_check() {
    let server = Server::start();
    let out = doctor(&server.data_dir(), &[], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for name in [
        "config",
        "data-dir",
        "disk",
        "certificate",
        "ca",
        "clock",
        "origins",
    ] {
        assert!(line_of(&out, name).starts_with("ok "), "{stdout}");
    }
    // The fingerprint is the one the server presents.
    let leaf = std::fs::read_to_string(server.data_dir().join("tls/cert.pem")).expect("cert");
    let der = pem_der(&leaf);
    let want = sha256_colon_hex(&der);
    assert!(line_of(&out, "certificate").contains(&want), "{stdout}");
}

#[test]
fn an_expired_certificate_fails_its_line() {
    let server = Server::start();
    let certs = tempfile::tempdir().expect("tempdir");
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 6, 30);
    let cert = params.self_signed(&key).expect("cert");
    let cert_file = certs.path().join("op.crt");
    let key_file = certs.path().join("op.key");
    std::fs::write(&cert_file, cert.pem()).expect("cert");
    std::fs::write(&key_file, key.serialize_pem()).expect("key");

    let out = doctor(
        &server.data_dir(),
        &[],
        &[
            (
                "ROCKIT_EDGE__TLS__CERT_FILE",
                cert_file.to_str().expect("utf8"),
            ),
            (
                "ROCKIT_EDGE__TLS__KEY_FILE",
                key_file.to_str().expect("utf8"),
            ),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let line = line_of(&out, "certificate");
    assert!(line.starts_with("FAIL "), "{line}");
    assert!(
        line.contains(&format!(
            "{} expired on 2021-06-30 00:00 UTC",
            cert_file.display()
        )),
        "{line}"
    );
    assert!(line_of(&out, "data-dir").starts_with("ok "));
}

#[test]
fn a_certificate_without_a_public_name_fails_its_line() {
    let server = Server::start();
    let out = doctor(
        &server.data_dir(),
        &[],
        &[(
            "ROCKIT_EDGE__SERVER__PUBLIC_NAMES",
            r#"["edge.example.com"]"#,
        )],
    );
    assert_eq!(out.status.code(), Some(1));
    let line = line_of(&out, "certificate");
    assert!(
        line.starts_with("FAIL ") && line.contains("does not name edge.example.com"),
        "{line}"
    );
}

#[test]
fn a_read_only_data_dir_fails_its_line() {
    let server = Server::start();
    let data_dir = server.data_dir();
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o500)).expect("chmod");
    let out = doctor(&data_dir, &[], &[]);
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    assert_eq!(out.status.code(), Some(1));
    let line = line_of(&out, "data-dir");
    assert!(
        line.starts_with("FAIL ")
            && line.contains(&format!("{} is read-only (mode 0500)", data_dir.display())),
        "{line}"
    );
}

#[test]
fn a_broken_config_is_a_failed_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[server]\nhttps_lisen = \"0.0.0.0:443\"\n").expect("config");
    let out = doctor(
        &dir.path().join("data"),
        &["--config", config.to_str().expect("utf8")],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let line = line_of(&out, "config");
    assert!(
        line.starts_with("FAIL ") && line.contains("https_lisen"),
        "{line}"
    );
}

fn pem_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .skip_while(|line| !line.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|line| !line.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("base64")
}

fn sha256_colon_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn an_origin_with_wrong_credentials_fails_its_line() {
    let Some(s3) = common::S3Server::start() else {
        return;
    };
    let mut env = common_builds::ENV.to_vec();
    env.push(common::LOCAL_ORIGINS);
    let server = Server::start_with(&[], &env);
    let key = common_builds::publisher(&server);
    let be = common::Be::bearer(&server, &key);
    for (name, secret) in [
        ("good", s3.secret_key.clone()),
        ("wrong", "not-the-secret".to_string()),
    ] {
        let body = serde_json::json!({
            "name": name,
            "label": name,
            "origin": {"s3": {
                "hostname": s3.hostname(), "accessKey": s3.access_key, "secretKey": secret,
                "location": "us-east-1", "bucket": "edge", "prefix": "doctor",
            }},
        });
        let (status, answer) = be.call(reqwest::Method::POST, "/be/v1/deployments", Some(body));
        assert_eq!(status, 200, "{answer}");
    }
    let out = doctor(&server.data_dir(), &[], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let origins: Vec<&str> = stdout.lines().filter(|l| l.contains(" origin ")).collect();
    assert_eq!(origins.len(), 2, "{stdout}");
    let good = origins
        .iter()
        .find(|l| l.contains("studio/good:"))
        .expect("good line");
    assert!(good.starts_with("ok "), "{good}");
    let wrong = origins
        .iter()
        .find(|l| l.contains("studio/wrong:"))
        .expect("wrong line");
    assert!(
        wrong.starts_with("FAIL ") && wrong.contains("credential check failed"),
        "{wrong}"
    );
    assert!(!stdout.contains("not-the-secret"), "a secret was printed");
}

#[test]
fn without_a_running_server_the_origins_are_not_checked() {
    let mut server = Server::start();
    assert!(server.terminate());
    let out = doctor(&server.data_dir(), &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let line = line_of(&out, "origins");
    assert!(
        line.starts_with("FAIL ") && line.contains("no server runs on"),
        "{line}"
    );
    assert!(line_of(&out, "certificate").starts_with("ok "));
}
