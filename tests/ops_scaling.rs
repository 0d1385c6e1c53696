//! Past one machine (docs/SCALING.md): two appliances, each with its own store, publish
//! different apps of the same org to one S3 bucket under the same prefix. Rotations and their
//! cleanups, and deleting an app, on one appliance leave every object of the other in place,
//! and each appliance's launchers find exactly what their app lists.

mod common;
mod common_builds;
mod common_engine;
mod common_publish;

use common::files::FileServer;
use common::{Be, S3Server, Server, wait_for};
use common_builds::*;
use common_publish::*;
use reqwest::Method;
use serde_json::{Value, json};

/// Imports `versions` of the game into `app` in order, each followed to its deploy.
fn publish(be: &Be, files: &FileServer, app: &str, versions: &[u32]) {
    for (n, version) in versions.iter().enumerate() {
        let started = import(
            be,
            json!({"appName": app, "url": files.url(&format!("v{version}.tar"))}),
        );
        let done = wait_import(be, started["taskName"].as_str().expect("task"));
        assert_eq!(done["status"], "done", "{done}");
        let deploys = wait_deploys_of(be, app, n + 1);
        assert_eq!(deploys[0]["status"], "done", "{}", deploys[0]);
    }
}

fn details(be: &Be, app: &str) -> Value {
    let (status, body) = be.call(Method::GET, &format!("/be/v1/apps/{app}"), None);
    assert_eq!(status, 200, "{body}");
    body["app"].clone()
}

/// Every file the app lists is on the origin with its size and MD5.
fn assert_published(s3: &S3Server, app: &Value) {
    for (key, size, md5) in published_files(app) {
        let bytes = object(s3, &key);
        assert_eq!(bytes.len() as u64, size, "{key}");
        assert_eq!(md5_hex(&bytes), md5, "{key}");
    }
}

#[test]
fn two_appliances_share_a_bucket_without_touching_each_others_objects() {
    let Some(s3) = S3Server::start() else {
        return;
    };
    let env = publishing_env();
    let east = Server::start_with(&[], &env);
    let west = Server::start_with(&[], &env);
    let work = tempfile::tempdir().expect("tempdir");
    game_versions(work.path());
    let files = FileServer::start(work.path().to_path_buf());

    // The same org name on both, one deployment each to the same bucket and prefix.
    let east_be_key = publisher(&east);
    let west_be_key = publisher(&west);
    let (east_be, west_be) = (
        Be::bearer(&east, &east_be_key),
        Be::bearer(&west, &west_be_key),
    );
    for be in [&east_be, &west_be] {
        create_deployment(be, deployment_body("cdn", &s3, PREFIX, None));
    }
    create_app(&east_be, json!({"maxBuilds": 2}));
    let (status, body) = west_be.call(
        Method::POST,
        "/be/v1/apps",
        Some(json!({"name": "Puzzle", "label": "Puzzle", "maxBuilds": 2})),
    );
    assert_eq!(status, 200, "{body}");

    publish(&west_be, &files, "Puzzle", &[1, 2]);
    let west_keys = |s3: &S3Server| {
        let mut keys = origin_keys(s3, &format!("dxf/{ORG}/Puzzle/"));
        keys.extend(origin_keys(s3, &format!("pat/{ORG}/Puzzle/")));
        keys
    };
    let west_before = west_keys(&s3);
    assert!(!west_before.is_empty());

    // East rotates build 1 out; its cleanup empties build 1's directories on the origin.
    publish(&east_be, &files, APP, &[1, 2, 3]);
    wait_for("east's build 1 to leave the origin", 60, || {
        origin_keys(&s3, &format!("dxf/{ORG}/{APP}/0001/")).is_empty()
    });
    assert_eq!(
        west_keys(&s3),
        west_before,
        "east's cleanup touched west's objects"
    );
    assert_published(&s3, &details(&east_be, APP));
    assert_published(&s3, &details(&west_be, "Puzzle"));

    // Deleting east's app removes its objects, and only those.
    let (status, body) = east_be.call(Method::DELETE, &format!("/be/v1/apps/{APP}"), None);
    assert_eq!(status, 200, "{body}");
    wait_for("east's app to leave the origin", 60, || {
        origin_keys(&s3, &format!("dxf/{ORG}/{APP}/")).is_empty()
            && origin_keys(&s3, &format!("pat/{ORG}/{APP}/")).is_empty()
    });
    assert_eq!(
        west_keys(&s3),
        west_before,
        "east's app deletion touched west's objects"
    );
    assert_published(&s3, &details(&west_be, "Puzzle"));
}
