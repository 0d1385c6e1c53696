//! kill -9 while writes are in flight, in a few bounded rounds: every acknowledged write is
//! there after the restart, and every change that committed carries its audit entry.

mod common;

use std::sync::{Arc, Mutex};

use common::{Be, Server, create_org, login, wait_for};
use reqwest::Method;
use serde_json::{Value, json};

fn names(body: &Value, list: &str, key: &str) -> Vec<String> {
    body[list]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|item| item[key].as_str().map(str::to_string))
        .collect()
}

#[test]
fn kill_9_under_writes_loses_no_acknowledged_write_and_no_audit_entry() {
    let mut server = Server::start();
    create_org(&server, "acme", "Passw0rd-acme");
    for round in 0..4u64 {
        let session = login(&server, "acme", "admin", "Passw0rd-acme");
        let token = session["accessToken"].as_str().expect("token").to_string();
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let writer = {
            let (url, client, acknowledged) = (
                server.url("/be/v1/apps"),
                server.client.clone(),
                Arc::clone(&acknowledged),
            );
            std::thread::spawn(move || {
                for i in 0..400 {
                    let name = format!("r{round}_app{i}");
                    let sent = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({"name": name, "label": "crash test"}))
                        .send();
                    match sent {
                        Ok(response) if response.status().is_success() => {
                            acknowledged.lock().expect("lock").push(name)
                        }
                        _ => return,
                    }
                }
            })
        };
        let wanted = 5 + 7 * round as usize;
        wait_for("some acknowledged writes", 60, || {
            acknowledged.lock().expect("lock").len() >= wanted
        });
        server.kill9();
        writer.join().expect("writer");
        server.launch();

        let session = login(&server, "acme", "admin", "Passw0rd-acme");
        let admin = Be::bearer(&server, session["accessToken"].as_str().expect("token"));
        let (status, apps) = admin.call(Method::GET, "/be/v1/apps?limit=1000", None);
        assert_eq!(status, 200, "{apps}");
        let stored = names(&apps, "apps", "name");
        for name in acknowledged.lock().expect("lock").iter() {
            assert!(
                stored.contains(name),
                "round {round}: acknowledged {name} was lost"
            );
        }
        let (status, trail) = admin.call(
            Method::GET,
            "/be/v1/activities?limit=1000&action=POST%20/be/v1/apps",
            None,
        );
        assert_eq!(status, 200, "{trail}");
        let audited = trail["activities"]
            .as_array()
            .expect("activities")
            .iter()
            .filter(|entry| entry["result"] == 200)
            .count();
        assert_eq!(
            audited,
            stored.len(),
            "round {round}: every committed app has exactly one audit entry"
        );
    }
}

/// What a deletion test deletes.
#[derive(Clone, Copy, Debug)]
enum Deletion {
    App,
    Deployment,
    Org,
}

/// A depot file and an origin object under each layout root of `acme/game`.
fn publish_files(server: &Server, s3: &common::S3Server, prefix: &str) {
    for root in ["dxf/acme/game/0001/x", "pat/acme/game/0002/0001"] {
        let file = server.data_dir().join("depot").join(root).join("data.bin");
        std::fs::create_dir_all(file.parent().expect("parent")).expect("depot dir");
        std::fs::write(&file, b"published bytes").expect("depot file");
        s3.put(&format!("{prefix}/{root}/data.bin"), b"published bytes");
    }
}

fn depot_files(server: &Server) -> usize {
    ["dxf/acme/game", "pat/acme/game"]
        .iter()
        .filter(|root| server.data_dir().join("depot").join(root).exists())
        .count()
}

/// Sends the deletion without waiting for an answer the crash may swallow.
fn delete(server: &Server, token: &str, deletion: Deletion) {
    let request = match deletion {
        Deletion::App => server
            .client
            .delete(server.url("/be/v1/apps/game"))
            .bearer_auth(token),
        Deletion::Deployment => server
            .client
            .delete(server.url("/be/v1/deployments/cdn"))
            .bearer_auth(token),
        Deletion::Org => server
            .client
            .delete(server.url("/adm/v1/orgs/acme?prune=true"))
            .header("x-rockit-admin-token", server.admin_token("ops")),
    };
    let _ = request.send();
}

/// The deletion is complete: no record, no file on the depot or the origin, no unfinished
/// task, and the name can be taken again.
fn assert_deleted(server: &Server, s3: &common::S3Server, prefix: &str, deletion: Deletion) {
    let what = format!("{deletion:?} at {prefix}");
    wait_for(&format!("{what}: the origin emptied"), 60, || {
        s3.keys(&format!("{prefix}/")).is_empty()
    });
    if !matches!(deletion, Deletion::Deployment) {
        wait_for(&format!("{what}: the depot emptied"), 60, || {
            depot_files(server) == 0
        });
    }
    match deletion {
        Deletion::Org => {
            wait_for(&format!("{what}: the org name free again"), 60, || {
                server
                    .admin(
                        Method::POST,
                        "/adm/v1/orgs",
                        Some(json!({"name": "acme", "password": "Passw0rd-acme"})),
                    )
                    .0
                    == 200
            });
        }
        Deletion::App | Deletion::Deployment => {
            let session = login(server, "acme", "admin", "Passw0rd-acme");
            let admin = Be::bearer(server, session["accessToken"].as_str().expect("token"));
            let path = match deletion {
                Deletion::App => "/be/v1/apps/game",
                _ => "/be/v1/deployments/cdn",
            };
            wait_for(&format!("{what}: the record gone"), 60, || {
                admin.call(Method::GET, path, None).0 == 404
            });
            wait_for(&format!("{what}: every cleanup done"), 60, || {
                let (_, tasks) = admin.call(Method::GET, "/be/v1/tasks?type=cleanup", None);
                let all = tasks["tasks"].as_array().cloned().unwrap_or_default();
                !all.is_empty() && all.iter().all(|t| t["status"] == "done")
            });
        }
    }
}

#[test]
fn a_deletion_killed_between_any_two_steps_completes_after_the_restart() {
    let Some(s3) = common::S3Server::start() else {
        return;
    };
    let scenarios = [
        (Deletion::App, "app.delete.committed"),
        (Deletion::App, "cleanup.depot_emptied"),
        (Deletion::App, "cleanup.origin_emptied"),
        (Deletion::Deployment, "deployment.delete.committed"),
        (Deletion::Deployment, "cleanup.origin_emptied"),
        (Deletion::Deployment, "cleanup.record_removed"),
        (Deletion::Org, "org.delete.committed"),
        (Deletion::Org, "cleanup.depot_emptied"),
        (Deletion::Org, "cleanup.origin_emptied"),
    ];
    for (n, (deletion, point)) in scenarios.into_iter().enumerate() {
        let prefix = format!("crash{n}");
        let mut server = Server::start_with(
            &[],
            &[common::LOCAL_ORIGINS, ("ROCKIT_EDGE_CRASH_AT", point)],
        );
        create_org(&server, "acme", "Passw0rd-acme");
        let session = login(&server, "acme", "admin", "Passw0rd-acme");
        let token = session["accessToken"].as_str().expect("token").to_string();
        let admin = Be::bearer(&server, &token);
        let cdn = json!({
            "name": "cdn", "label": "CDN",
            "origin": {"s3": {"hostname": s3.hostname(), "accessKey": s3.access_key,
                "secretKey": s3.secret_key, "location": "us-east-1", "bucket": "edge",
                "prefix": prefix}},
        });
        let (status, body) = admin.call(Method::POST, "/be/v1/deployments", Some(cdn));
        assert_eq!(status, 200, "{body}");
        let registered = if matches!(deletion, Deletion::Deployment) {
            json!([])
        } else {
            json!(["cdn"])
        };
        let (status, body) = admin.call(
            Method::POST,
            "/be/v1/apps",
            Some(json!({"name": "game", "label": "Game", "deployments": registered})),
        );
        assert_eq!(status, 200, "{body}");
        publish_files(&server, &s3, &prefix);

        delete(&server, &token, deletion);
        assert!(
            server.wait_exit(30),
            "{deletion:?}: the server did not stop at {point}"
        );
        assert!(
            server
                .log()
                .contains(&format!("crash point {point} reached")),
            "{deletion:?} stopped elsewhere than {point}:\n{}",
            server.log()
        );
        server
            .env
            .retain(|(name, _)| name != "ROCKIT_EDGE_CRASH_AT");
        server.launch();
        assert_deleted(&server, &s3, &prefix, deletion);
    }
}
