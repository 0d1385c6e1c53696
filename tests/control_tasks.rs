//! The tasks API: paging, filters, expiring, retrying.

mod common;

use common::{Be, Server, assert_error, create_org, login};
use reqwest::Method;
use serde_json::json;

fn hello(server: &Server, body: serde_json::Value) -> String {
    let (status, reply) = server.admin(Method::POST, "/srv/v1/hello", Some(body));
    assert_eq!(status, 200, "{reply}");
    reply["taskName"].as_str().expect("task").to_string()
}

#[test]
fn tasks_page_filter_expire_and_retry() {
    let server = Server::start();
    create_org(&server, "acme", "Passw0rd-acme");
    let session = login(&server, "acme", "admin", "Passw0rd-acme");
    let admin = Be::bearer(&server, session["accessToken"].as_str().expect("token"));
    let names: Vec<String> = (0..25)
        .map(|i| {
            hello(
                &server,
                json!({"message": format!("m{i}"), "orgName": "acme"}),
            )
        })
        .collect();
    hello(&server, json!({"message": "no org"}));
    for name in &names {
        server.wait_task(name);
    }

    let (status, page) = admin.call(Method::GET, "/be/v1/tasks?limit=10&offset=20", None);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 25, "only the org's tasks");
    assert_eq!(page["tasks"].as_array().expect("tasks").len(), 5);
    let (_, newest) = admin.call(Method::GET, "/be/v1/tasks?limit=1", None);
    assert_eq!(
        newest["tasks"][0]["name"],
        names[24].as_str(),
        "newest first by default"
    );
    let (_, oldest) = admin.call(Method::GET, "/be/v1/tasks?limit=1&order[]=created", None);
    assert_eq!(oldest["tasks"][0]["name"], names[0].as_str());
    let (_, done) = admin.call(
        Method::GET,
        "/be/v1/tasks?status=done&type=hello&limit=100",
        None,
    );
    assert_eq!(done["total"], 25);
    let (_, none) = admin.call(Method::GET, "/be/v1/tasks?status=failed", None);
    assert_eq!(none["total"], 0);
    let (_, after) = admin.call(
        Method::GET,
        "/be/v1/tasks?createdAfter=2999-01-01T00:00:00Z",
        None,
    );
    assert_eq!(after["total"], 0);
    let (status, body) = admin.call(Method::GET, "/be/v1/tasks?status=sleeping", None);
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = admin.call(Method::GET, "/be/v1/tasks?createdAfter=yesterday", None);
    assert_error(status, &body, 400, "invalid-param");

    let (status, details) = admin.call(Method::GET, &format!("/be/v1/tasks/{}", names[3]), None);
    assert_eq!(status, 200);
    assert_eq!(details["task"]["result"]["message"], "m3");

    let slow = hello(
        &server,
        json!({"message": "slow", "orgName": "acme", "delayMs": 60000}),
    );
    let (status, expired) = admin.call(
        Method::PATCH,
        "/be/v1/tasks",
        Some(json!({"name": slow, "expire": true})),
    );
    assert_eq!(status, 200, "{expired}");
    assert_eq!(expired["task"]["status"], "expired");
    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/tasks",
        Some(json!({"name": slow, "expire": true})),
    );
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/tasks",
        Some(json!({"name": slow, "acknowledge": [7]})),
    );
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = admin.call(Method::PATCH, "/be/v1/tasks", Some(json!({"name": slow})));
    assert_error(status, &body, 400, "missing-param");

    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/trigger",
        Some(json!({"type": "retry", "taskName": names[0]})),
    );
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/trigger",
        Some(json!({"type": "retry"})),
    );
    assert_error(status, &body, 400, "missing-param");
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/trigger",
        Some(json!({"type": "reboot"})),
    );
    assert_error(status, &body, 400, "invalid-param");
    let (status, retried) = admin.call(
        Method::POST,
        "/be/v1/trigger",
        Some(json!({"type": "retry", "taskName": slow})),
    );
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["task"]["status"], "submitted");
    let (status, _) = admin.call(
        Method::PATCH,
        "/be/v1/tasks",
        Some(json!({"name": slow, "expire": true})),
    );
    assert_eq!(
        status, 200,
        "an expired-then-retried task can be expired again"
    );
}
