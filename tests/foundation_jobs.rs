//! The durable job runner seen from outside: hello tasks, kill -9 mid-task, graceful restarts.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use reqwest::Method;
use rockit_edge::store::{EVENTS, Store};
use serde_json::{Value, json};

fn submit_hello(server: &Server, body: Value) -> String {
    let (status, body) = server.admin(Method::POST, "/srv/v1/hello", Some(body));
    assert_eq!(status, 200, "{body}");
    body["taskName"].as_str().expect("taskName").to_string()
}

/// Waits until the task has run for a while (progress saved at least once).
fn wait_running(server: &Server, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = server.admin(Method::GET, &format!("/adm/v1/tasks/{name}"), None);
        if body["task"]["status"] == "running"
            && body["task"]["progress"].as_f64().unwrap_or(0.0) > 0.0
        {
            return;
        }
        assert!(Instant::now() < deadline, "task never ran: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The outbox events of one task, read from the store file of a stopped server.
fn events_of(server: &Server, task: &str) -> Vec<String> {
    let dir = server.data_dir();
    let store =
        Store::open(&dir.join("edge.redb"), 1 << 20, &dir.join("backups")).expect("open store");
    let task = task.to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime
        .block_on(store.read(move |tx| {
            let mut found = Vec::new();
            tx.open(&EVENTS)?.scan(0u64.., |_, event| {
                if event.task_name == task {
                    found.push(event.event);
                }
                std::ops::ControlFlow::Continue(())
            })?;
            Ok::<_, rockit_edge::store::StoreError>(found)
        }))
        .expect("read events")
}

#[test]
fn hello_echoes_its_message() {
    let server = Server::start();
    let name = submit_hello(&server, json!({"message": "hi there", "delayMs": 300}));
    let task = server.wait_task(&name);
    assert_eq!(task["status"], "done", "{task}");
    assert_eq!(task["type"], "hello");
    assert_eq!(task["result"]["message"], "hi there");
    assert_eq!(task["attempts"], 1);
    assert_eq!(task["resumed"], 0);
    assert_eq!(task["progress"], 100.0);
    assert_eq!(task["exception"], Value::Null);
    for key in ["name", "group", "created", "started", "ended", "warnings"] {
        assert!(task.get(key).is_some(), "task lacks {key}: {task}");
    }
}

#[test]
fn a_task_killed_with_sigkill_resumes_and_completes_exactly_once() {
    let mut server = Server::start();
    let name = submit_hello(&server, json!({"message": "survivor", "delayMs": 4000}));
    wait_running(&server, &name);
    server.kill9();
    server.launch();
    let task = server.wait_task(&name);
    assert_eq!(task["status"], "done", "{task}");
    assert_eq!(task["result"]["message"], "survivor");
    assert_eq!(task["result"]["resumed"], true);
    assert_eq!(task["attempts"], 2, "{task}");
    assert_eq!(task["resumed"], 1, "{task}");
    assert!(
        server.log().contains("resuming task interrupted"),
        "{}",
        server.log()
    );
    assert!(server.terminate(), "graceful exit");
    assert_eq!(events_of(&server, &name), ["submit", "begin", "end"]);
}

#[test]
fn sigterm_lets_a_running_task_checkpoint_and_the_next_start_resumes_it() {
    let mut server = Server::start();
    let name = submit_hello(&server, json!({"message": "patient", "delayMs": 3000}));
    wait_running(&server, &name);
    assert!(server.terminate(), "graceful exit:\n{}", server.log());
    assert!(
        !server.data_dir().join("run/server.json").exists(),
        "runtime file removed on exit"
    );
    server.launch();
    let task = server.wait_task(&name);
    assert_eq!(task["status"], "done", "{task}");
    assert_eq!(task["resumed"], 1, "{task}");
    assert!(server.terminate());
    assert_eq!(events_of(&server, &name), ["submit", "begin", "end"]);
}

#[test]
fn the_configured_hello_delay_applies_when_none_is_given() {
    let server = Server::start_with(&[], &[("ROCKIT_EDGE__JOBS__HELLO_DELAY_MS", "1500")]);
    let name = submit_hello(&server, json!({"message": "slow"}));
    wait_running(&server, &name);
    let task = server.wait_task(&name);
    assert_eq!(task["status"], "done");
    let started = chrono::DateTime::parse_from_rfc3339(task["started"].as_str().expect("started"))
        .expect("time");
    let ended =
        chrono::DateTime::parse_from_rfc3339(task["ended"].as_str().expect("ended")).expect("time");
    assert!(
        ended - started >= chrono::Duration::milliseconds(1400),
        "{task}"
    );
}

/// The store file's modification time and length: they change with every committed write.
fn store_stamp(server: &Server) -> (std::time::SystemTime, u64) {
    let meta = std::fs::metadata(server.data_dir().join("edge.redb")).expect("store file");
    (meta.modified().expect("mtime"), meta.len())
}

#[test]
fn an_idle_server_writes_nothing_to_its_store() {
    let server = Server::start_with(&[], &[("ROCKIT_EDGE__WEBHOOKS__POLL_INTERVAL_MS", "50")]);
    let name = submit_hello(&server, json!({"message": "then idle", "delayMs": 0}));
    assert_eq!(server.wait_task(&name)["status"], "done");
    let (status, body) = server.admin(Method::POST, "/srv/v1/ping", None);
    assert_eq!(status, 200, "{body}");
    let before = store_stamp(&server);
    let watched = Instant::now();
    // Idle workers used to claim in a write transaction every second: watch several seconds.
    while watched.elapsed() < Duration::from_secs(4) {
        assert_eq!(
            store_stamp(&server),
            before,
            "the idle server wrote to its store after {:?}",
            watched.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_heavy_task_runs_in_the_heavy_pool_beside_light_ones() {
    let server = Server::start_with(
        &[],
        &[
            ("ROCKIT_EDGE__JOBS__WORKERS", "1"),
            ("ROCKIT_EDGE__JOBS__HEAVY_WORKERS", "1"),
        ],
    );
    let heavy = submit_hello(
        &server,
        json!({"message": "heavy", "delayMs": 600_000, "heavy": true}),
    );
    wait_running(&server, &heavy);
    let light = submit_hello(&server, json!({"message": "light", "delayMs": 0}));
    assert_eq!(server.wait_task(&light)["status"], "done");
    let (_, body) = server.admin(Method::GET, &format!("/adm/v1/tasks/{heavy}"), None);
    assert_eq!(body["task"]["status"], "running", "{body}");
}

#[test]
fn workers_lists_every_background_worker_with_its_state_on_a_running_server() {
    let server = Server::start_with(
        &[],
        &[
            ("ROCKIT_EDGE__JOBS__WORKERS", "2"),
            ("ROCKIT_EDGE__JOBS__HEAVY_WORKERS", "1"),
        ],
    );
    let long = submit_hello(&server, json!({"message": "long", "delayMs": 600_000}));
    wait_running(&server, &long);

    let out = common::cli(&server.data_dir(), &["workers"]);
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let header = table.lines().next().unwrap_or("");
    for column in ["NAME", "STATE", "QUEUE", "DONE", "ERRORS", "LAST ERROR"] {
        assert!(header.contains(column), "{table}");
    }
    for name in [
        "jobs/light-1",
        "jobs/light-2",
        "jobs/heavy-1",
        "jobs/leases",
        "webhooks",
        "tls",
    ] {
        assert!(
            table.lines().any(|l| l.starts_with(name)),
            "{name} is missing:\n{table}"
        );
    }
    assert!(
        table
            .lines()
            .any(|l| l.contains(" busy ") && l.contains(&format!("hello {long}"))),
        "no worker shows the running task:\n{table}"
    );

    let out = common::cli(&server.data_dir(), &["workers", "--json"]);
    assert!(out.status.success());
    let listed: Value = serde_json::from_slice(&out.stdout).expect("JSON list");
    let (status, body) = server.admin(Method::GET, "/adm/v1/workers", None);
    assert_eq!(status, 200, "{body}");
    let names = |list: &Value| -> Vec<String> {
        list.as_array()
            .expect("array")
            .iter()
            .map(|w| w["name"].as_str().expect("name").to_string())
            .collect()
    };
    assert_eq!(names(&listed), names(&body["workers"]));
    let leases = body["workers"]
        .as_array()
        .expect("array")
        .iter()
        .find(|w| w["name"] == "jobs/leases")
        .expect("leases worker");
    assert_eq!(leases["queue"], 1, "one running task's lease: {leases}");
    let idle = body["workers"]
        .as_array()
        .expect("array")
        .iter()
        .find(|w| w["name"] == "jobs/heavy-1")
        .expect("heavy worker");
    assert_eq!(idle["state"], "idle", "{idle}");
}

#[test]
fn workers_says_when_no_server_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = common::cli(dir.path(), &["workers"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no running appliance"), "{stderr}");
}
