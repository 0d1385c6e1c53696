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
