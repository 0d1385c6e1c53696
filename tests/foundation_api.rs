//! The service and admin API over HTTPS and HTTP, and the error shape of every error class.

mod common;

use common::{Server, assert_error, json_response};
use reqwest::Method;
use serde_json::json;

#[test]
fn ping_answers_on_https_and_http_without_credentials() {
    let server = Server::start();
    for url in [
        server.url("/srv/v1/ping"),
        server.http_url("/srv/v1/ping"),
        server.url("/adm/v1/ping"),
    ] {
        let (status, body) = json_response(server.client.post(&url).send().expect("ping"));
        assert_eq!(status, 200);
        assert_eq!(body, json!({"status": "success", "message": "pong"}));
    }
}

#[test]
fn versions_need_the_admin_token() {
    let server = Server::start();
    let (status, body) = json_response(
        server
            .client
            .get(server.url("/srv/v1/versions"))
            .send()
            .expect("get"),
    );
    assert_error(status, &body, 401, "unauthorized");
    for path in ["/srv/v1/versions", "/adm/v1/versions"] {
        let (status, body) = server.admin(Method::GET, path, None);
        assert_eq!(status, 200, "{body}");
        let versions = &body["versions"];
        assert_eq!(versions["appliance"], env!("CARGO_PKG_VERSION"));
        assert_eq!(versions["storeSchema"], rockit_edge::store::SCHEMA_VERSION);
        assert_eq!(versions["imageFormat"], 2);
        assert_eq!(versions["patchFormat"], 3);
    }
}

#[test]
fn orgs_are_created_listed_shown_and_deleted_with_the_admin_token() {
    let server = Server::start();
    let create = |body: serde_json::Value| server.admin(Method::POST, "/adm/v1/orgs", Some(body));

    let request = server
        .client
        .post(server.url("/adm/v1/orgs"))
        .json(&json!({"name": "acme"}));
    let (status, body) = json_response(request.send().expect("post"));
    assert_error(status, &body, 401, "unauthorized");
    let request = server
        .client
        .post(server.url("/adm/v1/orgs"))
        .header(
            "x-rockit-admin-token",
            "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VybmFtZSI6Im9wcyJ9.bad",
        )
        .json(&json!({"name": "acme"}));
    let (status, body) = json_response(request.send().expect("post"));
    assert_error(status, &body, 401, "token-invalid");

    let (status, body) = create(json!({"name": "acme", "label": "Acme Games"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "success");
    assert_eq!(body["org"]["name"], "acme");
    assert_eq!(body["org"]["label"], "Acme Games");
    assert_eq!(body["adminUsername"], "admin");
    let password = body["password"].as_str().expect("generated password");
    assert!(password.len() >= 16);

    let (status, body) =
        create(json!({"name": "beta", "adminUsername": "boss", "password": "a-long-secret"}));
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("password").is_none(),
        "given password must not be echoed: {body}"
    );
    assert!(!body.to_string().contains("a-long-secret"));

    let (status, body) = create(json!({"name": "ACME"}));
    assert_error(status, &body, 409, "item-exists");
    let (status, body) = create(json!({"name": "a b"}));
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = create(json!({"name": "gamma", "password": "short"}));
    assert_error(status, &body, 400, "invalid-param");

    let (status, body) = server.admin(Method::GET, "/adm/v1/orgs?order[]=-name", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 2);
    let names: Vec<_> = body["orgs"]
        .as_array()
        .expect("orgs")
        .iter()
        .map(|o| o["name"].clone())
        .collect();
    assert_eq!(names, [json!("beta"), json!("acme")]);
    let (_, body) = server.admin(Method::GET, "/adm/v1/orgs?limit=1&offset=1", None);
    assert_eq!(body["orgs"].as_array().expect("orgs").len(), 1);
    assert_eq!(body["total"], 2);

    let (status, body) = server.admin(Method::GET, "/adm/v1/orgs/acme", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["org"]["apps"], 0);
    assert_eq!(body["org"]["storageBytes"], 0);

    let (status, body) = server.admin(Method::DELETE, "/adm/v1/orgs/acme?prune=true", None);
    assert_eq!(status, 200, "{body}");
    let task = server.wait_task(body["taskName"].as_str().expect("cleanup task"));
    assert_eq!(task["status"], "done", "{task}");
    let (status, body) = server.admin(Method::GET, "/adm/v1/orgs/acme", None);
    assert_error(status, &body, 404, "not-found");
    let (status, body) = server.admin(Method::DELETE, "/adm/v1/orgs/acme", None);
    assert_error(status, &body, 404, "not-found");
    let (status, _) = create(json!({"name": "acme"}));
    assert_eq!(status, 200, "a deleted org's name is free again");
}

#[test]
fn org_prune_removes_published_files_from_the_depot() {
    let server = Server::start();
    let (status, _) = server.admin(Method::POST, "/adm/v1/orgs", Some(json!({"name": "acme"})));
    assert_eq!(status, 200);
    let image = server.data_dir().join("depot/dxf/acme/game/0001/x");
    std::fs::create_dir_all(&image).expect("mkdir");
    std::fs::write(image.join("img.dxf"), vec![7u8; 8192]).expect("write");
    let other = server.data_dir().join("depot/dxf/other/game/0001/x");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::write(other.join("img.dxf"), b"keep").expect("write");

    let (_, body) = server.admin(Method::GET, "/adm/v1/orgs/acme", None);
    assert_eq!(body["org"]["storageBytes"], 8192);
    let (_, body) = server.admin(Method::DELETE, "/adm/v1/orgs/acme?prune=true", None);
    server.wait_task(body["taskName"].as_str().expect("task"));
    assert!(!server.data_dir().join("depot/dxf/acme").exists());
    assert!(
        other.join("img.dxf").exists(),
        "another org's files must stay"
    );
}

#[test]
fn every_error_class_has_the_api_shape() {
    let server = Server::start_with(&[], &[("ROCKIT_EDGE__SERVER__JSON_LIMIT_BYTES", "4096")]);
    let token = server.admin_token("ops");
    let send = |method: Method, path: &str, body: Option<String>| {
        let mut request = server
            .client
            .request(method, server.url(path))
            .header("x-rockit-admin-token", &token)
            .header("content-type", "application/json");
        if let Some(body) = body {
            request = request.body(body);
        }
        json_response(request.send().expect("send"))
    };

    let (status, body) = send(Method::GET, "/no/such/route", None);
    assert_error(status, &body, 404, "not-found");
    let (status, body) = send(Method::PUT, "/srv/v1/ping", None);
    assert_error(status, &body, 405, "method-not-allowed");
    let (status, body) = send(Method::DELETE, "/adm/v1/orgs", None);
    assert_error(status, &body, 405, "method-not-allowed");

    let (status, body) = send(Method::POST, "/adm/v1/orgs", Some("{\"name\": ".into()));
    assert_error(status, &body, 400, "invalid-param");
    assert!(
        body["message"].as_str().unwrap_or("").contains("JSON"),
        "{body}"
    );
    let (status, body) = send(Method::POST, "/adm/v1/orgs", Some("{\"name\": 5}".into()));
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = send(
        Method::POST,
        "/adm/v1/orgs",
        Some("{\"name\": \"x1\", \"bogus\": 1}".into()),
    );
    assert_error(status, &body, 400, "invalid-param");
    assert!(
        body["message"].as_str().unwrap_or("").contains("bogus"),
        "{body}"
    );

    let (status, body) = send(
        Method::POST,
        "/adm/v1/orgs",
        Some("{\"label\": \"x\"}".into()),
    );
    assert_error(status, &body, 400, "missing-param");
    assert!(
        body["message"].as_str().unwrap_or("").contains("name"),
        "{body}"
    );
    let (status, body) = send(Method::POST, "/srv/v1/hello", Some("{}".into()));
    assert_error(status, &body, 400, "missing-param");
    assert!(
        body["message"].as_str().unwrap_or("").contains("message"),
        "{body}"
    );

    let (status, body) = send(Method::GET, "/adm/v1/orgs?limit=abc", None);
    assert_error(status, &body, 400, "invalid-param");
    assert!(
        body["message"].as_str().unwrap_or("").contains("limit"),
        "{body}"
    );
    let (status, body) = send(Method::GET, "/adm/v1/orgs?order[]=colour", None);
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = send(Method::DELETE, "/adm/v1/orgs/x1?prune=maybe", None);
    assert_error(status, &body, 400, "invalid-param");

    let huge = format!(
        "{{\"name\": \"big\", \"label\": \"{}\"}}",
        "x".repeat(10_000)
    );
    let (status, body) = send(Method::POST, "/adm/v1/orgs", Some(huge));
    assert_error(status, &body, 413, "payload-too-large");
    assert!(
        server.log().lines().all(|l| !l.contains("panicked")),
        "{}",
        server.log()
    );
}

#[test]
fn maintenance_mode_answers_503_except_on_the_service_api() {
    let server = Server::start_with(&[], &[("ROCKIT_EDGE__SERVER__MAINTENANCE", "true")]);
    let response = server
        .client
        .get(server.url("/adm/v1/orgs"))
        .send()
        .expect("get");
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("900")
    );
    let (status, body) = json_response(response);
    assert_error(status, &body, 503, "maintenance");
    let (status, body) = json_response(
        server
            .client
            .post(server.url("/adm/v1/ping"))
            .send()
            .expect("ping"),
    );
    assert_error(status, &body, 503, "maintenance");
    let (status, _) = json_response(
        server
            .client
            .post(server.url("/srv/v1/ping"))
            .send()
            .expect("ping"),
    );
    assert_eq!(status, 200);

    let (status, body) = server.admin(
        Method::POST,
        "/srv/v1/hello",
        Some(json!({"message": "open", "maintenance": false})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.admin(Method::GET, "/adm/v1/orgs", None);
    assert_eq!(status, 200, "{body}");
    let (status, _) = server.admin(
        Method::POST,
        "/srv/v1/hello",
        Some(json!({"message": "close", "maintenance": true})),
    );
    assert_eq!(status, 200);
    let (status, body) = server.admin(Method::GET, "/adm/v1/orgs", None);
    assert_error(status, &body, 503, "maintenance");
}

#[test]
fn healthz_reports_each_check() {
    let server = Server::start();
    let (status, body) = json_response(
        server
            .client
            .get(server.url("/healthz"))
            .send()
            .expect("get"),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["storeReadable"], true);
    assert_eq!(body["checks"]["dataDirWritable"], true);
    assert!(body["checks"]["freeDiskBytes"].as_u64().unwrap_or(0) > 0);

    let strict = Server::start_with(
        &[],
        &[("ROCKIT_EDGE__STORAGE__MIN_FREE_DISK_MB", "999999999999")],
    );
    let (status, body) = json_response(
        strict
            .client
            .get(strict.http_url("/healthz"))
            .send()
            .expect("get"),
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unhealthy");
}

#[test]
fn the_embedded_ui_is_served_with_its_caching_and_policy() {
    let server = Server::start();
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for entry in ["/", "/ui"] {
        let root = client.get(server.http_url(entry)).send().expect("root");
        assert_eq!(root.status().as_u16(), 302, "{entry}");
        assert_eq!(root.headers()["location"], "/ui/", "{entry}");
    }
    let get = |path: &str| server.client.get(server.url(path)).send().expect("get");
    let header = |response: &reqwest::blocking::Response, name: &str| {
        response.headers()[name]
            .to_str()
            .expect("header")
            .to_string()
    };

    // Every screen path is the page shell (history fallback), revalidated on each load.
    let shell = get("/ui/").text().expect("shell");
    for path in ["/ui/", "/ui/apps/racer", "/ui/tasks"] {
        let response = get(path);
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert!(header(&response, "content-type").starts_with("text/html"));
        assert_eq!(header(&response, "cache-control"), "no-cache", "{path}");
        let policy = header(&response, "content-security-policy");
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(response.text().expect("body"), shell, "{path}");
    }

    // The shell names content-hashed assets, cached for good.
    let assets: Vec<&str> = shell
        .split('"')
        .filter(|part| part.starts_with("/ui/assets/main-"))
        .collect();
    assert_eq!(assets.len(), 2, "a script and a stylesheet: {shell}");
    for asset in assets {
        let response = get(asset);
        assert_eq!(response.status().as_u16(), 200, "{asset}");
        assert_eq!(
            header(&response, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        let kind = if asset.ends_with(".js") {
            "text/javascript"
        } else {
            "text/css"
        };
        assert!(
            header(&response, "content-type").starts_with(kind),
            "{asset}"
        );
        assert!(response.headers().contains_key("etag"));
    }

    // A missing file is a 404, never the shell.
    for path in ["/ui/assets/main-GONE.js", "/ui/missing.js"] {
        let (status, body) = json_response(get(path));
        assert_error(status, &body, 404, "not-found");
    }
}
