//! The server under systemd: the `sd_notify` messages it sends (READY=1 once both listeners
//! accept, WATCHDOG=1 pings, STOPPING=1 on SIGTERM) to a notification socket the test owns.

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::Server;

/// Receives datagrams until one satisfies `wanted`, returning every message seen.
fn receive_until(
    socket: &UnixDatagram,
    what: &str,
    mut wanted: impl FnMut(&str) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {what} within 60 s; got {seen:?}");
        socket.set_read_timeout(Some(left)).expect("timeout");
        let n = socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no {what}: {e}; got {seen:?}"));
        let message = String::from_utf8(buf[..n].to_vec()).expect("utf8 message");
        let done = wanted(&message);
        seen.push(message);
        if done {
            return seen;
        }
    }
}

fn has_line(message: &str, line: &str) -> bool {
    message.lines().any(|l| l == line)
}

#[test]
fn notifies_ready_watchdog_and_stopping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind the notification socket");
    let socket_env = path.to_str().expect("utf8 path");
    // systemd asks for pings every 400 ms / 2.
    let mut server = Server::start_with(
        &[],
        &[("NOTIFY_SOCKET", socket_env), ("WATCHDOG_USEC", "400000")],
    );

    let before_ready = receive_until(&socket, "READY=1", |m| has_line(m, "READY=1"));
    assert!(
        !before_ready.iter().any(|m| has_line(m, "STOPPING=1")),
        "{before_ready:?}"
    );
    // READY=1 means both listeners answer at once.
    let healthz = server
        .client
        .get(server.url("/healthz"))
        .send()
        .expect("https");
    assert_eq!(healthz.status(), 200);
    let healthz = reqwest::blocking::get(server.http_url("/healthz")).expect("http");
    assert_eq!(healthz.status(), 200);

    let mut pings = 0;
    receive_until(&socket, "three WATCHDOG=1", |m| {
        pings += usize::from(has_line(m, "WATCHDOG=1"));
        pings == 3
    });

    let pid = server.child.as_ref().expect("running").id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(sent.success());
    receive_until(&socket, "STOPPING=1", |m| has_line(m, "STOPPING=1"));
    assert!(
        server.wait_exit(60),
        "no exit after SIGTERM:\n{}",
        server.log()
    );
}

#[test]
fn a_watchdog_meant_for_another_process_is_not_pinged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind the notification socket");
    let socket_env = path.to_str().expect("utf8 path");
    let server = Server::start_with(
        &[],
        &[
            ("NOTIFY_SOCKET", socket_env),
            ("WATCHDOG_USEC", "200000"),
            ("WATCHDOG_PID", "1"),
        ],
    );
    receive_until(&socket, "READY=1", |m| has_line(m, "READY=1"));
    // Ten would-be ping intervals pass in silence.
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut buf = [0u8; 512];
    if let Ok(n) = socket.recv(&mut buf) {
        panic!(
            "unexpected message {:?}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    drop(server);
}
