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
