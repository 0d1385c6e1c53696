//! A `mkraw` interrupted by a crash or `kill -9` completes once after the restart: the app
//! gets exactly one new build, and the depot never holds a temporary or partial file.

mod common;
mod common_builds;
mod common_engine;

use std::path::Path;

use common::{Be, Server, wait_for};
use common_builds::*;
use common_engine::sh;
use reqwest::Method;
use serde_json::{Value, json};

/// Every file under the depot whose name says it is not published (temporary, partial).
fn unpublished_files(depot: &Path) -> Vec<String> {
    let listing = sh(&format!("cd '{}' && find . -type f", depot.display()));
    listing
        .lines()
        .filter(|path| {
            let name = path.rsplit('/').next().unwrap_or("");
            name.starts_with('.') || name.ends_with(".tmp") || name.ends_with(".part")
        })
        .map(str::to_string)
        .collect()
}

/// Uploads a tar in one `PUT`; the upload task's name and the `mkraw` it submitted.
fn upload(server: &Server, be: &Be, tar: &Path) -> (String, String) {
    let started = import(be, json!({"appName": APP}));
    let file = std::fs::File::open(tar).expect("open tar");
    let response = reqwest::blocking::Client::builder()
        .timeout(None)
        .add_root_certificate(
            reqwest::Certificate::from_pem(
                &std::fs::read(server.data_dir().join("tls/ca.pem")).expect("ca"),
            )
            .expect("pem"),
        )
        .build()
        .expect("client")
        .put(started["uploadUrl"].as_str().expect("url"))
        .body(file)
        .send()
        .expect("put");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().expect("json");
    (
        started["taskName"].as_str().expect("task").to_string(),
        body["taskName"].as_str().expect("mkraw").to_string(),
    )
}

fn build_ids(be: &Be) -> Vec<u64> {
    app_details(be)["builds"]
        .as_array()
        .expect("builds")
        .iter()
        .map(|b| b["id"].as_u64().expect("id"))
        .collect()
}

#[test]
fn a_crash_between_the_steps_of_mkraw_completes_the_build_once() {
    let mut server = Server::start_with(&[], &ENV);
    let key = publisher(&server);
    let work = tempfile::tempdir().expect("tempdir");
    let tars = game_versions(work.path());
    {
        let be = Be::bearer(&server, &key);
        create_app(&be, json!({}));
        let (_, mkraw) = upload(&server, &be, &tars[0]);
        assert_eq!(server.wait_task(&mkraw)["status"], "done");
    }
    for (point, tar) in [
        ("mkraw.image_published", &tars[1]),
        ("mkraw.patch_published", &tars[2]),
    ] {
        assert!(server.terminate());
        server
            .env
            .push(("ROCKIT_EDGE_CRASH_AT".into(), point.into()));
        server.launch();
        let be = Be::bearer(&server, &key);
        let before = build_ids(&be);
        let started = import(&be, json!({"appName": APP}));
        let url = started["uploadUrl"].as_str().expect("url").to_string();
        let _ = server
            .client
            .put(&url)
            .body(std::fs::read(tar).expect("tar"))
            .send();
        assert!(server.wait_exit(60), "the server died at {point}");
        server
            .env
            .retain(|(name, _)| name != "ROCKIT_EDGE_CRASH_AT");
        server.launch();
        let be = Be::bearer(&server, &key);
        let done = wait_import(&be, started["taskName"].as_str().expect("task"));
        assert_eq!(done["status"], "done", "{point}: {done}");
        assert_eq!(done["resumed"], 1, "{point}: {done}");
        let after = build_ids(&be);
        assert_eq!(
            after.len(),
            before.len() + 1,
            "{point}: one new build: {after:?}"
        );
        assert_eq!(
            unpublished_files(&server.data_dir().join("depot")),
            Vec::<String>::new(),
            "{point}"
        );
    }
}

#[test]
fn kill_9_during_mkraw_of_a_large_build_completes_it_once() {
    let mut server = Server::start_with(&[], &ENV);
    let key = publisher(&server);
    let work = tempfile::tempdir().expect("tempdir");
    let tree = work.path().join("big");
    std::fs::create_dir_all(tree.join("data")).expect("mkdir");
    sh(&format!(
        "head -c 1100000000 /dev/urandom > '{}/data/world.pak' && echo hi > '{}/readme.txt' \
         && tar -C '{}' -cf '{}/big.tar' .",
        tree.display(),
        tree.display(),
        tree.display(),
        work.path().display()
    ));
    let be = Be::bearer(&server, &key);
    create_app(&be, json!({}));
    let (group, mkraw) = upload(&server, &be, &work.path().join("big.tar"));
    let mut phase = String::new();
    wait_for("mkraw to be well under way", 300, || {
        let (_, body) = be.call(Method::GET, &format!("/be/v1/tasks/{mkraw}"), None);
        phase = body["task"]["phase"].as_str().unwrap_or("").to_string();
        body["task"]["progress"].as_f64().unwrap_or(0.0) >= 15.0
    });
    assert_eq!(phase, "image", "the task says what it is doing");
    server.kill9();
    server.launch();
    let be = Be::bearer(&server, &key);
    let done = server.wait_task(&mkraw);
    assert_eq!(done["status"], "done", "{done}");
    assert!(done["attempts"].as_u64().unwrap_or(0) >= 2, "{done}");
    assert_eq!(build_ids(&be), [1], "exactly one build");
    let (_, tasks) = be.call(Method::GET, &format!("/be/v1/tasks?group={group}"), None);
    let mkraws = tasks["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter(|t| t["type"] == "mkraw")
        .count();
    assert_eq!(mkraws, 1, "{tasks}");
    assert_eq!(
        unpublished_files(&server.data_dir().join("depot")),
        Vec::<String>::new()
    );
    let incoming = server.data_dir().join("work/incoming");
    assert_eq!(
        std::fs::read_dir(&incoming).expect("incoming").count(),
        0,
        "the received tar is gone once processed"
    );
}
