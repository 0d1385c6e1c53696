//! Deployments against a real S3 server that checks signatures, and apps that register them.

mod common;

use common::{Be, LOCAL_ORIGINS, S3Server, Server, assert_error, create_org, login, wait_for};
use reqwest::Method;
use serde_json::{Value, json};

fn admin_of(server: &Server) -> Be<'_> {
    create_org(server, "acme", "Passw0rd-acme");
    let session = login(server, "acme", "admin", "Passw0rd-acme");
    Be::bearer(server, session["accessToken"].as_str().expect("token"))
}

fn deployment(s3: &S3Server, name: &str, secret: &str) -> Value {
    json!({
        "name": name,
        "label": "Local S3",
        "origin": {"s3": {"hostname": s3.hostname(), "accessKey": s3.access_key, "secretKey": secret, "location": "us-east-1", "bucket": "edge"}},
    })
}

#[test]
fn the_seed_modify_body_works_and_secrets_stay_masked_and_sealed() {
    let Some(s3) = S3Server::start() else { return };
    let server = Server::start_with(&[], &[LOCAL_ORIGINS]);
    let admin = admin_of(&server);
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/deployments",
        Some(deployment(&s3, "gcore", &s3.secret_key)),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"status": "success", "message": "deployment created"})
    );
    let (_, shown) = admin.call(Method::GET, "/be/v1/deployments/gcore", None);
    assert_eq!(shown["deployment"]["status"], "ok", "{shown}");

    let secure_token = "gcore-secure-token-value-42";
    let seed = json!({
        "name": "gcore",
        "label": "Gcore Object Storage / Gcore CDN",
        "origin": {"s3": {
            "hostname": s3.hostname(), "accessKey": s3.access_key, "secretKey": s3.secret_key,
            "location": "us-east-1", "bucket": "edge", "prefix": "cdn-root"
        }},
        "dlAuth": {"gcore": {"baseUrl": "https://cdn.example.test", "secureToken": secure_token, "bucket": "edge", "prefix": "cdn-root"}}
    });
    let (status, body) = admin.call(Method::PATCH, "/be/v1/deployments", Some(seed));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"status": "success", "message": "deployment modified"})
    );

    let (_, shown) = admin.call(Method::GET, "/be/v1/deployments/gcore", None);
    let d = &shown["deployment"];
    assert_eq!(d["label"], "Gcore Object Storage / Gcore CDN");
    assert_eq!(d["status"], "ok", "{shown}");
    assert_eq!(d["origin"]["s3"]["secretKey"], "********");
    assert_eq!(d["origin"]["s3"]["prefix"], "cdn-root");
    assert_eq!(d["dlAuth"]["gcore"]["secureToken"], "********");
    let text = shown.to_string();
    assert!(!text.contains(&s3.secret_key) && !text.contains(secure_token));

    let store = std::fs::read(server.data_dir().join("edge.redb")).expect("store");
    for secret in [s3.secret_key.as_bytes(), secure_token.as_bytes()] {
        assert!(
            !store.windows(secret.len()).any(|w| w == secret),
            "a secret is stored in clear"
        );
    }
    assert!(!server.log().contains(&s3.secret_key), "a secret is logged");

    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/deployments",
        Some(json!({"name": "gcore", "origin": {"s3": {"secretKey": "********", "prefix": null}}})),
    );
    assert_eq!(status, 200, "******** keeps the stored secret: {body}");
    let (_, shown) = admin.call(Method::GET, "/be/v1/deployments/gcore", None);
    assert_eq!(shown["deployment"]["status"], "ok", "{shown}");
    assert!(
        shown["deployment"]["origin"]["s3"].get("prefix").is_none(),
        "null removed the prefix: {shown}"
    );
    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/deployments",
        Some(json!({"name": "gcore", "origin": {"s3": {"bucket": null}}})),
    );
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/deployments",
        Some(json!({"name": "gcore", "dlAuth": {"akamai": {"baseUrl": "https://a.example.test"}}})),
    );
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/deployments",
        Some(json!({"name": "gcore", "dlAuth": null})),
    );
    assert_eq!(status, 200, "{body}");
    let (_, shown) = admin.call(Method::GET, "/be/v1/deployments/gcore", None);
    assert_eq!(shown["deployment"]["dlAuth"], Value::Null);
    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/deployments",
        Some(json!({"name": "nothere", "label": "x"})),
    );
    assert_error(status, &body, 404, "not-found");
}

#[test]
fn wrong_credentials_are_recorded_as_an_error_status_not_a_failure() {
    let Some(s3) = S3Server::start() else { return };
    let server = Server::start_with(&[], &[LOCAL_ORIGINS]);
    let admin = admin_of(&server);
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/deployments",
        Some(deployment(&s3, "broken", "not-the-secret-key")),
    );
    assert_eq!(status, 200, "{body}");
    let (_, shown) = admin.call(Method::GET, "/be/v1/deployments/broken", None);
    let d = &shown["deployment"];
    assert_eq!(d["status"], "error", "{shown}");
    let message = d["statusMessage"].as_str().unwrap_or("");
    assert!(
        message.contains("403") && message.contains("Signature"),
        "the cause is named: {message}"
    );
    let (_, listed) = admin.call(Method::GET, "/be/v1/deployments?error=true", None);
    assert_eq!(listed["total"], 1);
    let (_, listed) = admin.call(Method::GET, "/be/v1/deployments?name=BRO", None);
    assert_eq!(listed["total"], 1);
    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/deployments",
        Some(json!({"name": "broken", "origin": {"s3": {"secretKey": s3.secret_key}}})),
    );
    assert_eq!(status, 200, "{body}");
    let (_, shown) = admin.call(Method::GET, "/be/v1/deployments/broken", None);
    assert_eq!(
        shown["deployment"]["status"], "ok",
        "a good probe sets ok: {shown}"
    );

    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/deployments",
        Some(deployment(&s3, "Broken", "x")),
    );
    assert_error(status, &body, 409, "item-exists");
    let mut bad = deployment(&s3, "bad_host", "x");
    bad["origin"]["s3"]["hostname"] = json!("ftp://example.test");
    let (status, body) = admin.call(Method::POST, "/be/v1/deployments", Some(bad));
    assert_error(status, &body, 400, "invalid-param");
    let mut missing = deployment(&s3, "no_bucket", "x");
    missing["origin"]["s3"]
        .as_object_mut()
        .expect("object")
        .remove("bucket");
    let (status, body) = admin.call(Method::POST, "/be/v1/deployments", Some(missing));
    assert_error(status, &body, 400, "missing-param");
}

#[test]
fn a_registered_deployment_is_protected_and_deleting_it_empties_the_orgs_prefix() {
    let Some(s3) = S3Server::start() else { return };
    let server = Server::start_with(&[], &[LOCAL_ORIGINS]);
    let admin = admin_of(&server);
    admin.call(
        Method::POST,
        "/be/v1/deployments",
        Some(deployment(&s3, "cdn", &s3.secret_key)),
    );
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/apps",
        Some(json!({"name": "game", "label": "Game", "deployments": ["cdn"]})),
    );
    assert_eq!(status, 200, "{body}");
    s3.put("dxf/acme/game/0001/uuid/img.dxf", b"image");
    s3.put("pat/acme/game/0002/0001/patch.data", b"patch");
    s3.put("dxf/other/game/0001/uuid/img.dxf", b"not ours");

    let (status, body) = admin.call(Method::DELETE, "/be/v1/deployments/cdn", None);
    assert_error(status, &body, 409, "item-protected");
    assert!(
        body["message"].as_str().unwrap_or("").contains("game"),
        "{body}"
    );
    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/apps",
        Some(json!({"name": "game", "deregister": ["cdn"]})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin.call(Method::DELETE, "/be/v1/deployments/cdn", None);
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "success", "message": "deployment deleted"})
    );

    wait_for("the deployment record to go", 30, || {
        admin.call(Method::GET, "/be/v1/deployments/cdn", None).0 == 404
    });
    assert!(
        s3.keys("dxf/acme/").is_empty() && s3.keys("pat/acme/").is_empty(),
        "org files removed"
    );
    assert_eq!(s3.keys("dxf/other/").len(), 1, "another org's files stay");
}

#[test]
fn apps_have_the_seed_shape_projections_and_validated_settings() {
    let server = Server::start();
    let admin = admin_of(&server);
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/apps",
        Some(json!({"name": "Sushi", "label": "Sushibar: All you can feed"})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin.call(Method::GET, "/be/v1/apps/sushi", None);
    assert_error(status, &body, 404, "not-found");
    let (status, body) = admin.call(Method::GET, "/be/v1/apps/Sushi", None);
    assert_eq!(status, 200, "names are case-sensitive: {body}");
    let app = &body["app"];
    assert_eq!(app["name"], "Sushi");
    assert!(app["label"].is_string());
    assert_eq!(app["dxfName"], "");
    assert_eq!(app["iCurBuild"], 0);
    assert_eq!(app["maxBuilds"], 5);
    assert_eq!(app["processing"], false);
    assert_eq!(app["exporting"], false);
    assert_eq!(app["deployed"], json!([]));
    assert_eq!(app["files"], json!({"dxf": [], "patches": {}}));
    assert_eq!(app["state"], "idle");
    assert_eq!(app["autoCommit"], true);
    assert_eq!(app["builds"], json!([]));

    let (_, projected) = admin.call(
        Method::GET,
        "/be/v1/apps/Sushi?fields[]=name&fields[]=label",
        None,
    );
    assert_eq!(
        projected["app"].as_object().expect("object").len(),
        2,
        "{projected}"
    );
    assert_eq!(projected["status"], "success");
    let (_, projected) = admin.call(
        Method::GET,
        "/be/v1/apps?fields[]=[\"name\",\"maxBuilds\"]",
        None,
    );
    assert_eq!(
        projected["apps"][0],
        json!({"name": "Sushi", "maxBuilds": 5})
    );
    assert_eq!(projected["total"], 1);
    let (status, body) = admin.call(Method::GET, "/be/v1/apps/Sushi?fields[]=colour", None);
    assert_error(status, &body, 400, "invalid-param");

    for bad in [
        json!({"name": "x1", "label": "x", "maxBuilds": 0}),
        json!({"name": "x1", "label": "x", "maxBuilds": 101}),
        json!({"name": "x1", "label": "x", "deployments": ["nope"]}),
        json!({"name": "x-1", "label": "x"}),
    ] {
        let (status, body) = admin.call(Method::POST, "/be/v1/apps", Some(bad));
        assert_error(status, &body, 400, "invalid-param");
    }
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/apps",
        Some(json!({"name": "SUSHI", "label": "x"})),
    );
    assert_error(status, &body, 409, "item-exists");
    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/apps",
        Some(json!({"name": "Sushi", "maxBuilds": 3, "autoCommit": false, "label": "New"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["app"]["maxBuilds"], 3);
    assert_eq!(body["app"]["autoCommit"], false);
    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/apps",
        Some(json!({"name": "Sushi", "iCurBuild": 2})),
    );
    assert_error(status, &body, 400, "invalid-param");

    std::fs::create_dir_all(server.data_dir().join("depot/dxf/acme/Sushi/0001")).expect("mkdir");
    std::fs::write(
        server.data_dir().join("depot/dxf/acme/Sushi/0001/img.dxf"),
        vec![0u8; 4096],
    )
    .expect("write");
    let (_, body) = admin.call(Method::GET, "/be/v1/apps/Sushi?fields[]=sizeBytes", None);
    assert_eq!(
        body["app"]["sizeBytes"], 0,
        "sizes count retained builds, not whatever lies in the depot"
    );
    let (status, body) = admin.call(Method::DELETE, "/be/v1/apps/Sushi", None);
    assert_eq!(status, 200, "{body}");
    server.wait_task(body["taskName"].as_str().expect("task"));
    assert!(!server.data_dir().join("depot/dxf/acme/Sushi").exists());
    let (status, body) = admin.call(Method::GET, "/be/v1/apps/Sushi", None);
    assert_error(status, &body, 404, "not-found");
}

fn status_of(admin: &Be, name: &str) -> (String, String) {
    let (status, shown) = admin.call(Method::GET, &format!("/be/v1/deployments/{name}"), None);
    assert_eq!(status, 200, "{shown}");
    let d = &shown["deployment"];
    (
        d["status"].as_str().unwrap_or("").to_string(),
        d["statusMessage"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn the_probe_refuses_internal_addresses_and_never_echoes_an_answer() {
    let Some(s3) = S3Server::start() else { return };
    let server = Server::start();
    let admin = admin_of(&server);
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/deployments",
        Some(deployment(&s3, "local", &s3.secret_key)),
    );
    assert_eq!(status, 200, "{body}");
    let (state, message) = status_of(&admin, "local");
    assert_eq!(state, "error");
    assert!(
        message.contains("loopback") && message.contains("origins.allow_private"),
        "{message}"
    );
    assert!(
        s3.keys("").is_empty(),
        "nothing was written: {:?}",
        s3.keys("")
    );

    let open = Server::start_with(&[], &[LOCAL_ORIGINS]);
    let admin = admin_of(&open);
    let mut internal = deployment(&s3, "internal", "x");
    internal["origin"]["s3"]["hostname"] =
        json!(format!("http://{}", open.http.as_deref().expect("http")));
    let (status, body) = admin.call(Method::POST, "/be/v1/deployments", Some(internal));
    assert_eq!(status, 200, "{body}");
    let (state, message) = status_of(&admin, "internal");
    assert_eq!(state, "error");
    assert!(message.contains("HTTP 404"), "{message}");
    for leaked in ["no route", "not-found", "{", "reqwest"] {
        assert!(
            !message.contains(leaked),
            "the answer leaked ({leaked}): {message}"
        );
    }
}

#[test]
fn a_deployment_whose_origin_is_gone_can_be_fixed_and_deleted() {
    let Some(s3) = S3Server::start() else { return };
    let server = Server::start_with(&[], &[LOCAL_ORIGINS]);
    let admin = admin_of(&server);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    for name in ["gone", "kept"] {
        let mut body = deployment(&s3, name, &s3.secret_key);
        body["origin"]["s3"]["hostname"] = json!(format!("http://127.0.0.1:{closed}"));
        body["origin"]["s3"]["prefix"] = json!(name);
        let (status, answer) = admin.call(Method::POST, "/be/v1/deployments", Some(body));
        assert_eq!(status, 200, "{answer}");
        assert!(status_of(&admin, name).1.contains("cannot connect"));
    }
    let (status, body) = admin.call(Method::DELETE, "/be/v1/deployments/gone", None);
    assert_eq!(status, 200, "{body}");
    wait_for("the failed deletion to show", 30, || {
        status_of(&admin, "gone").1.contains("deletion failed")
    });
    let (state, message) = status_of(&admin, "gone");
    assert_eq!(state, "error");
    assert!(message.contains("keepFiles"), "{message}");
    s3.put("dxf/acme/game/0001/uuid/img.dxf", b"image");
    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/deployments",
        Some(
            json!({"name": "gone", "origin": {"s3": {"hostname": s3.hostname(), "prefix": null}}}),
        ),
    );
    assert_eq!(status, 200, "PATCH must fix a failed deletion: {body}");
    assert_eq!(status_of(&admin, "gone").0, "ok");
    let (status, body) = admin.call(Method::DELETE, "/be/v1/deployments/gone", None);
    assert_eq!(status, 200, "DELETE must try again: {body}");
    wait_for("the deployment record to go", 30, || {
        admin.call(Method::GET, "/be/v1/deployments/gone", None).0 == 404
    });
    assert!(s3.keys("dxf/acme/").is_empty(), "its files went with it");

    let (status, body) = admin.call(
        Method::DELETE,
        "/be/v1/deployments/kept?keepFiles=true",
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("left on the origin")),
        "{body}"
    );
    let (status, body) = admin.call(Method::GET, "/be/v1/deployments/kept", None);
    assert_error(status, &body, 404, "not-found");
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/deployments",
        Some(deployment(&s3, "kept", &s3.secret_key)),
    );
    assert_eq!(status, 200, "the name is free again: {body}");
}
