//! A deploy killed with `kill -9` while it sends a 1 GiB image continues after the restart:
//! the parts the origin already took are not sent again (counted by a proxy in front of the
//! S3 server), and every object under its final key is exactly the depot's copy.

mod common;
mod common_builds;
mod common_engine;
mod common_publish;

use std::io::Write;

use common::files::FileServer;
use common::{Be, S3Server, Server, wait_for};
use common_builds::*;
use common_engine::{noise, tar_of};
use common_publish::*;
use reqwest::Method;
use serde_json::{Value, json};

const IMAGE_BYTES: u64 = 1 << 30;
const PART_BYTES: u64 = 5 << 20;
const PARALLEL: u64 = 4;

/// A game of one 1 GiB incompressible file, written in pieces, as a tar.
fn big_game(dir: &std::path::Path) {
    let tree = dir.join("big");
    std::fs::create_dir_all(&tree).expect("mkdir");
    let mut file = std::fs::File::create(tree.join("data.pak")).expect("create");
    let piece = 64 << 20;
    for seed in 0..IMAGE_BYTES / piece {
        file.write_all(&noise(piece as usize, 7 + seed))
            .expect("write");
    }
    drop(file);
    tar_of(&tree, &dir.join("big.tar"), "--format=pax");
    std::fs::remove_dir_all(&tree).expect("remove tree");
}

fn deploy_task(be: &Be) -> Option<Value> {
    tasks_of(be, "deploy").into_iter().next()
}

#[test]
fn a_deploy_killed_mid_image_resumes_without_resending_parts() {
    let Some(s3) = S3Server::start() else { return };
    let proxy = CountingProxy::start(s3.port);
    let mut env = publishing_env();
    env.push(("ROCKIT_EDGE__ORIGINS__PARALLEL_REQUESTS", "4"));
    let mut server = Server::start_with(&[], &env);
    let key = publisher(&server);
    let work = tempfile::tempdir().expect("tempdir");
    big_game(work.path());
    let files = FileServer::start(work.path().to_path_buf());
    {
        let be = Be::bearer(&server, &key);
        let mut body = deployment_body("cdn", &s3, PREFIX, None);
        body["origin"]["s3"]["hostname"] = json!(proxy.hostname());
        create_deployment(&be, body);
        create_app(&be, json!({}));
        let started = import(&be, json!({"appName": APP, "url": files.url("big.tar")}));
        let done = wait_import(&be, started["taskName"].as_str().expect("task"));
        assert_eq!(done["status"], "done", "{done}");
        wait_for("the deploy to send a quarter of the image", 300, || {
            deploy_task(&be).is_some_and(|t| t["progress"].as_f64().unwrap_or(0.0) >= 25.0)
        });
        let (status, app) = be.call(Method::GET, &format!("/be/v1/apps/{APP}"), None);
        assert_eq!(status, 200, "{app}");
        assert_eq!(app["app"]["state"], "exporting", "{app}");
        assert_eq!(app["app"]["exporting"], true);
        assert_eq!(
            app["app"]["deployed"],
            json!([]),
            "not deployed until the deploy ends"
        );
    }
    server.kill9();
    let before = proxy.received();
    assert!(
        before >= IMAGE_BYTES / 4,
        "only {before} bytes reached the origin"
    );
    assert!(before < IMAGE_BYTES, "the deploy ended before the kill");
    server.launch();

    let be = Be::bearer(&server, &key);
    wait_for("the resumed deploy", 600, || {
        deploy_task(&be).is_some_and(|t| t["status"] != "running" && t["status"] != "submitted")
    });
    let task = deploy_task(&be).expect("deploy");
    assert_eq!(task["status"], "done", "{task}");
    assert!(task["attempts"].as_u64().unwrap_or(0) >= 2, "{task}");

    // At most the parts in flight at the kill went twice (plus requests' headers).
    let received = proxy.received();
    eprintln!("the origin received {before} bytes before the kill, {received} in all");
    let slack = (PARALLEL + 2) * PART_BYTES + (16 << 20);
    assert!(
        received <= IMAGE_BYTES + slack,
        "the origin received {received} bytes for a {IMAGE_BYTES}-byte image: parts were sent again"
    );

    let (status, app) = be.call(Method::GET, &format!("/be/v1/apps/{APP}"), None);
    assert_eq!(status, 200, "{app}");
    let app = &app["app"];
    assert_eq!(app["deployed"], json!(["cdn"]));
    for (key, size, md5) in published_files(app) {
        let path = s3.dir.path().join("edge").join(&key);
        let on_origin = std::fs::metadata(&path).expect("object").len();
        assert_eq!(on_origin, size, "{key}");
        assert_eq!(common_engine::md5_of(&path), md5, "{key}");
    }
}
