//! The identity scenario over HTTPS, token lifecycles, throttling, and secrets that never leak.

mod common;

use common::{Be, Server, assert_error, create_org, login};
use reqwest::Method;
use serde_json::{Value, json};

/// Every response of the scenario, to check where secrets appear.
struct Transcript {
    bodies: Vec<String>,
}

impl Transcript {
    fn call(&mut self, be: &Be, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, body) = be.call(method, path, body);
        self.bodies.push(body.to_string());
        (status, body)
    }
}

#[test]
fn ci_scenario_over_https_and_no_secret_leaks() {
    let server = Server::start();
    let admin_password = "Org-Admin-Passw0rd!";
    let mut t = Transcript { bodies: Vec::new() };
    let (status, body) = server.admin(
        Method::POST,
        "/adm/v1/orgs",
        Some(json!({"name": "acme", "password": admin_password})),
    );
    assert_eq!(status, 200, "{body}");
    t.bodies.push(body.to_string());

    let anonymous = Be::anonymous(&server);
    let (status, step1) = t.call(
        &anonymous,
        Method::POST,
        "/be/v1/login",
        Some(json!({"username": "admin", "password": admin_password})),
    );
    assert_eq!(status, 200, "{step1}");
    assert_eq!(step1["orgs"], json!([{"name": "acme", "label": "acme"}]));
    assert_eq!(step1["expiresIn"], 900);
    let org_sel = step1["orgSelToken"]
        .as_str()
        .expect("orgSelToken")
        .to_string();
    let issued_org_sel = t.bodies.len() - 1;
    let (status, session) = t.call(
        &anonymous,
        Method::POST,
        "/be/v1/login",
        Some(json!({"orgSelToken": org_sel, "orgName": "acme"})),
    );
    assert_eq!(status, 200, "{session}");
    let issued_session = t.bodies.len() - 1;
    assert_eq!(session["accessExpiresIn"], 900);
    assert_eq!(session["refreshExpiresIn"], 86400);
    assert_eq!(session["permissions"]["tasks"], 31);
    let access = session["accessToken"].as_str().expect("access").to_string();
    let refresh = session["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_string();
    let admin = Be::bearer(&server, &access);

    let (status, body) = t.call(
        &admin,
        Method::POST,
        "/be/v1/roles",
        Some(json!({"name": "CI", "permissions": {"apps": 15}})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, created) = t.call(
        &admin,
        Method::POST,
        "/be/v1/users",
        Some(json!({"username": "ci_bot", "label": "CI pipeline", "roles": ["CI"]})),
    );
    assert_eq!(status, 200, "{created}");
    let issued_key = t.bodies.len() - 1;
    let api_key = created["apiKey"]
        .as_str()
        .expect("apiKey shown once")
        .to_string();
    assert!(api_key.starts_with("rke_"));
    assert_eq!(created["user"]["type"], "machine");

    for bot in [
        Be::bearer(&server, &api_key),
        Be::machine(&server, "acme", "ci_bot", &api_key),
    ] {
        for path in ["/be/v1/users", "/be/v1/roles"] {
            let (status, body) = t.call(&bot, Method::GET, path, None);
            assert_error(status, &body, 403, "permission-denied");
            assert!(
                body["message"].as_str().unwrap_or("").contains(".read"),
                "{body}"
            );
        }
        let (status, body) = t.call(&bot, Method::GET, "/be/v1/apps", None);
        assert_eq!(status, 200, "{body}");
    }
    let alias = Be {
        server: &server,
        headers: vec![("x-rockit-beauth-token".into(), access.clone())],
    };
    for path in [
        "/be/v1/users",
        "/be/v1/roles",
        "/be/v1/apps",
        "/be/v1/users/admin",
        "/be/v1/roles/CI",
        "/be/v1/activities",
    ] {
        let (status, body) = t.call(&admin, Method::GET, path, None);
        assert_eq!(status, 200, "{path}: {body}");
        let (status, body) = t.call(&alias, Method::GET, path, None);
        assert_eq!(status, 200, "{path} via x-rockit-beauth-token: {body}");
    }
    let (_, users) = t.call(&admin, Method::GET, "/be/v1/users", None);
    assert_eq!(users["total"], 2);

    let (status, activities) = t.call(
        &admin,
        Method::GET,
        "/be/v1/activities?actor=admin&action=roles",
        None,
    );
    assert_eq!(status, 200, "{activities}");
    let entry = &activities["activities"][0];
    assert_eq!(entry["action"], "POST /be/v1/roles", "{activities}");
    assert_eq!(entry["result"], 200);
    assert!(
        entry["clientAddress"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.")),
        "{entry}"
    );

    let secrets = [
        (admin_password.to_string(), None),
        (org_sel.clone(), Some(issued_org_sel)),
        (access.clone(), Some(issued_session)),
        (refresh.clone(), Some(issued_session)),
        (api_key.clone(), Some(issued_key)),
    ];
    let log = server.log();
    for (secret, issued_in) in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a secret appears in the server log"
        );
        for (index, body) in t.bodies.iter().enumerate() {
            if body.contains(secret.as_str()) {
                assert_eq!(
                    Some(index),
                    *issued_in,
                    "a secret appears in response {index}: {body}"
                );
            }
        }
    }
    let store = std::fs::read(server.data_dir().join("edge.redb")).expect("store file");
    for (secret, _) in &secrets[..] {
        let needle = secret.as_bytes();
        assert!(
            !store.windows(needle.len()).any(|w| w == needle),
            "a secret is stored in clear"
        );
    }
}

#[test]
fn refresh_rotation_detects_reuse_and_logout_is_immediate() {
    let server = Server::start();
    create_org(&server, "acme", "Passw0rd-acme");
    let session = login(&server, "acme", "admin", "Passw0rd-acme");
    let old_refresh = session["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_string();
    let anonymous = Be::anonymous(&server);

    let (status, rotated) =
        Be::bearer(&server, &old_refresh).call(Method::POST, "/be/v1/refresh", None);
    assert_eq!(status, 200, "{rotated}");
    let new_refresh = rotated["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_string();
    assert_ne!(new_refresh, old_refresh);
    let new_access = rotated["accessToken"].as_str().expect("access").to_string();
    let (status, _) = Be::bearer(&server, &new_access).call(Method::GET, "/be/v1/users", None);
    assert_eq!(status, 200);

    let (status, body) = anonymous.call(
        Method::POST,
        "/be/v1/refresh",
        Some(json!({"refreshToken": old_refresh})),
    );
    assert_error(status, &body, 401, "token-invalid");
    let (status, body) =
        Be::bearer(&server, &new_refresh).call(Method::POST, "/be/v1/refresh", None);
    assert_error(status, &body, 401, "token-invalid");
    let (status, body) = Be::bearer(&server, &new_access).call(Method::GET, "/be/v1/users", None);
    assert_error(status, &body, 401, "token-invalid");

    let session = login(&server, "acme", "admin", "Passw0rd-acme");
    let access = session["accessToken"].as_str().expect("access").to_string();
    let refresh = session["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_string();
    let (status, body) = Be::bearer(&server, &access).call(Method::POST, "/be/v1/refresh", None);
    assert_error(status, &body, 401, "token-invalid");
    assert!(
        body["message"].as_str().unwrap_or("").contains("Refresh"),
        "wrong token type named: {body}"
    );

    let exchange = |token: &str| {
        Be {
            server: &server,
            headers: vec![("x-rockit-besession-token".into(), token.into())],
        }
        .call(Method::POST, "/be/v1/auth", None)
    };
    let (status, first) = exchange(&refresh);
    assert_eq!(status, 200, "{first}");
    let (status, second) = exchange(&refresh);
    assert_eq!(status, 200, "auth may be repeated: {second}");
    let beauth = second["beauthToken"]
        .as_str()
        .expect("beauthToken")
        .to_string();
    let (status, _) = Be::bearer(&server, &beauth).call(Method::GET, "/be/v1/roles", None);
    assert_eq!(status, 200);

    let (status, body) = Be::bearer(&server, &access).call(Method::POST, "/be/v1/logout", None);
    assert_eq!(status, 200, "{body}");
    for token in [&access, &beauth] {
        let (status, body) = Be::bearer(&server, token).call(Method::GET, "/be/v1/users", None);
        assert_error(status, &body, 401, "token-invalid");
    }
    let (status, body) = exchange(&refresh);
    assert_error(status, &body, 401, "token-invalid");
}

#[test]
fn an_expired_access_token_is_token_expired() {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let server = Server::start_with(&[], &[("ROCKIT_EDGE__AUTH__ACCESS_TOKEN_SECS", "1")]);
    create_org(&server, "acme", "Passw0rd-acme");
    let session = login(&server, "acme", "admin", "Passw0rd-acme");
    assert_eq!(session["accessExpiresIn"], 1);
    // The clock is the subject: the same claims, signed with the server's token key, issued
    // and expired in the past, instead of waiting for the real token to expire.
    let access = session["accessToken"].as_str().expect("access");
    let payload = access.split('.').nth(1).expect("payload");
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("claims");
    let now = chrono::Utc::now().timestamp();
    claims["iat"] = json!(now - 120);
    claims["exp"] = json!(now - 60);
    let secret = std::fs::read_to_string(server.data_dir().join("secrets/token.secret"))
        .expect("token secret");
    let key = STANDARD.decode(secret.trim()).expect("key");
    let expired = rockit_edge::auth::jwt::sign(&claims, &key).expect("sign");
    let (status, body) = Be::bearer(&server, &expired).call(Method::GET, "/be/v1/users", None);
    assert_error(status, &body, 401, "token-expired");
}

#[test]
fn repeated_bad_passwords_lock_the_username_out() {
    let server = Server::start();
    create_org(&server, "acme", "Passw0rd-acme");
    let anonymous = Be::anonymous(&server);
    let mut limited = None;
    for attempt in 1..=20 {
        let (status, body) = anonymous.call(
            Method::POST,
            "/be/v1/login",
            Some(json!({"username": "admin", "password": format!("wrong-{attempt}")})),
        );
        if status == 429 {
            assert_error(status, &body, 429, "rate-limited");
            limited.get_or_insert(attempt);
        } else {
            assert_error(status, &body, 401, "unauthorized");
        }
    }
    assert!(
        limited.is_some_and(|n| n <= 20),
        "20 bad passwords must end in 429"
    );
    let response = server
        .client
        .post(server.url("/be/v1/login"))
        .json(&json!({"username": "admin", "password": "Passw0rd-acme", "orgName": "acme"}))
        .send()
        .expect("login");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!(retry_after > 0);
    let (status, body) = common::json_response(response);
    assert_error(status, &body, 429, "rate-limited");
}

#[test]
fn credential_headers_must_be_one_complete_kind() {
    let server = Server::start();
    create_org(&server, "acme", "Passw0rd-acme");
    let session = login(&server, "acme", "admin", "Passw0rd-acme");
    let access = session["accessToken"].as_str().expect("access");
    let mixed = Be {
        server: &server,
        headers: vec![
            ("authorization".into(), format!("Bearer {access}")),
            ("x-rockit-orgname".into(), "acme".into()),
        ],
    };
    let (status, body) = mixed.call(Method::GET, "/be/v1/users", None);
    assert_error(status, &body, 400, "invalid-param");
    let partial = Be {
        server: &server,
        headers: vec![
            ("x-rockit-orgname".into(), "acme".into()),
            ("x-rockit-username".into(), "bot".into()),
        ],
    };
    let (status, body) = partial.call(Method::GET, "/be/v1/users", None);
    assert_error(status, &body, 400, "missing-param");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("x-rockit-api-key"),
        "{body}"
    );
    let differing = Be {
        server: &server,
        headers: vec![
            ("authorization".into(), format!("Bearer {access}")),
            ("x-rockit-beauth-token".into(), "other".into()),
        ],
    };
    let (status, body) = differing.call(Method::GET, "/be/v1/users", None);
    assert_error(status, &body, 400, "invalid-param");
    let (status, body) = Be::anonymous(&server).call(Method::GET, "/be/v1/users", None);
    assert_error(status, &body, 401, "unauthorized");
    let (status, body) = Be::machine(&server, "acme", "admin", "rke_nope_nope").call(
        Method::GET,
        "/be/v1/users",
        None,
    );
    assert_error(status, &body, 401, "unauthorized");
}
