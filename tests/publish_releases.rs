//! What goes live: rolling back and forward to retained builds (the patches to them made,
//! the origin's files republished, launchers sent there), and the set-live of staged builds
//! with `POST /be/v1/commit` and `POST /adm/v1/commit`.

mod common;
mod common_builds;
mod common_engine;
mod common_publish;

use std::path::Path;

use common::files::FileServer;
use common::{Be, S3Server, Server, wait_for};
use common_builds::*;
use common_engine::{assert_same_tree, cli_ok};
use common_publish::*;
use reqwest::Method;
use serde_json::{Value, json};

/// Imports version `version` of the game and waits for it and its deploys.
fn build(be: &Be, files: &FileServer, version: u32, deploys: usize) {
    let started = import(
        be,
        json!({"appName": APP, "url": files.url(&format!("v{version}.tar"))}),
    );
    let done = wait_import(be, started["taskName"].as_str().expect("task"));
    assert_eq!(done["status"], "done", "{done}");
    let tasks = wait_deploys(be, deploys);
    assert!(tasks.iter().all(|t| t["status"] == "done"), "{tasks:?}");
}

/// Switches the current build with `PATCH iCurBuild` and waits until it is live everywhere.
fn switch_to(be: &Be, target: u32, deploys: usize) -> Value {
    let (status, body) = be.call(
        Method::PATCH,
        "/be/v1/apps",
        Some(json!({"name": APP, "iCurBuild": target})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["app"]["processing"], true,
        "the switch is under way: {body}"
    );
    let (status, again) = be.call(
        Method::PATCH,
        "/be/v1/apps",
        Some(json!({"name": APP, "maxBuilds": 4})),
    );
    common::assert_error(status, &again, 409, "app-locked");
    let mut last = Value::Null;
    let settled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("the switch and its deploy", 120, || {
            last = app_details(be);
            last["iCurBuild"] == target && last["state"] == "idle"
        })
    }));
    if settled.is_err() {
        let (_, tasks) = be.call(Method::GET, "/be/v1/tasks?limit=3&order[]=-created", None);
        panic!("the switch did not settle: {last}\n{tasks}");
    }
    let tasks = wait_deploys(be, deploys);
    assert_eq!(tasks[0]["status"], "done", "{}", tasks[0]);
    assert_eq!(tasks[0]["result"]["buildId"], target);
    app_details(be)
}

/// The launcher's view: `/client/v1/auth` names `target`, and the patch from `from` fetched
/// from the depot turns `from`'s image into `target`'s tree.
fn launchers_reach(
    server: &Server,
    access: &str,
    app: &Value,
    from: u32,
    target: u32,
    work: &Path,
) {
    let auth = client_auth(server, access);
    assert_eq!(auth["iCurBuild"], target);
    assert_eq!(auth["dxfName"], app["dxfName"]);
    assert!(
        auth["sources"]["cdn"].is_null(),
        "the test deployment has no dlAuth"
    );
    let key = format!("{from:04}-{target:04}");
    let dir = work.join(format!("{key}-fetched"));
    fetch_all(
        server,
        &auth["files"]["patches"][&key],
        &auth["sources"]["depot"]["patches"][&key],
        &dir.join("pat"),
    );
    let old = app["builds"]
        .as_array()
        .expect("builds")
        .iter()
        .find(|b| b["id"] == from)
        .expect("old build");
    let old_dir = dir.join("old");
    std::fs::create_dir_all(&old_dir).expect("mkdir");
    for name in ["app.json", "img.json", "img.idx.7z", "img.dxf"] {
        let path = format!(
            "dxf/{ORG}/{APP}/{from:04}/{}/{name}",
            old["dxfName"].as_str().expect("dxf")
        );
        let bytes = fetch(
            server,
            &signed(server, &path, chrono::Utc::now().timestamp() + 60),
        );
        std::fs::write(old_dir.join(name), bytes).expect("write");
    }
    let rebuilt = dir.join("rebuilt");
    std::fs::create_dir_all(&rebuilt).expect("mkdir");
    let new_image = dir.join("new");
    fetch_all(
        server,
        &auth["files"]["dxf"],
        &auth["sources"]["depot"]["dxf"],
        &new_image,
    );
    for name in ["app.json", "img.json", "img.idx.7z"] {
        std::fs::copy(new_image.join(name), rebuilt.join(name)).expect("copy");
    }
    cli_ok(&[
        &"patch",
        &"apply",
        &old_dir,
        &dir.join("pat"),
        &rebuilt.join("img.dxf"),
    ]);
    cli_ok(&[&"image", &"extract", &rebuilt, &dir.join("tree")]);
    assert_same_tree(&dir.join("tree"), &work.join(format!("v{target}")));
}

/// The `app.json` files the origin holds for the current build all name `target`.
fn origin_points_at(s3: &S3Server, app: &Value, target: u32) {
    let keys: Vec<String> = published_files(app)
        .into_iter()
        .map(|(key, ..)| key)
        .filter(|key| key.ends_with("/app.json"))
        .collect();
    assert_eq!(
        keys.len(),
        1 + app["files"]["patches"].as_object().expect("patches").len()
    );
    for key in keys {
        let pointer: Value = serde_json::from_slice(&object(s3, &key)).expect("app.json");
        assert_eq!(pointer["buildId"], target, "{key}: {pointer}");
    }
}

#[test]
fn rolling_back_and_forward_republishes_and_sends_launchers_there() {
    let Some(scene) = Scene::start(&publishing_env()) else {
        return;
    };
    let (s3, server, files, be) = (&scene.s3, &scene.server, &scene.files, scene.be());
    create_deployment(&be, deployment_body("cdn", s3, PREFIX, None));
    create_app(&be, json!({"maxBuilds": 3}));
    let access = scene.access_key();
    for version in 1..=3 {
        build(&be, files, version, version as usize);
    }

    let (status, body) = be.call(
        Method::PATCH,
        "/be/v1/apps",
        Some(json!({"name": APP, "iCurBuild": 9})),
    );
    common::assert_error(status, &body, 400, "invalid-param");

    // Back to build 2: patches from 1 and 3 to it, published with their app.json last.
    let app = switch_to(&be, 2, 4);
    let mut patches = patch_keys(&app);
    patches.sort();
    assert_eq!(patches, ["0001-0002", "0003-0002"]);
    assert_eq!(app["deployed"], json!(["cdn"]));
    for (key, size, md5) in published_files(&app) {
        let bytes = object(s3, &key);
        assert_eq!((bytes.len() as u64, md5_hex(&bytes)), (size, md5), "{key}");
    }
    origin_points_at(s3, &app, 2);
    launchers_reach(server, &access, &app, 3, 2, scene.work.path());

    // Forward to build 3 again, the same way.
    let app = switch_to(&be, 3, 5);
    let mut patches = patch_keys(&app);
    patches.sort();
    assert_eq!(patches, ["0001-0003", "0002-0003"]);
    origin_points_at(s3, &app, 3);
    launchers_reach(server, &access, &app, 2, 3, scene.work.path());

    // The next build goes on from the highest id ever assigned.
    build(&be, files, 4, 6);
    assert_eq!(app_details(&be)["iCurBuild"], 4);
}

#[test]
fn staged_builds_go_live_by_commit() {
    let Some(scene) = Scene::start(&publishing_env()) else {
        return;
    };
    let (s3, server, files, be) = (&scene.s3, &scene.server, &scene.files, scene.be());
    create_deployment(&be, deployment_body("cdn", s3, PREFIX, None));
    create_app(&be, json!({"autoCommit": false}));

    let (status, body) = be.call(Method::POST, "/be/v1/commit", Some(json!({"appName": APP})));
    common::assert_error(status, &body, 400, "invalid-param");
    let started = import(&be, json!({"appName": APP, "url": files.url("v1.tar")}));
    wait_import(&be, started["taskName"].as_str().expect("task"));
    let app = app_details(&be);
    assert_eq!(app["iCurBuild"], 0);
    assert_eq!(app["staged"]["id"], 1, "{app}");
    assert!(
        tasks_of(&be, "deploy").is_empty(),
        "nothing is published before the commit"
    );
    assert!(origin_keys(s3, "").is_empty());

    let (status, body) = be.call(Method::POST, "/be/v1/commit", Some(json!({"appName": APP})));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["commit"]["buildId"], 1);
    assert_eq!(
        body["commit"]["taskNames"].as_array().expect("tasks").len(),
        1
    );
    assert_eq!(wait_deploys(&be, 1)[0]["status"], "done");
    let app = app_details(&be);
    assert_eq!(
        (app["iCurBuild"].clone(), app["staged"].clone()),
        (json!(1), json!(null))
    );
    assert_eq!(app["deployed"], json!(["cdn"]));
    assert_eq!(origin_keys(s3, "").len(), 4);

    // The instance administrator commits every staged build of the org.
    let started = import(&be, json!({"appName": APP, "url": files.url("v2.tar")}));
    wait_import(&be, started["taskName"].as_str().expect("task"));
    assert_eq!(app_details(&be)["staged"]["id"], 2);
    let (status, body) = server.admin(
        Method::POST,
        "/adm/v1/commit",
        Some(json!({"orgName": ORG})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["commits"][0]["appName"], APP);
    assert_eq!(wait_deploys(&be, 2)[0]["status"], "done");
    let app = app_details(&be);
    assert_eq!(app["iCurBuild"], 2);
    assert_eq!(patch_keys(&app), ["0001-0002"]);
    origin_points_at(s3, &app, 2);
    let (status, body) = server.admin(
        Method::POST,
        "/adm/v1/commit",
        Some(json!({"orgName": "nosuchorg"})),
    );
    common::assert_error(status, &body, 404, "not-found");
}
