//! Input limits and the contract's corners: bounded printable text, validated addresses,
//! malformed path names, exact-case lookups, filters and `fields[]` on every list.

mod common;

use common::{Be, Server, assert_error, create_org, login};
use reqwest::Method;
use serde_json::{Value, json};

fn admin_of(server: &Server) -> Be<'_> {
    create_org(server, "acme", "Passw0rd-acme");
    let session = login(server, "acme", "admin", "Passw0rd-acme");
    Be::bearer(server, session["accessToken"].as_str().expect("token"))
}

fn deployment(name: &str) -> Value {
    json!({
        "name": name, "label": "CDN",
        "origin": {"s3": {"hostname": "s3.example.com", "accessKey": "a", "secretKey": "s", "location": "us-east-1", "bucket": "edge"}},
    })
}

#[test]
fn free_text_and_addresses_are_bounded_and_validated() {
    let server = Server::start();
    let admin = admin_of(&server);
    for label in [
        "x".repeat(201),
        "a\0b".into(),
        "a\u{1b}[31m".into(),
        "evil\u{202E}gpj.exe".into(),
    ] {
        let (status, body) = admin.call(
            Method::POST,
            "/be/v1/apps",
            Some(json!({"name": "game", "label": label})),
        );
        assert_error(status, &body, 400, "invalid-param");
        assert!(
            body["message"].as_str().is_some_and(|m| m.len() < 300),
            "{body}"
        );
    }
    for email in ["", "nobody", "a b@example.com"] {
        let (status, body) = admin.call(
            Method::POST,
            "/be/v1/users",
            Some(json!({"username": "bob", "email": email, "roles": []})),
        );
        assert_error(status, &body, 400, "invalid-param");
    }
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/users",
        Some(json!({"username": "bob", "email": "bob@example.com", "firstname": "x".repeat(101), "roles": []})),
    );
    assert_error(status, &body, 400, "invalid-param");
    for (field, value) in [
        ("bucket", "../../etc"),
        ("bucket", "a b"),
        ("bucket", "a\0b"),
        ("hostname", "{{EDGE_HOST}}"),
        ("hostname", "s3.example.com/edge"),
    ] {
        let mut body = deployment("cdn");
        body["origin"]["s3"][field] = json!(value);
        let (status, answer) = admin.call(Method::POST, "/be/v1/deployments", Some(body));
        assert_error(status, &answer, 400, "invalid-param");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains(field)),
            "{answer}"
        );
    }
    let (status, body) = server.admin(
        Method::POST,
        "/srv/v1/hello",
        Some(json!({"message": "x".repeat(1 << 19)})),
    );
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = server.admin(
        Method::POST,
        "/adm/v1/orgs",
        Some(json!({"name": "other", "email": ""})),
    );
    assert_error(status, &body, 400, "invalid-param");
}

#[test]
fn paths_names_filters_and_fields_follow_the_contract() {
    let server = Server::start();
    let admin = admin_of(&server);
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/apps",
        Some(json!({"name": "game", "label": "Game"})),
    );
    assert_eq!(status, 200, "{body}");
    for path in [
        "/be/v1/apps/a-b",
        "/be/v1/users/x",
        "/be/v1/roles/bad%20name",
        "/be/v1/deployments/a.b",
        "/be/v1/tasks/not-a-task",
    ] {
        let (status, body) = admin.call(Method::GET, path, None);
        assert_error(status, &body, 400, "invalid-param");
    }
    let (status, body) = server.admin(Method::GET, "/adm/v1/orgs/a-b", None);
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = admin.call(Method::DELETE, "/be/v1/deployments/", None);
    assert_error(status, &body, 400, "missing-param");
    for path in ["/be/v1/apps/GAME", "/be/v1/apps/Game"] {
        let (status, body) = admin.call(Method::GET, path, None);
        assert_error(status, &body, 404, "not-found");
    }
    let (status, body) = server.admin(Method::GET, "/adm/v1/orgs/ACME", None);
    assert_error(status, &body, 404, "not-found");
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/apps",
        Some(json!({"name": "GAME", "label": "Game"})),
    );
    assert_error(status, &body, 409, "item-exists");
    for list in [
        "users",
        "roles",
        "subscriptions",
        "deployments",
        "apps",
        "tasks",
    ] {
        let (status, body) = admin.call(Method::GET, &format!("/be/v1/{list}?colour=red"), None);
        assert_error(status, &body, 400, "invalid-param");
    }
    let (status, body) = server.admin(Method::GET, "/adm/v1/orgs?colour=red", None);
    assert_error(status, &body, 400, "invalid-param");

    let (status, body) = admin.call(Method::GET, "/be/v1/users?fields[]=username", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["users"], json!([{"username": "admin"}]), "{body}");
    let mut cdn = deployment("cdn");
    cdn["origin"]["s3"]["hostname"] = json!("127.0.0.1:1");
    let (status, body) = admin.call(Method::POST, "/be/v1/deployments", Some(cdn));
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin.call(Method::GET, "/be/v1/deployments?fields[]=name,status", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["deployments"],
        json!([{"name": "cdn", "status": "error"}]),
        "{body}"
    );
    let (status, body) = admin.call(Method::GET, "/be/v1/deployments/cdn?fields[]=label", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deployment"], json!({"label": "CDN"}), "{body}");
    let (status, body) = admin.call(Method::GET, "/be/v1/roles?fields[]=nope", None);
    assert_error(status, &body, 400, "invalid-param");

    let long = format!("/be/v1/apps?name={}", "x".repeat(20_000));
    let (status, body) = admin.call(Method::GET, &long, None);
    assert_error(status, &body, 414, "uri-too-long");
}

/// One request to `route` with `query`, filled path parameters and the credentials it needs.
/// A route's path with every parameter filled in, and the query.
fn concrete(route: &rockit_edge::http::Route, query: &str) -> String {
    let mut path = String::new();
    for part in route.path.split('/').skip(1) {
        path.push('/');
        path.push_str(if part.starts_with('{') { "x" } else { part });
    }
    format!("{path}?{query}")
}

fn call_route(
    server: &Server,
    org_admin: &Be,
    route: &rockit_edge::http::Route,
    query: &str,
) -> (u16, Value) {
    use rockit_edge::domain::permissions::Need;
    let path = concrete(route, query);
    let method = Method::from_bytes(route.method.as_bytes()).expect("method");
    match route.need {
        Need::Admin => server.admin(method, &path, None),
        Need::Public => Be::anonymous(server).call(method, &path, None),
        _ => org_admin.call(method, &path, None),
    }
}

#[test]
fn the_route_table_declares_every_query_parameter_and_refuses_the_rest() {
    use rockit_edge::http::{Accepts, ROUTES};
    let server = Server::start();
    let admin = admin_of(&server);
    let mut lists = 0;
    for route in ROUTES {
        let what = format!("{} {}", route.method, route.path);
        if route.method == "HEAD" {
            // A HEAD answer has no body to name the parameter in: its status says it.
            let response = server
                .client
                .head(server.url(&concrete(route, "colour=red")))
                .send()
                .expect("head");
            assert_eq!(response.status().as_u16(), 400, "{what}");
            continue;
        }
        let (status, body) = call_route(&server, &admin, route, "colour=red");
        assert_error(status, &body, 400, "invalid-param");
        let message = body["message"].as_str().unwrap_or("");
        assert!(message.contains("colour"), "{what}: {body}");
        if let Accepts::List(filters) = route.accepts {
            lists += 1;
            assert!(message.contains("unknown filter"), "{what}: {body}");
            for filter in filters
                .iter()
                .chain(&["limit", "offset", "fields[]", "order[]"])
            {
                let (_, body) = call_route(&server, &admin, route, &format!("{filter}=1"));
                assert!(
                    !body["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains("unknown filter"),
                    "{what} refuses its declared {filter}: {body}"
                );
            }
        }
    }
    assert!(lists >= 8, "only {lists} lists in the route table");
}
