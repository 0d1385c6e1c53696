//! Every API route against the permission table: no credentials, a role without the bit,
//! the right bit, and another org's credentials.

mod common;

use common::{Be, Server, create_org, login};
use reqwest::Method;
use rockit_edge::domain::permissions::Need;
use rockit_edge::http::ROUTES;
use serde_json::{Value, json};

/// The routes this test knows, with what each must need. A route added to the router without
/// being added here fails the test.
const EXPECTED: &[(&str, &str, &str)] = &[
    ("POST", "/srv/v1/ping", "public"),
    ("POST", "/srv/v1/hello", "admin"),
    ("GET", "/srv/v1/versions", "admin"),
    ("POST", "/adm/v1/ping", "public"),
    ("POST", "/adm/v1/hello", "admin"),
    ("GET", "/adm/v1/versions", "admin"),
    ("POST", "/adm/v1/orgs", "admin"),
    ("GET", "/adm/v1/orgs", "admin"),
    ("GET", "/adm/v1/orgs/{org}", "admin"),
    ("DELETE", "/adm/v1/orgs/{org}", "admin"),
    ("GET", "/adm/v1/tasks/{task}", "admin"),
    ("GET", "/adm/v1/workers", "admin"),
    ("POST", "/adm/v1/origins/check", "admin"),
    ("GET", "/adm/v1/backup", "admin"),
    ("POST", "/adm/v1/commit", "admin"),
    ("POST", "/be/v1/login", "public"),
    ("POST", "/be/v1/refresh", "public"),
    ("POST", "/be/v1/logout", "public"),
    ("POST", "/be/v1/auth", "public"),
    ("POST", "/be/v1/orgs", "admin"),
    ("DELETE", "/be/v1/orgs/{org}", "orgadmin"),
    ("POST", "/be/v1/users", "beUsers.create"),
    ("GET", "/be/v1/users", "beUsers.read"),
    ("GET", "/be/v1/users/{username}", "self|beUsers.read"),
    ("PATCH", "/be/v1/users", "self|beUsers.update"),
    ("DELETE", "/be/v1/users/{username}", "beUsers.delete"),
    ("POST", "/be/v1/apikeys", "beUsers.update"),
    ("DELETE", "/be/v1/apikeys/{keyId}", "beUsers.update"),
    ("POST", "/be/v1/roles", "roles.create"),
    ("GET", "/be/v1/roles", "roles.read"),
    ("GET", "/be/v1/roles/{name}", "roles.read"),
    ("PATCH", "/be/v1/roles", "roles.update"),
    ("DELETE", "/be/v1/roles/{name}", "roles.delete"),
    ("GET", "/be/v1/activities", "beUsers.read"),
    ("POST", "/be/v1/apps", "apps.create"),
    ("GET", "/be/v1/apps", "apps.read"),
    ("GET", "/be/v1/apps/{app}", "apps.read"),
    ("PATCH", "/be/v1/apps", "apps.update"),
    ("DELETE", "/be/v1/apps/{app}", "apps.delete"),
    ("POST", "/be/v1/builds", "apps.update"),
    ("POST", "/be/v1/export", "apps.update"),
    ("POST", "/be/v1/commit", "apps.update"),
    ("POST", "/be/v1/keys", "keys.create"),
    ("GET", "/be/v1/keys", "keys.read"),
    ("DELETE", "/be/v1/keys/{id}", "keys.delete"),
    ("POST", "/be/v1/deployments", "deployments.create"),
    ("GET", "/be/v1/deployments", "deployments.read"),
    ("GET", "/be/v1/deployments/{name}", "deployments.read"),
    ("PATCH", "/be/v1/deployments", "deployments.update"),
    ("DELETE", "/be/v1/deployments/{name}", "deployments.delete"),
    ("GET", "/be/v1/tasks", "tasks.read"),
    ("GET", "/be/v1/tasks/{taskName}", "tasks.read"),
    ("PATCH", "/be/v1/tasks", "tasks.update"),
    ("POST", "/be/v1/trigger", "tasks.execute"),
    ("POST", "/be/v1/subscriptions", "subscriptions.create"),
    ("GET", "/be/v1/subscriptions", "subscriptions.read"),
    ("GET", "/be/v1/subscriptions/{name}", "subscriptions.read"),
    (
        "DELETE",
        "/be/v1/subscriptions/{name}",
        "subscriptions.delete",
    ),
    ("GET", "/be/v1/trainings", "trainings.read"),
    ("PATCH", "/be/v1/trainings", "trainings.update"),
    ("POST", "/client/v1/auth", "public"),
    ("POST", "/client/v1/traces", "public"),
    ("PUT", "/upload/v1/{task}", "public"),
    ("GET", "/depot/{path:.*}", "public"),
    ("HEAD", "/depot/{path:.*}", "public"),
];

fn need_text(need: Need) -> String {
    match need {
        Need::Public => "public".into(),
        Need::Admin => "admin".into(),
        Need::OrgAdministrator => "orgadmin".into(),
        Need::Perm(p) => p.to_string(),
        Need::SelfOr(p) => format!("self|{p}"),
    }
}

fn mask_of(need: &str) -> (String, u32) {
    let permission = need.trim_start_matches("self|");
    let (resource, verb) = permission.split_once('.').expect("resource.verb");
    let bit = match verb {
        "create" => 1,
        "read" => 2,
        "update" => 4,
        "delete" => 8,
        _ => 16,
    };
    (resource.to_string(), bit)
}

#[test]
fn the_router_declares_exactly_the_expected_routes() {
    let declared: Vec<(String, String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string(), need_text(r.need)))
        .collect();
    let expected: Vec<(String, String, String)> = EXPECTED
        .iter()
        .map(|(m, p, n)| (m.to_string(), p.to_string(), n.to_string()))
        .collect();
    for route in &declared {
        assert!(
            expected.contains(route),
            "route {route:?} is not in this test's table"
        );
    }
    for route in &expected {
        assert!(
            declared.contains(route),
            "route {route:?} is not declared by the router"
        );
    }
}

struct World<'a> {
    server: &'a Server,
    admin: Be<'a>,
}

impl World<'_> {
    /// A machine user of org `acme` holding exactly `permissions`; its API key.
    fn machine_with(&self, name: &str, permissions: Value) -> String {
        let (status, body) = self.admin.call(
            Method::POST,
            "/be/v1/roles",
            Some(json!({"name": name, "permissions": permissions})),
        );
        assert_eq!(status, 200, "{body}");
        let (status, body) = self.admin.call(
            Method::POST,
            "/be/v1/users",
            Some(json!({"username": name, "label": "probe", "roles": [name]})),
        );
        assert_eq!(status, 200, "{body}");
        body["apiKey"].as_str().expect("apiKey").to_string()
    }

    /// Makes sure the targets exist; returns a fresh API key id of the target user, a task
    /// and a fresh access key id of the target app.
    fn targets(&self) -> Targets {
        self.admin.call(
            Method::POST,
            "/be/v1/users",
            Some(json!({"username": "target", "label": "t", "roles": []})),
        );
        self.admin.call(
            Method::POST,
            "/be/v1/roles",
            Some(json!({"name": "target_role", "permissions": {}})),
        );
        let (status, body) = self.admin.call(
            Method::POST,
            "/be/v1/apikeys",
            Some(json!({"username": "target"})),
        );
        assert_eq!(status, 200, "{body}");
        let key = body["keyId"].as_str().expect("keyId").to_string();
        self.admin.call(
            Method::POST,
            "/be/v1/apps",
            Some(json!({"name": "target_app", "label": "t"})),
        );
        self.admin.call(
            Method::POST,
            "/be/v1/deployments",
            Some(deployment_body("target_dep")),
        );
        self.admin.call(
            Method::POST,
            "/be/v1/subscriptions",
            Some(json!({"name": "target_sub", "url": "http://127.0.0.1:9/hook"})),
        );
        let (status, body) = self.server.admin(
            Method::POST,
            "/srv/v1/hello",
            Some(json!({"message": "target", "orgName": "acme"})),
        );
        assert_eq!(status, 200, "{body}");
        let task = body["taskName"].as_str().expect("task").to_string();
        let (status, access) = self.admin.call(
            Method::POST,
            "/be/v1/keys",
            Some(json!({"appName": "target_app"})),
        );
        assert_eq!(status, 200, "{access}");
        Targets {
            key_id: key,
            task,
            access_key_id: access["accessKey"]["id"].as_str().expect("id").to_string(),
        }
    }
}

/// What the sample requests aim at.
struct Targets {
    key_id: String,
    task: String,
    access_key_id: String,
}

/// A request for the route aimed at org acme's targets.
fn sample(method: &str, path: &str, targets: &Targets, n: usize) -> (String, Option<Value>) {
    let (key_id, task) = (&targets.key_id, &targets.task);
    let name = if path.contains("subscriptions") {
        "target_sub"
    } else if path.contains("deployments") {
        "target_dep"
    } else {
        "target_role"
    };
    let filled = path
        .replace("{username}", "target")
        .replace("{name}", name)
        .replace("{keyId}", key_id)
        .replace("{taskName}", task)
        .replace("{app}", "target_app")
        .replace("{id}", &targets.access_key_id);
    let body = match (method, path) {
        ("POST", "/be/v1/users") => {
            Some(json!({"username": format!("new_{n}"), "label": "x", "roles": []}))
        }
        ("PATCH", "/be/v1/users") => Some(json!({"username": "target", "label": "changed"})),
        ("POST", "/be/v1/apikeys") => Some(json!({"username": "target"})),
        ("POST", "/be/v1/roles") => {
            Some(json!({"name": format!("role_{n}"), "permissions": {"roles": 1}}))
        }
        ("PATCH", "/be/v1/roles") => Some(json!({"name": "target_role", "label": "changed"})),
        ("POST", "/be/v1/apps") => Some(json!({"name": format!("app_{n}"), "label": "x"})),
        ("PATCH", "/be/v1/apps") => Some(json!({"name": "target_app", "label": "changed"})),
        ("POST", "/be/v1/builds") => Some(json!({"appName": "target_app"})),
        ("POST", "/be/v1/export" | "/be/v1/commit") => Some(json!({"appName": "target_app"})),
        ("POST", "/be/v1/keys") => Some(json!({"appName": "target_app"})),
        ("POST", "/be/v1/deployments") => Some(deployment_body(&format!("dep_{n}"))),
        ("PATCH", "/be/v1/deployments") => Some(json!({"name": "target_dep", "label": "changed"})),
        ("PATCH", "/be/v1/tasks") => Some(json!({"name": task, "expire": true})),
        ("POST", "/be/v1/trigger") => Some(json!({"type": "retry", "taskName": task})),
        ("PATCH", "/be/v1/trainings") => {
            Some(json!({"appName": "target_app", "nTracesReliable": 7}))
        }
        ("POST", "/be/v1/subscriptions") => {
            Some(json!({"name": format!("sub_{n}"), "url": "http://127.0.0.1:9/hook"}))
        }
        ("GET" | "DELETE", _) => None,
        _ => panic!("no sample request for {method} {path}"),
    };
    (filled, body)
}

/// A deployment whose origin refuses connections (the probe fails fast; the record is kept).
fn deployment_body(name: &str) -> Value {
    json!({
        "name": name,
        "label": "unreachable",
        "origin": {"s3": {"hostname": "http://127.0.0.1:9", "accessKey": "a", "secretKey": "s", "location": "us-east-1", "bucket": "edge"}}
    })
}

fn method(name: &str) -> Method {
    Method::from_bytes(name.as_bytes()).expect("method")
}

#[test]
fn every_route_enforces_its_declared_permission_and_the_org_boundary() {
    let server = Server::start();
    create_org(&server, "acme", "Passw0rd-acme");
    create_org(&server, "rival", "Passw0rd-rival");
    let acme = login(&server, "acme", "admin", "Passw0rd-acme");
    let rival = login(&server, "rival", "admin", "Passw0rd-rival");
    let world = World {
        server: &server,
        admin: Be::bearer(&server, acme["accessToken"].as_str().expect("token")),
    };
    let rival_admin = Be::bearer(&server, rival["accessToken"].as_str().expect("token"));
    let nothing = world.machine_with("nothing", json!({}));

    for (n, route) in ROUTES.iter().enumerate() {
        let need = need_text(route.need);
        if matches!(
            route.need,
            Need::Public | Need::Admin | Need::OrgAdministrator
        ) {
            continue;
        }
        let targets = world.targets();
        let (path, body) = sample(route.method, route.path, &targets, n);
        let call = |be: &Be| be.call(method(route.method), &path, body.clone());
        let what = format!("{} {}", route.method, route.path);

        let (status, reply) = call(&rival_admin);
        let is_list = route.method == "GET" && !route.path.contains('{');
        if is_list {
            assert_eq!(status, 200, "{what} for another org: {reply}");
            let text = reply.to_string();
            assert!(
                !text.contains("acme"),
                "{what} leaked acme's records: {text}"
            );
            if route.path != "/be/v1/activities" {
                assert!(
                    !text.contains("target") && !text.contains("nothing"),
                    "{what} leaked acme's records: {text}"
                );
            }
        } else if route.method == "POST"
            && !route.path.ends_with("apikeys")
            && !route.path.ends_with("trigger")
            && !route.path.ends_with("builds")
            && !route.path.ends_with("export")
            && !route.path.ends_with("commit")
            && !route.path.ends_with("keys")
        {
            assert_eq!(
                status, 200,
                "{what} creates in the caller's own org: {reply}"
            );
        } else {
            assert_eq!(
                status, 404,
                "{what} must not reach another org's records: {reply}"
            );
        }

        let (status, reply) = call(&Be::anonymous(&server));
        assert_eq!(status, 401, "{what} without credentials: {reply}");

        let (status, reply) = call(&Be::bearer(&server, &nothing));
        assert_eq!(status, 403, "{what} without the bit: {reply}");
        assert_eq!(reply["error"], "permission-denied");

        let (resource, bit) = mask_of(&need);
        let holder = world.machine_with(&format!("holder_{n}"), json!({ resource: bit }));
        let (status, reply) = call(&Be::bearer(&server, &holder));
        assert!(
            status != 401 && status != 403,
            "{what} with {need}: {status} {reply}"
        );
        if route.method == "GET" {
            assert_eq!(status, 200, "{what} reads the target with {need}: {reply}");
        }
    }
    let (status, reply) =
        Be::bearer(&server, &nothing).call(Method::GET, "/be/v1/users/nothing", None);
    assert_eq!(
        status, 200,
        "a user reads itself without beUsers.read: {reply}"
    );
}

#[test]
fn only_an_orgs_own_administrators_delete_it_through_the_backend() {
    let server = Server::start();
    create_org(&server, "acme", "Passw0rd-acme");
    create_org(&server, "rival", "Passw0rd-rival");
    let acme = Be::bearer(
        &server,
        login(&server, "acme", "admin", "Passw0rd-acme")["accessToken"]
            .as_str()
            .expect("token"),
    );
    let rival = Be::bearer(
        &server,
        login(&server, "rival", "admin", "Passw0rd-rival")["accessToken"]
            .as_str()
            .expect("token"),
    );
    let world = World {
        server: &server,
        admin: Be::bearer(
            &server,
            login(&server, "acme", "admin", "Passw0rd-acme")["accessToken"]
                .as_str()
                .expect("token"),
        ),
    };
    let everything =
        json!({"apps": 15, "beUsers": 15, "roles": 15, "tasks": 31, "deployments": 15});
    let strong_bot = world.machine_with("strong", everything);

    let (status, reply) = rival.call(Method::DELETE, "/be/v1/orgs/acme", None);
    assert_eq!(status, 404, "another org's name is not found: {reply}");
    let (status, reply) =
        Be::bearer(&server, &strong_bot).call(Method::DELETE, "/be/v1/orgs/acme", None);
    assert_eq!(
        status, 403,
        "permissions without the Administrators role: {reply}"
    );
    let (status, reply) = acme.call(Method::DELETE, "/be/v1/orgs/acme?prune=true", None);
    assert_eq!(status, 200, "{reply}");
    let (status, _) = server.admin(Method::GET, "/adm/v1/orgs/acme", None);
    assert_eq!(status, 404);
}
