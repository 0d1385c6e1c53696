//! Account and role rules: credentials, the last administrator, the fixed role, masks.

mod common;

use common::{Be, Server, assert_error, create_org, login};
use reqwest::Method;
use serde_json::json;

fn admin(server: &Server) -> Be<'_> {
    create_org(server, "acme", "Passw0rd-acme");
    let session = login(server, "acme", "admin", "Passw0rd-acme");
    Be::bearer(server, session["accessToken"].as_str().expect("token"))
}

fn try_login(server: &Server, user: &str, password: &str) -> u16 {
    Be::anonymous(server)
        .call(
            Method::POST,
            "/be/v1/login",
            Some(json!({"username": user, "password": password, "orgName": "acme"})),
        )
        .0
}

#[test]
fn persons_get_passwords_and_change_their_own() {
    let server = Server::start();
    let admin = admin(&server);
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/users",
        Some(json!({"username": "dana", "email": "dana@example.test", "firstname": "Dana", "surname": "S", "roles": []})),
    );
    assert_eq!(status, 200, "{body}");
    let generated = body["password"]
        .as_str()
        .expect("generated password")
        .to_string();
    assert_eq!(body["user"]["type"], "person");
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/users",
        Some(json!({"username": "DANA", "email": "x@y", "roles": []})),
    );
    assert_error(status, &body, 409, "item-exists");
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/users",
        Some(json!({"username": "eve", "email": "e@x", "roles": ["Nope"]})),
    );
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/users",
        Some(json!({"username": "eve", "roles": []})),
    );
    assert_error(status, &body, 400, "missing-param");
    let (_, listed) = admin.call(Method::GET, "/be/v1/users", None);
    assert!(
        !listed.to_string().contains("argon2"),
        "hashes never leave the store: {listed}"
    );

    let dana = Be::bearer(
        &server,
        login(&server, "acme", "dana", &generated)["accessToken"]
            .as_str()
            .expect("token"),
    );
    let (status, body) = dana.call(
        Method::PATCH,
        "/be/v1/users",
        Some(json!({"username": "dana", "oldPW": "not-the-password", "newPW": "Brand-new-pass"})),
    );
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = dana.call(
        Method::PATCH,
        "/be/v1/users",
        Some(json!({"username": "dana", "oldPW": generated, "newPW": "Brand-new-pass"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(try_login(&server, "dana", &generated), 401);
    assert_eq!(try_login(&server, "dana", "Brand-new-pass"), 200);
    let (status, body) = dana.call(
        Method::PATCH,
        "/be/v1/users",
        Some(json!({"username": "dana", "surname": "Smith"})),
    );
    assert_eq!(status, 200, "a user edits its own profile: {body}");
    let (status, body) = dana.call(
        Method::PATCH,
        "/be/v1/users",
        Some(json!({"username": "dana", "roles": ["Administrators"]})),
    );
    assert_error(status, &body, 403, "permission-denied");
    let (status, body) = dana.call(
        Method::PATCH,
        "/be/v1/users",
        Some(json!({"username": "admin", "surname": "X"})),
    );
    assert_error(status, &body, 403, "permission-denied");

    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/users",
        Some(json!({"username": "dana", "resetCreds": true})),
    );
    assert_eq!(status, 200, "{body}");
    let reset = body["password"].as_str().expect("new password").to_string();
    assert_eq!(try_login(&server, "dana", "Brand-new-pass"), 401);
    assert_eq!(try_login(&server, "dana", &reset), 200);
}

#[test]
fn machine_keys_can_be_added_reset_and_revoked() {
    let server = Server::start();
    let admin = admin(&server);
    let (_, body) = admin.call(
        Method::POST,
        "/be/v1/roles",
        Some(json!({"name": "Reader", "permissions": {"apps": 2}})),
    );
    assert_eq!(body["role"]["permissions"]["apps"], 2);
    let (_, body) = admin.call(
        Method::POST,
        "/be/v1/users",
        Some(json!({"username": "bot", "label": "b", "roles": ["Reader"]})),
    );
    let first = body["apiKey"].as_str().expect("key").to_string();
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/apikeys",
        Some(json!({"username": "bot", "label": "second"})),
    );
    assert_eq!(status, 200, "{body}");
    let second = body["apiKey"].as_str().expect("key").to_string();
    let second_id = body["keyId"].as_str().expect("id").to_string();
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/apikeys",
        Some(json!({"username": "admin"})),
    );
    assert_error(status, &body, 400, "invalid-param");

    let apps = |key: &str| {
        Be::bearer(&server, key)
            .call(Method::GET, "/be/v1/apps", None)
            .0
    };
    assert_eq!(apps(&first), 200);
    assert_eq!(apps(&second), 200);
    // The machine's details list its keys (ids and labels, never a secret), oldest first; a
    // list of users does not.
    let key_ids = |admin: &Be| {
        let (status, body) = admin.call(Method::GET, "/be/v1/users/bot", None);
        assert_eq!(status, 200, "{body}");
        assert!(!body.to_string().contains(&second[second.len() - 20..]));
        body["user"]["apiKeys"]
            .as_array()
            .expect("apiKeys")
            .iter()
            .map(|k| {
                (
                    k["keyId"].as_str().expect("id").to_string(),
                    k["label"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let listed = key_ids(&admin);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(first.contains(&listed[0].0), "{listed:?}");
    assert_eq!(listed[1], (second_id.clone(), json!("second")));
    let (_, users) = admin.call(Method::GET, "/be/v1/users", None);
    assert!(users["users"][0].get("apiKeys").is_none(), "{users}");
    let (_, person) = admin.call(Method::GET, "/be/v1/users/admin", None);
    assert!(person["user"].get("apiKeys").is_none(), "{person}");

    let (status, _) = admin.call(Method::DELETE, &format!("/be/v1/apikeys/{second_id}"), None);
    assert_eq!(status, 200);
    assert_eq!(apps(&second), 401);
    assert_eq!(key_ids(&admin).len(), 1);

    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/roles",
        Some(json!({"name": "Reader", "permissions": {"roles": 2}})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(apps(&first), 403, "role changes apply at once");

    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/users",
        Some(json!({"username": "bot", "resetCreds": true})),
    );
    assert_eq!(status, 200, "{body}");
    let fresh = body["apiKey"].as_str().expect("new key").to_string();
    assert_eq!(
        Be::bearer(&server, &first)
            .call(Method::GET, "/be/v1/roles", None)
            .0,
        401
    );
    assert_eq!(
        Be::bearer(&server, &fresh)
            .call(Method::GET, "/be/v1/roles", None)
            .0,
        200
    );
}

#[test]
fn the_last_administrator_and_the_administrators_role_are_protected() {
    let server = Server::start();
    let admin = admin(&server);
    let (status, body) = admin.call(Method::DELETE, "/be/v1/users/admin", None);
    assert_error(status, &body, 409, "item-protected");
    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/users",
        Some(json!({"username": "admin", "roles": []})),
    );
    assert_error(status, &body, 409, "item-protected");
    let (status, body) = admin.call(
        Method::PATCH,
        "/be/v1/roles",
        Some(json!({"name": "Administrators", "permissions": {"apps": 1}})),
    );
    assert_error(status, &body, 409, "item-protected");
    let (status, body) = admin.call(Method::DELETE, "/be/v1/roles/Administrators", None);
    assert_error(status, &body, 409, "item-protected");

    let (status, _) = admin.call(
        Method::POST,
        "/be/v1/users",
        Some(json!({"username": "deputy", "email": "d@x", "roles": ["Administrators"], "password": "Deputy-passw0rd"})),
    );
    assert_eq!(status, 200);
    let (status, body) = admin.call(Method::DELETE, "/be/v1/users/admin", None);
    assert_eq!(status, 200, "another administrator exists now: {body}");
    assert_eq!(try_login(&server, "admin", "Passw0rd-acme"), 401);
}

#[test]
fn role_masks_are_validated_and_assigned_roles_stay() {
    let server = Server::start();
    let admin = admin(&server);
    for permissions in [
        json!({"apps": 16}),
        json!({"consumption": 4}),
        json!({"bogus": 1}),
    ] {
        let (status, body) = admin.call(
            Method::POST,
            "/be/v1/roles",
            Some(json!({"name": "Bad", "permissions": permissions})),
        );
        assert_error(status, &body, 400, "invalid-param");
    }
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/roles",
        Some(json!({"name": "Ops", "permissions": {"tasks": 31, "trainings": 6}})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin.call(
        Method::POST,
        "/be/v1/roles",
        Some(json!({"name": "ops", "permissions": {}})),
    );
    assert_error(status, &body, 409, "item-exists");
    admin.call(
        Method::POST,
        "/be/v1/users",
        Some(json!({"username": "op", "label": "o", "roles": ["Ops"]})),
    );
    let (status, body) = admin.call(Method::DELETE, "/be/v1/roles/Ops", None);
    assert_error(status, &body, 409, "item-protected");
    assert!(
        body["message"].as_str().unwrap_or("").contains("op"),
        "{body}"
    );
    admin.call(Method::DELETE, "/be/v1/users/op", None);
    let (status, _) = admin.call(Method::DELETE, "/be/v1/roles/Ops", None);
    assert_eq!(status, 200);
    let (status, body) = admin.call(Method::GET, "/be/v1/roles/Ops", None);
    assert_error(status, &body, 404, "not-found");
}
