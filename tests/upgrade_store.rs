//! A store written by the previous release (tests/fixtures/README.md) works after the upgrade:
//! its task records load, its interrupted tasks resume, its failed ones can be retried.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Be, Server, login};
use reqwest::Method;
use serde_json::{Value, json};

const DONE_HELLO: &str = "01a236d0-841a-748c-be5b-8338323ec661";
const APP_CLEANUP: &str = "01a236d0-8813-7270-9416-d257be11c0db";
const DEPLOYMENT_CLEANUP: &str = "01a236d0-881f-7459-8383-8b830d739ce3";
const ORG_PRUNE: &str = "01a236d0-9006-73a7-84f6-6fae9fdcebdf";
const RUNNING_INSTANCE_HELLO: &str = "01a236d0-97e7-73c6-a487-c21f7e7cbbc1";
const RUNNING_ORG_HELLO: &str = "01a236d0-97f2-7360-a768-420f997e5687";
const SUBMITTED_HELLO: &str = "01a236d0-abe7-7794-a027-089e65c36921";

fn unpack_schema4(data_dir: &Path) {
    std::fs::create_dir_all(data_dir).expect("data dir");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-schema4.tar.gz");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&fixture)
        .arg("-C")
        .arg(data_dir)
        .status()
        .expect("run tar");
    assert!(status.success(), "cannot unpack {}", fixture.display());
}

fn task(server: &Server, name: &str) -> Value {
    let (status, body) = server.admin(Method::GET, &format!("/adm/v1/tasks/{name}"), None);
    assert_eq!(status, 200, "{name}: {body}");
    body["task"].clone()
}

#[test]
fn task_records_of_the_previous_release_load_resume_and_retry() {
    let server = Server::start_on(unpack_schema4, &[], &[("ROCKIT_EDGE__JOBS__WORKERS", "4")]);

    let done = task(&server, DONE_HELLO);
    assert_eq!(done["type"], "hello", "{done}");
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["result"]["message"], "done one", "{done}");

    let app_cleanup = task(&server, APP_CLEANUP);
    assert_eq!(app_cleanup["type"], "cleanup");
    assert_eq!(app_cleanup["appName"], "Old");
    assert_eq!(app_cleanup["status"], "failed");
    assert_eq!(app_cleanup["exception"]["error"]["deployment"], "cdn");
    let deployment_cleanup = task(&server, DEPLOYMENT_CLEANUP);
    assert_eq!(deployment_cleanup["status"], "failed");
    assert_eq!(
        deployment_cleanup["exception"]["error"]["deployment"],
        "cdn2"
    );
    let prune = task(&server, ORG_PRUNE);
    assert_eq!(prune["type"], "cleanup");
    assert_eq!(prune["orgName"], Value::Null);
    assert_eq!(prune["status"], "done", "{prune}");

    // The task left submitted runs; the ones left running resume where they were.
    let submitted = server.wait_task(SUBMITTED_HELLO);
    assert_eq!(submitted["status"], "done", "{submitted}");
    assert_eq!(submitted["result"]["message"], "left submitted");
    for name in [RUNNING_INSTANCE_HELLO, RUNNING_ORG_HELLO] {
        let running = task(&server, name);
        assert_eq!(running["status"], "running", "{running}");
        assert!(running["resumed"].as_u64() >= Some(1), "{running}");
    }

    // The old records are fully usable through the org's API: list, expire, retry.
    let session = login(&server, "Acme", "admin", "Passw0rd-acme");
    let acme = Be::bearer(&server, session["accessToken"].as_str().expect("token"));
    let (status, listed) = acme.call(Method::GET, "/be/v1/tasks?limit=100", None);
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["total"], 4, "{listed}");
    let (status, expired) = acme.call(
        Method::PATCH,
        "/be/v1/tasks",
        Some(json!({"name": RUNNING_ORG_HELLO, "expire": true})),
    );
    assert_eq!(status, 200, "{expired}");
    assert_eq!(server.wait_task(RUNNING_ORG_HELLO)["status"], "expired");

    let (status, retried) = acme.call(
        Method::POST,
        "/be/v1/trigger",
        Some(json!({"type": "retry", "taskName": APP_CLEANUP})),
    );
    assert_eq!(status, 200, "{retried}");
    let again = server.wait_task(APP_CLEANUP);
    assert_eq!(again["status"], "failed", "{again}");
    assert_eq!(again["attempts"], 2, "{again}");
    assert_eq!(
        again["exception"]["error"]["deployment"], "cdn",
        "the retried cleanup read its old parameters: {again}"
    );

    let (status, versions) = server.admin(Method::GET, "/srv/v1/versions", None);
    assert_eq!(status, 200, "{versions}");
    assert_eq!(
        versions["versions"]["storeSchema"],
        rockit_edge::store::SCHEMA_VERSION,
        "the store was migrated: {versions}"
    );
}
