//! `POST /client/v1/traces` against the running appliance: every class of bad trace gets its
//! exact status and error, compressed bodies are taken within limits, a trace is counted once
//! however it is sent and survives a restart, a thousand concurrent uploads are all counted,
//! and traces in the image's own order train nothing, saying why.

mod common;
mod common_builds;
mod common_client;
mod common_engine;

use std::io::Write;

use common::{Receiver, assert_error, json_response, wait_for};
use common_builds::{APP, ENV, ORG, app_details};
use common_client::{Shop, read_json};
use common_engine::game_gen;
use reqwest::Method;
use serde_json::{Value, json};

const GAME: [&str; 8] = [
    "--size",
    "16M",
    "--files",
    "60",
    "--sessions",
    "1",
    "--seed",
    "5",
];

/// The limits the appliance runs with here: small, to reach them cheaply.
const LIMITS: [(&str, &str); 2] = [
    ("ROCKIT_EDGE__TRAINING__MAX_TRACE_KB", "64"),
    ("ROCKIT_EDGE__TRAINING__MAX_DECODED_TRACE_KB", "1024"),
];

fn shop() -> Shop {
    let mut env = ENV.to_vec();
    env.extend(LIMITS);
    let shop = Shop::open_with(&env, json!({}), |dir| {
        game_gen(dir, &GAME);
    });
    shop.import("game.tar");
    shop
}

/// The current image's dxfName and block count.
fn image(shop: &Shop) -> (String, u64) {
    let app = app_details(&shop.be());
    let dxf = app["dxfName"].as_str().expect("dxfName").to_string();
    let build = app["iCurBuild"].as_u64().expect("build");
    let meta = read_json(
        &shop
            .server
            .data_dir()
            .join(format!("depot/dxf/{ORG}/{APP}/{build:04}/{dxf}/img.json")),
    );
    (dxf, meta["blockCount"].as_u64().expect("blockCount"))
}

/// An upload body: the access key's fields and a trace.
fn upload(shop: &Shop, dxf: &str, reads: Value) -> Value {
    json!({
        "orgName": ORG,
        "appName": APP,
        "accessKey": shop.access,
        "dxfName": dxf,
        "blockSize": 4096,
        "launchMs": 1000,
        "reads": reads,
    })
}

fn send_bytes(shop: &Shop, body: Vec<u8>, encoding: Option<&str>) -> (u16, Value) {
    let mut request = shop
        .server
        .client
        .post(shop.server.url("/client/v1/traces"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    json_response(request.send().expect("request"))
}

fn send(shop: &Shop, body: &Value) -> (u16, Value) {
    send_bytes(shop, serde_json::to_vec(body).expect("json"), None)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

fn traces_of_current(shop: &Shop) -> u64 {
    let (status, body) = shop.be().call(
        Method::GET,
        &format!("/be/v1/trainings?appName={APP}"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body["trainings"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["current"] == true))
        .and_then(|r| r["traces"].as_u64())
        .expect("the current image's row")
}

/// Asserts the error shape and that the message names `what`.
fn refused(answer: (u16, Value), status: u16, code: &str, what: &str) {
    let (got, body) = answer;
    assert_error(got, &body, status, code);
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(what), "{what:?} not in {body}");
}

#[test]
fn every_bad_trace_is_refused_precisely_and_a_good_one_counts_once() {
    let mut shop = shop();
    let (dxf, blocks) = image(&shop);
    let good = upload(&shop, &dxf, json!([[0, 0, 8], [5, 100, 4], [9, 40, 1]]));

    let mut unknown = good.clone();
    unknown["dxfName"] = json!("00000000-0000-0000-0000-000000000000");
    refused(
        send(&shop, &unknown),
        400,
        "invalid-param",
        "is not an image of app",
    );
    let outside = upload(&shop, &dxf, json!([[0, 0, 1], [2, blocks - 2, 3]]));
    refused(
        send(&shop, &outside),
        400,
        "invalid-param",
        "lies outside the image",
    );
    let backwards = upload(&shop, &dxf, json!([[7, 0, 1], [3, 5, 1]]));
    refused(
        send(&shop, &backwards),
        400,
        "invalid-param",
        "times must not go back",
    );
    let mut small_blocks = good.clone();
    small_blocks["blockSize"] = json!(512);
    refused(
        send(&shop, &small_blocks),
        400,
        "invalid-param",
        "blockSize is 512",
    );
    let empty = upload(&shop, &dxf, json!([]));
    refused(send(&shop, &empty), 400, "invalid-param", "no reads");
    refused(
        send_bytes(&shop, b"{\"orgName\":".to_vec(), None),
        400,
        "invalid-param",
        "not a JSON object",
    );
    let mut no_key = good.clone();
    no_key.as_object_mut().expect("object").remove("accessKey");
    refused(send(&shop, &no_key), 400, "missing-param", "accessKey");
    let mut wrong_key = good.clone();
    wrong_key["accessKey"] = json!("rka_nope_nope");
    refused(send(&shop, &wrong_key), 401, "unauthorized", "access key");
    refused(
        send_bytes(&shop, b"{}".to_vec(), Some("br")),
        400,
        "invalid-param",
        "Content-Encoding",
    );
    refused(
        send_bytes(&shop, b"not gzip".to_vec(), Some("gzip")),
        400,
        "invalid-param",
        "gzip",
    );
    // Over 64 KiB as sent; and a gzip bomb: some KiB that decode to 32 MiB.
    let big = upload(&shop, &dxf, json!(vec![[0, 0, 1]; 12000]));
    refused(send(&shop, &big), 413, "payload-too-large", "at most");
    let bomb = gzip(&vec![b' '; 32 << 20]);
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    refused(
        send_bytes(&shop, bomb, Some("gzip")),
        413,
        "payload-too-large",
        "decoded",
    );
    assert_eq!(traces_of_current(&shop), 0, "nothing bad was stored");

    // The same trace plain, gzip'd and zstd-compressed, spaced differently: one trace.
    let (status, first) = send(&shop, &good);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["trace"]["duplicate"], false);
    let pretty = serde_json::to_vec_pretty(&good).expect("json");
    let (status, again) = send_bytes(&shop, gzip(&pretty), Some("gzip"));
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["trace"]["duplicate"], true);
    assert_eq!(again["trace"]["digest"], first["trace"]["digest"]);
    let zstd =
        ruzstd::encoding::compress_to_vec(&pretty[..], ruzstd::encoding::CompressionLevel::Fastest);
    let (status, third) = send_bytes(&shop, zstd, Some("zstd"));
    assert_eq!(status, 200, "{third}");
    assert_eq!(third["trace"]["duplicate"], true);
    let other = upload(&shop, &dxf, json!([[0, 3, 2]]));
    assert_eq!(send(&shop, &other).0, 200);
    assert_eq!(traces_of_current(&shop), 2);

    // Stored traces survive a restart.
    assert!(shop.server.terminate(), "graceful stop");
    shop.server.launch();
    assert_eq!(traces_of_current(&shop), 2);
    let (status, after) = send(&shop, &good);
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["trace"]["duplicate"], true);
}

#[test]
fn a_thousand_concurrent_uploads_are_all_counted() {
    let shop = shop();
    let (dxf, blocks) = image(&shop);
    let (status, body) = shop.be().call(
        Method::PATCH,
        "/be/v1/trainings",
        Some(json!({"appName": APP, "nTracesReliable": 100000})),
    );
    assert_eq!(status, 200, "{body}");
    const UPLOADS: u64 = 1000;
    let ok = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for worker in 0..40 {
            let (shop, dxf, ok) = (&shop, &dxf, &ok);
            s.spawn(move || {
                for n in (worker..UPLOADS).step_by(40) {
                    let body = upload(shop, dxf, json!([[0, n % blocks, 1], [n, 0, 1]]));
                    let (status, answer) = send(shop, &body);
                    assert_eq!(status, 200, "{answer}");
                    ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(ok.into_inner(), UPLOADS);
    assert_eq!(traces_of_current(&shop), UPLOADS);
}

#[test]
fn traces_in_the_images_own_order_train_nothing_and_say_why() {
    let shop = shop();
    let (dxf, blocks) = image(&shop);
    let receiver = Receiver::start("{}");
    let (status, body) = shop.be().call(
        Method::POST,
        "/be/v1/subscriptions",
        Some(json!({"name": "hook", "url": receiver.url("/hook"), "events": ["mkseq.submit", "mkseq.begin", "mkseq.end", "mkseq.error"]})),
    );
    assert_eq!(status, 200, "{body}");
    let preload = blocks / 4;
    let reads: Vec<Value> = (0..preload).map(|b| json!([b, b, 1])).collect();
    let mut trace = upload(&shop, &dxf, json!(reads));
    trace["launchMs"] = json!(preload + 10);
    assert_eq!(send(&shop, &trace).0, 200);
    let (status, body) = shop.be().call(
        Method::POST,
        "/be/v1/trigger",
        Some(json!({"type": "traces", "appName": APP})),
    );
    assert_eq!(status, 200, "{body}");
    let task = shop
        .server
        .wait_task(body["taskName"].as_str().expect("taskName"));
    assert_eq!(task["status"], "done", "{task}");
    assert_eq!(task["type"], "mkseq");
    let outcome = &task["result"];
    assert_eq!(outcome["published"], false, "{outcome}");
    assert_eq!(outcome["reason"], "sameOrder", "{outcome}");
    assert!(
        outcome["message"]
            .as_str()
            .unwrap_or_default()
            .contains("own order"),
        "{outcome}"
    );
    assert_eq!(app_details(&shop.be())["dxfName"], dxf.as_str());
    let task_name = task["name"].clone();
    let mut events: Vec<Value> = Vec::new();
    wait_for("the mkseq events", 30, || {
        events = receiver
            .received
            .lock()
            .expect("received")
            .iter()
            .map(|r| serde_json::from_slice(&r.body).expect("event JSON"))
            .collect();
        events.len() >= 3
    });
    let kinds: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{}.{}",
                e["type"].as_str().unwrap_or(""),
                e["event"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        kinds,
        ["mkseq.submit", "mkseq.begin", "mkseq.end"],
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| e["taskName"] == task_name && e["appName"] == APP)
    );
    assert_eq!(events[2]["dxfName"], dxf.as_str());
    let (status, body) = shop.be().call(Method::GET, "/be/v1/trainings", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["trainings"][0]["lastMkseq"]["reason"], "sameOrder");
    assert_eq!(
        body["trainings"][0]["candidatePreloadBytes"],
        preload * 4096,
        "{body}"
    );

    // Unknown apps and bad settings are refused like everywhere else.
    let (status, body) = shop.be().call(
        Method::PATCH,
        "/be/v1/trainings",
        Some(json!({"appName": APP, "nTracesReliable": 0})),
    );
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = shop.be().call(
        Method::POST,
        "/be/v1/trigger",
        Some(json!({"type": "traces", "appName": "Nope"})),
    );
    assert_error(status, &body, 404, "not-found");
    let (status, body) = shop.be().call(
        Method::POST,
        "/be/v1/trigger",
        Some(json!({"type": "traces"})),
    );
    assert_error(status, &body, 400, "missing-param");
}
