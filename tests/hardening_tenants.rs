//! Tenant isolation: a deleted org leaves nothing a namesake could inherit, and login lockouts
//! of one org never reach another.

mod common;

use common::{
    Be, LOCAL_ORIGINS, Receiver, S3Server, Server, assert_error, create_org, login, wait_for,
};
use reqwest::Method;
use serde_json::{Value, json};

fn bearer<'a>(server: &'a Server, session: &Value) -> Be<'a> {
    Be::bearer(server, session["accessToken"].as_str().expect("token"))
}

fn total(be: &Be, path: &str) -> u64 {
    let (status, body) = be.call(Method::GET, path, None);
    assert_eq!(status, 200, "{path}: {body}");
    body["total"].as_u64().expect("total")
}

fn hello(server: &Server, org: &str) -> String {
    let (status, body) = server.admin(
        Method::POST,
        "/srv/v1/hello",
        Some(json!({"message": "hi", "orgName": org})),
    );
    assert_eq!(status, 200, "{body}");
    body["taskName"].as_str().expect("task").to_string()
}

#[test]
fn a_recreated_org_inherits_nothing_of_the_deleted_one() {
    let Some(s3) = S3Server::start() else { return };
    let server = Server::start_with(
        &[],
        &[
            ("ROCKIT_EDGE__WEBHOOKS__POLL_INTERVAL_MS", "100"),
            LOCAL_ORIGINS,
        ],
    );
    create_org(&server, "acme", "Passw0rd-old");
    let old_session = login(&server, "acme", "admin", "Passw0rd-old");
    let old = bearer(&server, &old_session);
    let deployment = json!({
        "name": "cdn", "label": "CDN",
        "origin": {"s3": {"hostname": s3.hostname(), "accessKey": s3.access_key, "secretKey": s3.secret_key, "location": "us-east-1", "bucket": "edge"}},
    });
    let (status, body) = old.call(Method::POST, "/be/v1/deployments", Some(deployment.clone()));
    assert_eq!(status, 200, "{body}");
    let old_hook = Receiver::start("{}");
    let subscription = json!({"name": "hooks", "url": old_hook.url("/old")});
    let (status, body) = old.call(Method::POST, "/be/v1/subscriptions", Some(subscription));
    assert_eq!(status, 200, "{body}");
    for (path, body) in [
        ("/be/v1/apps", json!({"name": "game", "label": "Game"})),
        (
            "/be/v1/roles",
            json!({"name": "viewers", "permissions": {"apps": 2}}),
        ),
        (
            "/be/v1/users",
            json!({"username": "ci", "label": "CI", "roles": ["viewers"]}),
        ),
    ] {
        let (status, answer) = old.call(Method::POST, path, Some(body));
        assert_eq!(status, 200, "{path}: {answer}");
    }
    let (_, machine) = old.call(Method::GET, "/be/v1/users/ci", None);
    assert_eq!(machine["user"]["type"], "machine", "{machine}");
    let (status, key) = old.call(
        Method::POST,
        "/be/v1/apikeys",
        Some(json!({"username": "ci"})),
    );
    assert_eq!(status, 200, "{key}");
    let old_key = key["apiKey"].as_str().expect("key").to_string();
    let task = hello(&server, "acme");
    server.wait_task(&task);
    wait_for("the old webhook to get the hello events", 30, || {
        old_hook.requests().len() >= 3
    });
    let depot_file = server.data_dir().join("depot/dxf/acme/game/0001/x/img.dxf");
    std::fs::create_dir_all(depot_file.parent().expect("dir")).expect("depot dir");
    std::fs::write(&depot_file, b"old image").expect("depot file");
    s3.put("dxf/acme/game/0001/x/img.dxf", b"old image");

    let (status, body) = server.admin(Method::DELETE, "/adm/v1/orgs/acme?prune=true", None);
    assert_eq!(status, 200, "{body}");
    let prune = body["taskName"].as_str().expect("prune task").to_string();
    let done = server.wait_task(&prune);
    assert_eq!(done["status"], "done", "{done}");
    let delivered_to_old = old_hook.requests().len();

    create_org(&server, "acme", "Passw0rd-new");
    let new_session = login(&server, "acme", "admin", "Passw0rd-new");
    let new = bearer(&server, &new_session);
    for path in [
        "/be/v1/deployments",
        "/be/v1/subscriptions",
        "/be/v1/tasks",
        "/be/v1/apps",
    ] {
        assert_eq!(total(&new, path), 0, "{path} of the new org is not empty");
    }
    assert_eq!(total(&new, "/be/v1/users"), 1, "only the new admin");
    assert_eq!(total(&new, "/be/v1/roles"), 1, "only Administrators");
    let (status, activities) = new.call(Method::GET, "/be/v1/activities?limit=1000", None);
    assert_eq!(status, 200, "{activities}");
    let inherited: Vec<&Value> = activities["activities"]
        .as_array()
        .expect("activities")
        .iter()
        .filter(|a| {
            a["target"]
                .as_str()
                .is_some_and(|t| t.contains("apikeys") || t.contains("deployments"))
        })
        .collect();
    assert!(inherited.is_empty(), "old audit entries: {inherited:?}");
    for (status, body) in [
        Be::bearer(&server, &old_key).call(Method::GET, "/be/v1/apps", None),
        old.call(Method::GET, "/be/v1/apps", None),
    ] {
        assert_eq!(status, 401, "an old credential still works: {body}");
    }
    assert!(
        !depot_file.exists(),
        "the old depot file survived the prune"
    );
    assert!(
        s3.keys("dxf/acme/").is_empty(),
        "the old origin files survived"
    );
    let (status, body) = new.call(Method::POST, "/be/v1/deployments", Some(deployment));
    assert_eq!(
        status, 200,
        "the old deployment name is still taken: {body}"
    );
    let new_hook = Receiver::start("{}");
    let subscription = json!({"name": "hooks", "url": new_hook.url("/new")});
    let (status, body) = new.call(Method::POST, "/be/v1/subscriptions", Some(subscription));
    assert_eq!(
        status, 200,
        "the old subscription name is still taken: {body}"
    );
    server.wait_task(&hello(&server, "acme"));
    wait_for("the new webhook to get the hello events", 30, || {
        new_hook.requests().len() >= 3
    });
    assert_eq!(
        old_hook.requests().len(),
        delivered_to_old,
        "the new org's events reached the old owner's webhook"
    );
}

#[test]
fn a_lockout_in_one_org_leaves_the_namesake_of_another_alone() {
    let server = Server::start();
    create_org(&server, "alpha", "Passw0rd-alpha");
    create_org(&server, "beta", "Passw0rd-beta");
    let anonymous = Be::anonymous(&server);
    let mut locked = false;
    for attempt in 0..12 {
        let (status, body) = anonymous.call(
            Method::POST,
            "/be/v1/login",
            Some(json!({"username": "admin", "password": format!("wrong-{attempt}"), "orgName": "alpha"})),
        );
        locked |= status == 429;
        assert!(status == 401 || status == 429, "{body}");
    }
    assert!(locked, "12 bad passwords did not lock alpha's admin out");
    let (status, body) = anonymous.call(
        Method::POST,
        "/be/v1/login",
        Some(json!({"username": "admin", "password": "Passw0rd-alpha", "orgName": "alpha"})),
    );
    assert_error(status, &body, 429, "rate-limited");
    login(&server, "beta", "admin", "Passw0rd-beta");
    let (status, body) = anonymous.call(
        Method::POST,
        "/be/v1/login",
        Some(json!({"username": "admin", "password": "Passw0rd-beta"})),
    );
    assert_eq!(status, 200, "{body}");
    let orgs: Vec<&str> = body["orgs"]
        .as_array()
        .expect("orgs")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert_eq!(orgs, ["beta"], "{body}");
}

#[test]
fn own_logins_do_not_reset_the_address_limit() {
    let server = Server::start_with(&[], &[("ROCKIT_EDGE__AUTH__MAX_FAILURES_PER_ADDRESS", "6")]);
    create_org(&server, "acme", "Passw0rd-acme");
    let anonymous = Be::anonymous(&server);
    let mut statuses = Vec::new();
    for attempt in 0..8 {
        let (status, body) = anonymous.call(
            Method::POST,
            "/be/v1/login",
            Some(json!({"username": format!("user{attempt}"), "password": "guess-guess", "orgName": "acme"})),
        );
        assert!(status == 401 || status == 429, "{body}");
        statuses.push(status);
        if attempt == 1 || attempt == 3 {
            login(&server, "acme", "admin", "Passw0rd-acme");
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        6,
        "the sixth failure from one address must lock it: {statuses:?}"
    );
    assert!(statuses[6..].iter().all(|s| *s == 429), "{statuses:?}");
}
