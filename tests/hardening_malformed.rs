//! Malformed input on every route of the route table (and the admin and service routes): a
//! precise 4xx with the API's error body, never a 5xx, and the server serves on.

mod common;

use common::{Be, Server, create_org, login};
use reqwest::Method;
use rockit_edge::domain::permissions::Need;
use serde_json::Value;

/// The admin and service routes, which the `/be/v1` table does not hold.
/// Every route of the instance administrator, from the route table.
fn admin_routes() -> impl Iterator<Item = (&'static str, &'static str)> {
    rockit_edge::http::ROUTES
        .iter()
        .filter(|route| route.need == Need::Admin)
        .map(|route| (route.method, route.path))
}

/// A credential header: name and value.
type Header = (String, String);

/// Bodies no route accepts.
fn bad_bodies() -> Vec<Vec<u8>> {
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    vec![
        b"{".to_vec(),
        b"[]".to_vec(),
        b"\"text\"".to_vec(),
        b"null".to_vec(),
        br#"{"name": 5, "username": [], "label": {}, "appName": 1e400}"#.to_vec(),
        br#"{"name": "a\u0000b", "username": "x\u0000", "label": "\u202e"}"#.to_vec(),
        nested.into_bytes(),
        vec![0xff, 0xfe, 0x00, 0x01],
    ]
}

/// Path parameters no route accepts.
const BAD_PARAMS: [&str; 4] = ["%00", "..%2F..%2Fetc", "%E2%80%AE", "a%20b"];

fn send(
    server: &Server,
    auth: Option<&Header>,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> (u16, String) {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = server
        .client
        .request(method, server.url(path))
        .header("content-type", "application/json");
    if let Some((name, value)) = auth {
        request = request.header(name, value);
    }
    if let Some(body) = body {
        request = request.body(body.to_vec());
    }
    let response = request.send().expect("request");
    let status = response.status().as_u16();
    (status, response.text().unwrap_or_default())
}

fn check(what: &str, status: u16, text: &str) {
    assert!(
        (400..500).contains(&status),
        "{what}: expected a 4xx, got {status}: {text}"
    );
    let body: Value = serde_json::from_str(text)
        .unwrap_or_else(|_| panic!("{what}: not the JSON error body: {text}"));
    assert_eq!(body["status"], "error", "{what}: {text}");
    assert!(
        body["error"].as_str().is_some_and(|c| !c.is_empty()),
        "{what}: {text}"
    );
    common::assert_listed_code(status, &body);
}

#[test]
fn every_route_answers_malformed_input_with_a_4xx() {
    let server = Server::start();
    create_org(&server, "acme", "Passw0rd-acme");
    let session = login(&server, "acme", "admin", "Passw0rd-acme");
    let backend = (
        "authorization".to_string(),
        format!("Bearer {}", session["accessToken"].as_str().expect("token")),
    );
    let admin = (
        "x-rockit-admin-token".to_string(),
        server.admin_token("ops"),
    );
    // Public routes (login, refresh, logout, auth) carry their own tokens: none is sent.
    let routes: Vec<(&str, &str, Option<&Header>)> = rockit_edge::http::ROUTES
        .iter()
        .map(|route| {
            let auth = match route.need {
                Need::Public => None,
                Need::Admin => Some(&admin),
                _ => Some(&backend),
            };
            (route.method, route.path, auth)
        })
        .collect();
    let mut checked = 0;
    for (method, path, auth) in routes {
        let param = path
            .find('{')
            .map(|start| (start, path[start..].find('}').expect("}") + start));
        if let Some((start, end)) = param {
            for bad in BAD_PARAMS {
                let filled = format!("{}{bad}{}", &path[..start], &path[end + 1..]);
                let (status, text) = send(&server, auth, method, &filled, None);
                if method == "HEAD" {
                    // No body to check: the status says it.
                    assert!((400..500).contains(&status), "HEAD {filled}: {status}");
                } else {
                    check(&format!("{method} {filled}"), status, &text);
                }
                checked += 1;
            }
        }
        // `ping` reads no body: any body gets its pong.
        if matches!(method, "POST" | "PATCH") && !path.ends_with("/ping") {
            let filled = match param {
                Some((start, end)) => format!("{}x_1{}", &path[..start], &path[end + 1..]),
                None => path.to_string(),
            };
            for body in bad_bodies() {
                let (status, text) = send(&server, auth, method, &filled, Some(&body));
                let shown = String::from_utf8_lossy(&body[..body.len().min(40)]).to_string();
                check(&format!("{method} {filled} with {shown:?}"), status, &text);
                checked += 1;
            }
        }
    }
    assert!(checked > 200, "only {checked} requests were checked");
    let (status, _) = Be::anonymous(&server).call(Method::POST, "/srv/v1/ping", None);
    assert_eq!(status, 200, "the server serves on");
    assert!(!server.log().contains("panicked"), "a handler panicked");
}

#[test]
fn admin_routes_refuse_every_caller_but_the_instance_administrator() {
    let server = Server::start();
    create_org(&server, "acme", "Passw0rd-acme");
    let session = login(&server, "acme", "admin", "Passw0rd-acme");
    let org_admin = (
        "authorization".to_string(),
        format!("Bearer {}", session["accessToken"].as_str().expect("token")),
    );
    let forged = (
        "x-rockit-admin-token".to_string(),
        session["accessToken"].as_str().expect("token").to_string(),
    );
    let mut checked = 0;
    for (method, path) in admin_routes() {
        checked += 1;
        let filled = path
            .replace("{org}", "acme")
            .replace("{task}", "0190c6f0-0000-7000-8000-000000000000");
        let body = matches!(method, "POST").then_some(&br#"{"message":"x","name":"other"}"#[..]);
        for auth in [None, Some(&org_admin), Some(&forged)] {
            let (status, text) = send(&server, auth, method, &filled, body);
            assert_eq!(status, 401, "{method} {filled} with {auth:?}: {text}");
            check(&format!("{method} {filled}"), status, &text);
        }
    }
    assert!(checked >= 10, "only {checked} admin routes were checked");
    let (status, body) = server.admin(Method::GET, "/adm/v1/orgs/acme", None);
    assert_eq!(status, 200, "the org is still there: {body}");
}
