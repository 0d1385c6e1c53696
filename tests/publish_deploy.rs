//! Publishing to a real S3 server (s3s-fs, which checks every SigV4 signature and
//! Content-MD5): processed builds reach every deployment at the documented keys, exactly, and
//! a client no one here wrote (boto3) lists and downloads them.

mod common;
mod common_builds;
mod common_engine;
mod common_publish;

use common::{Be, Receiver};
use common_builds::*;
use common_engine::python;
use common_publish::*;
use reqwest::Method;
use serde_json::json;

#[test]
fn two_builds_reach_the_origin_at_their_keys_and_boto3_reads_them() {
    let Some(scene) = Scene::start(&publishing_env()) else {
        return;
    };
    let (s3, files, be) = (&scene.s3, &scene.files, scene.be());
    create_deployment(&be, deployment_body("cdn", s3, PREFIX, None));
    create_app(&be, json!({"maxBuilds": 2}));

    for (version, deploys) in [(1, 1), (2, 2), (3, 3)] {
        let started = import(
            &be,
            json!({"appName": APP, "url": files.url(&format!("v{version}.tar"))}),
        );
        let done = wait_import(&be, started["taskName"].as_str().expect("task"));
        assert_eq!(done["status"], "done", "{done}");
        let tasks = wait_deploys(&be, deploys);
        let deploy = &tasks[0];
        assert_eq!(deploy["status"], "done", "{deploy}");
        assert_eq!(
            deploy["group"], done["group"],
            "the deploy follows its build"
        );
        assert_eq!(deploy["result"]["buildId"], version);
        assert_eq!(deploy["result"]["objectsPresent"], 0, "{deploy}");
        assert_eq!(deploy["result"]["deployment"], "cdn");
    }

    let app = app_details(&be);
    assert_eq!(app["deployed"], json!(["cdn"]), "{app}");
    assert_eq!(app["state"], "idle");
    assert_eq!(app["error"], json!(null));
    let published = published_files(&app);
    assert_eq!(published.len(), 4 + 6, "an image and one patch");
    for (key, size, md5) in &published {
        let bytes = object(s3, key);
        assert_eq!(bytes.len() as u64, *size, "{key}");
        assert_eq!(&md5_hex(&bytes), md5, "{key}");
    }
    // The image (over 5 MiB) went as a multipart upload: its ETag says so.
    let image = published
        .iter()
        .find(|(k, ..)| k.ends_with("/img.dxf"))
        .expect("image");
    assert!(image.1 > 5 << 20, "the test image must need two parts");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (head, _) = runtime
        .block_on(s3.bucket().head_object(&image.0))
        .expect("head image");
    assert!(
        head.e_tag
            .as_deref()
            .unwrap_or("")
            .trim_matches('"')
            .ends_with("-2"),
        "{:?}",
        head.e_tag
    );

    // Build 3 rotated build 1 out: its image and the patch from it to build 2 stay for the
    // grace period (2 s here), then the origin holds what the app lists and build 2's image
    // (retained, as on the depot).
    let retained = origin_keys(s3, &format!("dxf/{ORG}/{APP}/0002/"));
    assert_eq!(retained.len(), 4, "{retained:?}");
    let mut expected: Vec<String> = published.iter().map(|(k, ..)| k.clone()).collect();
    expected.extend(retained);
    expected.sort();
    common::wait_for("build 1's files to leave the origin", 30, || {
        origin_keys(s3, "") == expected
    });

    // boto3 lists the prefix and downloads the image and a patch file with the origin's keys.
    let check = published
        .iter()
        .map(|(key, size, md5)| format!("({key:?}, {size}, {md5:?})"))
        .collect::<Vec<_>>()
        .join(", ");
    python(&format!(
        r#"
import boto3, hashlib
s3 = boto3.client("s3", endpoint_url={endpoint:?}, region_name="us-east-1",
                  aws_access_key_id={access:?}, aws_secret_access_key={secret:?})
listed = set()
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="edge", Prefix={prefix:?}):
    listed.update(o["Key"] for o in page.get("Contents", []))
for key, size, md5 in [{check}]:
    assert key in listed, key
    body = s3.get_object(Bucket="edge", Key=key)["Body"].read()
    assert len(body) == size and hashlib.md5(body).hexdigest() == md5, key
"#,
        endpoint = s3.hostname(),
        access = s3.access_key,
        secret = s3.secret_key,
        prefix = format!("{PREFIX}/"),
    ));

    // Exported again, the deploy finds everything in place and sends nothing.
    let (status, body) = be.call(Method::POST, "/be/v1/export", Some(json!({"appName": APP})));
    assert_eq!(status, 200, "{body}");
    let tasks = wait_deploys(&be, 4);
    assert_eq!(tasks[0]["status"], "done", "{}", tasks[0]);
    assert_eq!(tasks[0]["result"]["bytesSent"], 0, "{}", tasks[0]);
    assert_eq!(tasks[0]["result"]["objectsPresent"], 10, "{}", tasks[0]);
}

#[test]
fn an_origin_down_puts_the_app_in_error_until_a_retry_succeeds() {
    let mut env = publishing_env();
    env.extend([
        ("ROCKIT_EDGE__WEBHOOKS__POLL_INTERVAL_MS", "100"),
        ("ROCKIT_EDGE__WEBHOOKS__MAX_BACKOFF_SECS", "1"),
    ]);
    let Some(mut scene) = Scene::start(&env) else {
        return;
    };
    let be = Be::bearer(&scene.server, &scene.key);
    let (s3, files) = (&mut scene.s3, &scene.files);
    let hooks = Receiver::start(r#"{"ok":true}"#);
    let (status, body) = be.call(
        Method::POST,
        "/be/v1/subscriptions",
        Some(json!({"name": "hook", "url": hooks.url("/hook"), "events": ["deploy.error", "deploy.end"]})),
    );
    assert_eq!(status, 200, "{body}");
    create_deployment(&be, deployment_body("cdn", s3, PREFIX, None));
    create_app(&be, json!({}));

    s3.down();
    let started = import(&be, json!({"appName": APP, "url": files.url("v1.tar")}));
    let done = wait_import(&be, started["taskName"].as_str().expect("task"));
    assert_eq!(done["status"], "done", "{done}");
    let failed = wait_deploys(&be, 1).remove(0);
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(
        failed["exception"]["error"]["deployment"], "cdn",
        "{failed}"
    );
    let message = failed["exception"]["error"]["message"]
        .as_str()
        .expect("message");
    assert!(message.contains("cannot be reached"), "{message}");

    let app = app_details(&be);
    assert_eq!(app["state"], "error", "{app}");
    assert_eq!(app["error"]["taskName"], failed["name"]);
    assert_eq!(app["error"]["type"], "deploy");
    assert_eq!(app["error"]["exception"], failed["exception"]);
    assert_eq!(app["deployed"], json!([]));
    assert_eq!(
        app["iCurBuild"], 1,
        "the build itself is current on the depot"
    );
    let (status, body) = be.call(Method::GET, "/be/v1/deployments/cdn", None);
    assert_eq!(status, 200);
    assert_eq!(body["deployment"]["status"], "error", "{body}");

    let (status, body) = be.call(
        Method::POST,
        "/be/v1/builds",
        Some(json!({"appName": APP, "url": files.url("v2.tar")})),
    );
    common::assert_error(status, &body, 409, "app-locked");
    assert!(
        body["message"].as_str().unwrap_or("").contains("retry"),
        "{body}"
    );

    s3.up();
    let (status, body) = be.call(
        Method::POST,
        "/be/v1/trigger",
        Some(json!({"type": "retry", "taskName": failed["name"]})),
    );
    assert_eq!(status, 200, "{body}");
    common::wait_for("the retried deploy", 60, || {
        let tasks = tasks_of(&be, "deploy");
        tasks[0]["status"] == "done"
    });
    let app = app_details(&be);
    assert_eq!(app["state"], "idle", "{app}");
    assert_eq!(app["error"], json!(null));
    assert_eq!(app["deployed"], json!(["cdn"]));
    let (_, body) = be.call(Method::GET, "/be/v1/deployments/cdn", None);
    assert_eq!(body["deployment"]["status"], "ok", "{body}");
    for (key, _, md5) in published_files(&app) {
        assert_eq!(md5_hex(&object(s3, &key)), md5, "{key}");
    }
    let started = import(&be, json!({"appName": APP, "url": files.url("v2.tar")}));
    assert!(started["taskName"].is_string(), "builds are accepted again");

    let mut events = Vec::new();
    common::wait_for("deploy.error and deploy.end webhooks", 30, || {
        events = hooks
            .requests()
            .iter()
            .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).expect("json"))
            .collect();
        events.iter().any(|e| e["event"] == "end")
    });
    assert_eq!(events[0]["type"], "deploy");
    assert_eq!(events[0]["event"], "error");
    assert_eq!(events[0]["exception"], failed["exception"]);
    assert_eq!(
        events[0]["deployment"],
        json!({"name": "cdn", "label": "cdn origin"})
    );
    let end = events.iter().find(|e| e["event"] == "end").expect("end");
    assert_eq!(end["taskName"], failed["name"]);
    assert_eq!(end["buildId"], 1);
    assert_eq!(end["dxfName"], app["dxfName"]);
}

#[test]
fn deleting_a_deployment_empties_its_org_prefix_and_leaves_other_orgs() {
    let Some(scene) = Scene::start(&publishing_env()) else {
        return;
    };
    let (s3, files, be) = (&scene.s3, &scene.files, scene.be());
    create_deployment(&be, deployment_body("cdn", s3, PREFIX, None));
    create_deployment(&be, deployment_body("other", s3, "elsewhere", None));
    create_app(&be, json!({"deployments": ["cdn", "other"]}));
    let other = format!("{PREFIX}/dxf/rival/Game/0001/abc/app.json");
    s3.put(&other, b"another org's file");

    let started = import(&be, json!({"appName": APP, "url": files.url("v1.tar")}));
    wait_import(&be, started["taskName"].as_str().expect("task"));
    let deploys = wait_deploys(&be, 2);
    assert!(deploys.iter().all(|t| t["status"] == "done"), "{deploys:?}");
    assert_eq!(origin_keys(s3, &format!("dxf/{ORG}/")).len(), 4);

    let (status, body) = be.call(Method::DELETE, "/be/v1/deployments/cdn", None);
    common::assert_error(status, &body, 409, "item-protected");

    // Moving a deployment (here its prefix) publishes the current build at the new place and
    // leaves the old place alone.
    let (status, body) = be.call(
        Method::PATCH,
        "/be/v1/deployments",
        Some(json!({"name": "other", "origin": {"s3": {"prefix": "moved"}}})),
    );
    assert_eq!(status, 200, "{body}");
    let deploys = wait_deploys(&be, 3);
    assert_eq!(deploys[0]["status"], "done", "{}", deploys[0]);
    assert_eq!(deploys[0]["result"]["deployment"], "other");
    assert_eq!(s3.keys(&format!("moved/dxf/{ORG}/")).len(), 4);
    assert_eq!(s3.keys(&format!("elsewhere/dxf/{ORG}/")).len(), 4);
    assert_eq!(app_details(&be)["deployed"], json!(["cdn", "other"]));

    let (status, body) = be.call(
        Method::PATCH,
        "/be/v1/apps",
        Some(json!({"name": APP, "deregister": ["cdn"]})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["app"]["deployed"],
        json!(["other"]),
        "deregistered: no longer deployed"
    );
    assert_eq!(
        origin_keys(s3, &format!("dxf/{ORG}/")).len(),
        4,
        "its files stay"
    );
    let (status, body) = be.call(Method::DELETE, "/be/v1/deployments/cdn", None);
    assert_eq!(status, 200, "{body}");
    common::wait_for("the deployment's files to go", 60, || {
        origin_keys(s3, &format!("dxf/{ORG}/")).is_empty()
            && origin_keys(s3, &format!("pat/{ORG}/")).is_empty()
    });
    assert_eq!(origin_keys(s3, "dxf/rival/"), [other]);
}
