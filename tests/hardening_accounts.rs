//! Account hardening: nobody grants a bit they do not hold, and a changed password ends the
//! other sessions.

mod common;

use common::{Be, Server, assert_error, create_org, login};
use reqwest::Method;
use serde_json::{Value, json};

fn bearer<'a>(server: &'a Server, session: &Value) -> Be<'a> {
    Be::bearer(server, session["accessToken"].as_str().expect("token"))
}

fn ok(be: &Be, method: Method, path: &str, body: Value) -> Value {
    let (status, answer) = be.call(method, path, Some(body));
    assert_eq!(status, 200, "{path}: {answer}");
    answer
}

/// A person with one role holding `permissions`, logged in.
fn delegate<'a>(server: &'a Server, admin: &Be, name: &str, permissions: Value) -> Be<'a> {
    ok(
        admin,
        Method::POST,
        "/be/v1/roles",
        json!({"name": name, "permissions": permissions}),
    );
    let password = format!("Passw0rd-{name}");
    ok(
        admin,
        Method::POST,
        "/be/v1/users",
        json!({"username": name, "email": format!("{name}@example.com"), "firstname": "A", "surname": "B", "roles": [name], "password": password}),
    );
    bearer(server, &login(server, "acme", name, &password))
}

#[test]
fn nobody_grants_a_permission_they_do_not_hold() {
    let server = Server::start();
    create_org(&server, "acme", "Passw0rd-acme");
    let admin = bearer(&server, &login(&server, "acme", "admin", "Passw0rd-acme"));
    let usermgr = delegate(&server, &admin, "usermgr", json!({"beUsers": 15}));
    let (status, answer) = usermgr.call(
        Method::PATCH,
        "/be/v1/users",
        Some(json!({"username": "usermgr", "roles": ["usermgr", "Administrators"]})),
    );
    assert_error(status, &answer, 403, "permission-denied");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("grant")),
        "{answer}"
    );
    let (status, answer) = usermgr.call(
        Method::POST,
        "/be/v1/users",
        Some(json!({"username": "helper", "label": "CI", "roles": ["Administrators"]})),
    );
    assert_error(status, &answer, 403, "permission-denied");
    ok(
        &usermgr,
        Method::POST,
        "/be/v1/users",
        json!({"username": "helper", "label": "CI", "roles": ["usermgr"]}),
    );

    let rolemgr = delegate(&server, &admin, "rolemgr", json!({"roles": 15}));
    let (status, answer) = rolemgr.call(
        Method::PATCH,
        "/be/v1/roles",
        Some(json!({"name": "rolemgr", "permissions": {"roles": 15, "apps": 15}})),
    );
    assert_error(status, &answer, 403, "permission-denied");
    let (status, answer) = rolemgr.call(
        Method::POST,
        "/be/v1/roles",
        Some(json!({"name": "wide", "permissions": {"deployments": 1}})),
    );
    assert_error(status, &answer, 403, "permission-denied");
    ok(
        &rolemgr,
        Method::POST,
        "/be/v1/roles",
        json!({"name": "narrow", "permissions": {"roles": 2}}),
    );
    ok(
        &rolemgr,
        Method::PATCH,
        "/be/v1/roles",
        json!({"name": "usermgr", "label": "User managers"}),
    );
    let (_, role) = admin.call(Method::GET, "/be/v1/roles/rolemgr", None);
    assert_eq!(role["role"]["permissions"], json!({"roles": 15}), "{role}");
}

#[test]
fn a_changed_password_ends_every_other_session() {
    let server = Server::start();
    create_org(&server, "acme", "Passw0rd-acme");
    let kept = bearer(&server, &login(&server, "acme", "admin", "Passw0rd-acme"));
    let other = login(&server, "acme", "admin", "Passw0rd-acme");
    ok(
        &kept,
        Method::PATCH,
        "/be/v1/users",
        json!({"username": "admin", "oldPW": "Passw0rd-acme", "newPW": "Passw0rd-new"}),
    );
    let (status, _) = kept.call(Method::GET, "/be/v1/users", None);
    assert_eq!(status, 200, "the session that changed the password goes on");
    let (status, body) = bearer(&server, &other).call(Method::GET, "/be/v1/users", None);
    assert_error(status, &body, 401, "token-invalid");
    let (status, body) = Be::anonymous(&server).call(
        Method::POST,
        "/be/v1/refresh",
        Some(json!({"refreshToken": other["refreshToken"]})),
    );
    assert_eq!(status, 401, "{body}");

    ok(
        &kept,
        Method::POST,
        "/be/v1/users",
        json!({"username": "bob", "email": "bob@example.com", "firstname": "B", "surname": "B", "roles": [], "password": "Passw0rd-bob"}),
    );
    let bob = bearer(&server, &login(&server, "acme", "bob", "Passw0rd-bob"));
    let (status, _) = bob.call(Method::GET, "/be/v1/users/bob", None);
    assert_eq!(status, 200);
    ok(
        &kept,
        Method::PATCH,
        "/be/v1/users",
        json!({"username": "bob", "resetCreds": true}),
    );
    let (status, body) = bob.call(Method::GET, "/be/v1/users/bob", None);
    assert_error(status, &body, 401, "token-invalid");
}
