//! Webhook and Slack delivery: order, signatures (checked with the documented snippet),
//! outages, the maximum age.

mod common;

use std::collections::BTreeSet;

use common::{Be, Receiver, Server, assert_error, create_org, login, wait_for};
use reqwest::Method;
use serde_json::{Value, json};

const FAST: [(&str, &str); 2] = [
    ("ROCKIT_EDGE__WEBHOOKS__POLL_INTERVAL_MS", "100"),
    ("ROCKIT_EDGE__WEBHOOKS__MAX_BACKOFF_SECS", "1"),
];

fn admin_of(server: &Server) -> Be<'_> {
    create_org(server, "acme", "Passw0rd-acme");
    let session = login(server, "acme", "admin", "Passw0rd-acme");
    Be::bearer(server, session["accessToken"].as_str().expect("token"))
}

fn hello(server: &Server, message: &str) -> String {
    let (status, body) = server.admin(
        Method::POST,
        "/srv/v1/hello",
        Some(json!({"message": message, "orgName": "acme"})),
    );
    assert_eq!(status, 200, "{body}");
    body["taskName"].as_str().expect("task").to_string()
}

fn bodies(receiver: &Receiver) -> Vec<Value> {
    receiver
        .requests()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("JSON body"))
        .collect()
}

/// The Python verification snippet of docs/WEBHOOKS.md.
fn documented_verifier() -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/WEBHOOKS.md"))
        .expect("doc");
    let start = doc.find("```python\n").expect("python block") + "```python\n".len();
    let end = start + doc[start..].find("```").expect("block end");
    doc[start..end].to_string()
}

fn verify(secret: &str, request: &common::Received) -> std::process::Output {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("verify.py"), documented_verifier()).expect("write");
    std::fs::write(
        dir.path().join("token"),
        &request.headers["x-rockit-subscriptions"],
    )
    .expect("write");
    std::fs::write(dir.path().join("body"), &request.body).expect("write");
    std::process::Command::new("python3")
        .arg(dir.path().join("verify.py"))
        .arg(secret)
        .arg(dir.path().join("token"))
        .arg(dir.path().join("body"))
        .output()
        .expect("python3")
}

#[test]
fn a_webhook_gets_submit_begin_end_in_order_with_a_verifiable_signature() {
    let server = Server::start_with(&[], &FAST);
    let admin = admin_of(&server);
    let receiver = Receiver::start("{}");
    let (status, created) = admin.call(
        Method::POST,
        "/be/v1/subscriptions",
        Some(json!({"name": "hook", "url": receiver.url("/hook")})),
    );
    assert_eq!(status, 200, "{created}");
    let secret = created["secret"]
        .as_str()
        .expect("secret shown once")
        .to_string();
    let (_, shown) = admin.call(Method::GET, "/be/v1/subscriptions/hook", None);
    assert!(
        !shown.to_string().contains(&secret),
        "the secret is shown only once"
    );

    let task = hello(&server, "ping");
    wait_for("three events", 30, || bodies(&receiver).len() >= 3);
    let got = bodies(&receiver);
    let events: Vec<_> = got
        .iter()
        .map(|b| b["event"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(events, ["submit", "begin", "end"]);
    for body in &got {
        assert_eq!(body["taskName"], task.as_str());
        assert_eq!(body["type"], "hello");
        assert_eq!(body["orgName"], "acme");
        for key in [
            "id",
            "appName",
            "buildName",
            "buildId",
            "dxfName",
            "timestamp",
            "deployment",
            "exception",
        ] {
            assert!(body.get(key).is_some(), "{key} missing in {body}");
        }
    }
    let ids: Vec<u64> = got.iter().map(|b| b["id"].as_u64().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let request = &receiver.requests()[2];
    assert_eq!(request.path, "/hook");
    assert_eq!(request.headers["content-type"], "application/json");
    let out = verify(&secret, request);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("valid {}", ids[2])
    );
    let out = verify("not-the-secret", request);
    assert!(
        !out.status.success(),
        "a wrong secret must fail verification"
    );
}

#[test]
fn events_survive_a_receiver_outage_in_order_without_loss() {
    let server = Server::start_with(&[], &FAST);
    let admin = admin_of(&server);
    let mut receiver = Receiver::start("{}");
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/subscriptions",
        Some(json!({"name": "hook", "url": receiver.url("/?token=hook-secret-in-url"), "events": ["hello.submit", "hello.begin", "hello.end"]})),
    );
    assert_eq!(status, 200, "{body}");
    receiver.down();
    let tasks: Vec<String> = (0..3)
        .map(|i| hello(&server, &format!("during outage {i}")))
        .collect();
    wait_for("failed deliveries", 30, || {
        let (_, sub) = admin.call(Method::GET, "/be/v1/subscriptions/hook", None);
        sub["subscription"]["failing"].as_u64().unwrap_or(0) > 0
    });
    let (_, sub) = admin.call(Method::GET, "/be/v1/subscriptions/hook", None);
    assert!(
        sub["subscription"]["lastError"]["message"].is_string(),
        "{sub}"
    );
    assert!(
        !sub.to_string().contains("hook-secret-in-url") && sub.to_string().contains("********"),
        "the URL's query string is masked: {sub}"
    );
    assert!(
        !server.log().contains("hook-secret-in-url"),
        "the server logged a URL's secret"
    );
    receiver.up();
    wait_for("nine events", 30, || {
        let unique: BTreeSet<u64> = bodies(&receiver)
            .iter()
            .filter_map(|b| b["id"].as_u64())
            .collect();
        unique.len() >= 9
    });
    let got = bodies(&receiver);
    let ids: Vec<u64> = got.iter().map(|b| b["id"].as_u64().expect("id")).collect();
    let mut seen = BTreeSet::new();
    for id in &ids {
        if seen.insert(*id) {
            assert!(
                seen.iter().all(|s| s <= id),
                "first deliveries are in order: {ids:?}"
            );
        }
    }
    for task in &tasks {
        let events: Vec<_> = got
            .iter()
            .filter(|b| b["taskName"] == task.as_str())
            .map(|b| b["event"].as_str().unwrap_or("").to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(
            events,
            ["begin", "end", "submit"],
            "every event of {task} arrived"
        );
    }
    let (_, sub) = admin.call(Method::GET, "/be/v1/subscriptions/hook", None);
    assert_eq!(sub["subscription"]["failing"], 0, "{sub}");
    assert_eq!(sub["subscription"]["dropped"], 0, "{sub}");
}

#[test]
fn events_older_than_the_maximum_age_are_dropped_and_recorded() {
    let mut env = FAST.to_vec();
    env.push(("ROCKIT_EDGE__WEBHOOKS__MAX_AGE_SECS", "1"));
    let server = Server::start_with(&[], &env);
    let admin = admin_of(&server);
    let body = json!({"name": "dead", "url": "http://127.0.0.1:9/nobody-listens"});
    let (status, _) = admin.call(Method::POST, "/be/v1/subscriptions", Some(body));
    assert_eq!(status, 200);
    hello(&server, "into the void");
    wait_for("dropped events", 30, || {
        let (_, sub) = admin.call(Method::GET, "/be/v1/subscriptions/dead", None);
        sub["subscription"]["dropped"].as_u64().unwrap_or(0) >= 3
    });
    let (_, sub) = admin.call(Method::GET, "/be/v1/subscriptions/dead", None);
    let message = sub["subscription"]["lastError"]["message"]
        .as_str()
        .unwrap_or("");
    assert!(message.contains("dropped after the maximum age"), "{sub}");
}

#[test]
fn slack_gets_a_readable_message_with_the_bot_token() {
    let server = Server::start_with(&[], &FAST);
    let admin = admin_of(&server);
    let slack = Receiver::start(r#"{"ok":true}"#);
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/subscriptions",
        Some(json!({"name": "chat", "slack": {"channel": "#builds", "token": "xoxb-secret-token", "apiUrl": slack.url("/api/chat.postMessage")}, "events": ["hello.end"]})),
    );
    assert_eq!(status, 200, "{body}");
    let (_, shown) = admin.call(Method::GET, "/be/v1/subscriptions/chat", None);
    assert_eq!(shown["subscription"]["slack"]["token"], "********");
    let task = hello(&server, "to slack");
    wait_for("a slack message", 30, || !slack.requests().is_empty());
    let request = &slack.requests()[0];
    assert_eq!(request.headers["authorization"], "Bearer xoxb-secret-token");
    let message: Value = serde_json::from_slice(&request.body).expect("json");
    assert_eq!(message["channel"], "#builds");
    let text = message["text"].as_str().expect("text");
    assert!(
        text.contains("hello.end") && text.contains(&task) && text.contains("acme"),
        "{text}"
    );
}

#[test]
fn subscriptions_are_validated_listed_and_deleted() {
    let server = Server::start();
    let admin = admin_of(&server);
    for bad in [
        json!({"name": "x1", "url": "ftp://example.test/"}),
        json!({"name": "x1", "url": "http://a/", "events": ["deploy.finish"]}),
        json!({"name": "x1", "url": "http://a/", "slack": {"channel": "c", "token": "t"}}),
    ] {
        let (status, body) = admin.call(Method::POST, "/be/v1/subscriptions", Some(bad));
        assert_error(status, &body, 400, "invalid-param");
    }
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/subscriptions",
        Some(json!({"name": "x1"})),
    );
    assert_error(status, &body, 400, "missing-param");
    for name in ["alpha", "beta", "gamma"] {
        let (status, _) = admin.call(
            Method::POST,
            "/be/v1/subscriptions",
            Some(json!({"name": name, "url": "http://127.0.0.1:9/"})),
        );
        assert_eq!(status, 200);
    }
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/subscriptions",
        Some(json!({"name": "Alpha", "url": "http://127.0.0.1:9/"})),
    );
    assert_error(status, &body, 409, "item-exists");
    let (_, list) = admin.call(Method::GET, "/be/v1/subscriptions?order[]=-name", None);
    let names: Vec<_> = list["subscriptions"]
        .as_array()
        .expect("list")
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(names, [json!("gamma"), json!("beta"), json!("alpha")]);
    let (status, _) = admin.call(Method::DELETE, "/be/v1/subscriptions/beta", None);
    assert_eq!(status, 200);
    let (status, body) = admin.call(Method::GET, "/be/v1/subscriptions/beta", None);
    assert_error(status, &body, 404, "not-found");
}
