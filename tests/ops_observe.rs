//! What an operator watches: `GET /metrics` (Prometheus text that `promtool` accepts, counters
//! that move with traffic, reachable only from allowed addresses or with the admin token) and
//! one log line per request with the id the response carries in `x-request-id`.

mod common;
mod common_builds;
mod common_engine;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Be, Receiver, Server, assert_error, json_response, wait_for};
use common_builds::*;
use reqwest::Method;
use serde_json::{Value, json};

/// The value of the sample `series` (name and labels exactly as exposed), 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.parse().expect("a number"))
}

fn scrape(server: &Server) -> String {
    let response = reqwest::blocking::get(server.http_url("/metrics")).expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("text")
        .to_string();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.text().expect("body")
}

/// `promtool check metrics` on the exposition; under CI its absence fails.
fn promtool_accepts(text: &str) {
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        assert!(
            !common::in_ci(),
            "promtool is missing (Debian package prometheus)"
        );
        eprintln!("SKIPPED: promtool is missing (Debian package prometheus)");
        return;
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn metrics_are_prometheus_text_and_count_requests_builds_tasks_and_failures() {
    let mut env = ENV.to_vec();
    env.extend([
        common::LOCAL_ORIGINS,
        ("ROCKIT_EDGE__ORIGINS__RETRIES", "0"),
        ("ROCKIT_EDGE__WEBHOOKS__POLL_INTERVAL_MS", "100"),
        ("ROCKIT_EDGE__WEBHOOKS__MAX_BACKOFF_SECS", "1"),
    ]);
    let server = Server::start_with(&[], &env);
    let before = scrape(&server);
    promtool_accepts(&before);
    assert_eq!(
        sample(
            &before,
            r#"rockit_edge_build_info{version="0.1.0",store_schema="7",image_format="2",patch_format="3"}"#
        )
        .to_string(),
        "1"
    );
    let healthz = r#"rockit_edge_http_requests_total{method="GET",route="/healthz",status="200"}"#;
    assert_eq!(sample(&before, healthz), 0.0);
    for _ in 0..3 {
        let response = reqwest::blocking::get(server.http_url("/healthz")).expect("healthz");
        assert_eq!(response.status(), 200);
    }
    let missing = reqwest::blocking::get(server.http_url("/no/such/route")).expect("404");
    assert_eq!(missing.status(), 404);

    // A build by upload: bytes imported, processed into an image, published to the depot.
    let key = publisher(&server);
    let be = Be::bearer(&server, &key);
    let work = tempfile::tempdir().expect("tempdir");
    let tars = game_versions(work.path());
    // A webhook that answers, one whose receiver is gone, and an origin no one listens on.
    let receiver = Receiver::start("{}");
    let mut gone = Receiver::start("{}");
    gone.down();
    for (name, url) in [("hook", receiver.url("/hook")), ("gone", gone.url("/hook"))] {
        let (status, body) = be.call(
            Method::POST,
            "/be/v1/subscriptions",
            Some(json!({"name": name, "url": url})),
        );
        assert_eq!(status, 200, "{body}");
    }
    let dead_origin = json!({
        "name": "dead", "label": "dead",
        "origin": {"s3": {"hostname": format!("http://127.0.0.1:{}", gone.port), "accessKey": "a",
                          "secretKey": "b", "location": "us-east-1", "bucket": "edge", "prefix": "x"}},
    });
    let (status, body) = be.call(Method::POST, "/be/v1/deployments", Some(dead_origin));
    assert_eq!(status, 200, "{body}");
    create_app(&be, json!({}));
    let started = import(&be, json!({"appName": APP, "buildName": "1.0"}));
    let size = std::fs::metadata(&tars[0]).expect("tar").len();
    upload_in_two(
        &server,
        started["uploadUrl"].as_str().expect("url"),
        &tars[0],
        1000,
    );
    let done = wait_import(&be, started["taskName"].as_str().expect("task"));
    assert_eq!(done["status"], "done", "{done}");

    let mut after = String::new();
    wait_for(
        "a delivery, a failed delivery and an origin error",
        60,
        || {
            after = scrape(&server);
            sample(&after, "rockit_edge_webhook_deliveries_total") >= 1.0
                && sample(&after, "rockit_edge_webhook_failures_total") >= 1.0
                && sample(&after, "rockit_edge_origin_errors_total") >= 1.0
        },
    );
    promtool_accepts(&after);
    assert_eq!(sample(&after, healthz), 3.0, "{after}");
    assert!(!receiver.received.lock().expect("lock").is_empty());
    let histogram_count =
        r#"rockit_edge_http_request_duration_seconds_count{method="GET",route="/healthz"}"#;
    assert_eq!(sample(&after, histogram_count), 3.0);
    assert_eq!(
        sample(
            &after,
            r#"rockit_edge_http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        1.0
    );
    assert!(sample(&after, "rockit_edge_bytes_imported_total") >= size as f64);
    assert!(sample(&after, "rockit_edge_bytes_processed_total") >= size as f64);
    assert!(sample(&after, "rockit_edge_bytes_published_total") > 0.0);
    assert_eq!(
        sample(&after, r#"rockit_edge_tasks{type="mkraw",state="done"}"#),
        1.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, r#"rockit_edge_tasks{type="upload",state="done"}"#),
        1.0
    );
    // The org's first hello, the upload and the mkraw ran; nothing waits.
    assert!(after.contains("\nrockit_edge_queue_depth "));
    assert!(!after.contains("/1.0"), "no build names or paths in labels");
}

#[test]
fn metrics_need_an_allowed_address_or_the_admin_token() {
    let server = Server::start_with(&[], &[("ROCKIT_EDGE__METRICS__ALLOW_FROM", "[]")]);
    let (status, body) =
        json_response(reqwest::blocking::get(server.http_url("/metrics")).expect("metrics"));
    assert_error(status, &body, 401, "unauthorized");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("metrics.allow_from")),
        "{body}"
    );

    let token = server.admin_token("prometheus");
    let client = reqwest::blocking::Client::new();
    let with_header = client
        .get(server.http_url("/metrics"))
        .header("x-rockit-admin-token", &token)
        .send()
        .expect("metrics");
    assert_eq!(with_header.status(), 200);
    let bearer = client
        .get(server.http_url("/metrics"))
        .bearer_auth(&token)
        .send()
        .expect("metrics");
    assert_eq!(bearer.status(), 200);
    let forged = client
        .get(server.http_url("/metrics"))
        .bearer_auth(format!("{token}x"))
        .send()
        .expect("metrics");
    let (status, body) = json_response(forged);
    assert_eq!(status, 401, "{body}");

    let networks = Server::start_with(
        &[],
        &[("ROCKIT_EDGE__METRICS__ALLOW_FROM", r#"["127.0.0.0/8"]"#)],
    );
    let open = reqwest::blocking::get(networks.http_url("/metrics")).expect("metrics");
    assert_eq!(open.status(), 200);
}

#[test]
fn every_request_gets_an_id_and_one_log_line_without_its_query() {
    let server = Server::start();
    let client = reqwest::blocking::Client::new();
    let fresh = client
        .get(server.http_url("/healthz"))
        .send()
        .expect("healthz");
    let id = fresh.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    assert_eq!(id.len(), 32, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");

    let kept = client
        .get(server.http_url("/depot/dxf/x/img.dxf?md5=SECRETSIG&expires=1"))
        .header("x-request-id", "edge-proxy.42")
        .send()
        .expect("depot");
    assert_eq!(kept.headers()["x-request-id"], "edge-proxy.42");
    let replaced = client
        .get(server.http_url("/healthz"))
        .header("x-request-id", "has space")
        .send()
        .expect("healthz");
    assert_ne!(replaced.headers()["x-request-id"], "has space");

    let line = |id: &str| {
        let mut found = None;
        wait_for("the request's log line", 10, || {
            found = server
                .log()
                .lines()
                .find(|l| l.contains(&format!("id={id} ")) && l.contains("rockit_edge::request"))
                .map(str::to_string);
            found.is_some()
        });
        found.unwrap_or_default()
    };
    let depot = line("edge-proxy.42");
    for part in [
        "method=GET",
        "path=/depot/dxf/x/img.dxf",
        "route=/depot/{path:.*}",
        "status=403",
        "client=127.0.0.1",
    ] {
        assert!(depot.contains(part), "{part} missing: {depot}");
    }
    assert!(
        !server.log().contains("SECRETSIG"),
        "a query string was logged"
    );
    assert!(line(&id).contains("status=200"));
}

#[test]
fn json_log_lines_carry_the_same_fields() {
    let server = Server::start_with(&["--log-format", "json"], &[]);
    let response = reqwest::blocking::Client::new()
        .get(server.http_url("/healthz"))
        .header("x-request-id", "json-1")
        .send()
        .expect("healthz");
    assert_eq!(response.status(), 200);
    let mut entry = Value::Null;
    wait_for("the JSON request line", 10, || {
        entry = server
            .log()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["id"] == "json-1")
            .unwrap_or(Value::Null);
        !entry.is_null()
    });
    assert_eq!(entry["target"], "rockit_edge::request", "{entry}");
    assert_eq!(entry["status"], 200, "{entry}");
    assert_eq!(entry["route"], "/healthz", "{entry}");
    assert_eq!(entry["level"], "INFO", "{entry}");
    let every_line_json = server
        .log()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .all(|l| serde_json::from_str::<Value>(l).is_ok());
    assert!(every_line_json, "{}", server.log());
}
