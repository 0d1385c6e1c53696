//! Online backup and restore: a backup taken while a load script creates and deletes apps and
//! roles and imports builds restores into a fresh data dir where everything committed before
//! the backup began is present, nothing is half there, tokens minted before still verify and
//! the depot's files match the manifest. Damaged archives and non-empty targets are refused;
//! a stopped data dir backs up too; scheduled backups keep their number.

mod common;
mod common_builds;
mod common_engine;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{Be, Server, cli, login, wait_for};
use common_builds::*;
use reqwest::Method;
use rockit_edge::ops::read_manifest;
use serde_json::{Value, json};

fn succeeded(out: &Output) -> String {
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    said
}

fn failed(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn restore(archive: &Path, target: &Path) -> Output {
    cli(target, &["restore", archive.to_str().expect("utf8")])
}

fn call_ok(be: &Be, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, answer) = be.call(method, path, body);
    assert_eq!(status, 200, "{path}: {answer}");
    answer
}

fn names(be: &Be, path: &str, key: &str) -> Vec<String> {
    call_ok(be, Method::GET, &format!("{path}?limit=1000"), None)[key]
        .as_array()
        .expect("list")
        .iter()
        .map(|item| item["name"].as_str().expect("name").to_string())
        .collect()
}

#[test]
fn a_backup_under_load_restores_everything_committed_before_it() {
    let server = Server::start_with(&[], &ENV[..1]);
    let key = publisher(&server);
    let be = Be::bearer(&server, &key);
    let work = tempfile::tempdir().expect("tempdir");
    let tars = game_versions(work.path());

    // Committed before the backup: an app with a build, two more apps, a role, tokens.
    create_app(&be, json!({"maxBuilds": 3}));
    let started = import(&be, json!({"appName": APP, "buildName": "1.0"}));
    upload_in_two(
        &server,
        started["uploadUrl"].as_str().expect("url"),
        &tars[0],
        4096,
    );
    let done = wait_import(&be, started["taskName"].as_str().expect("task"));
    assert_eq!(done["status"], "done", "{done}");
    for name in ["Keep1", "Keep2"] {
        call_ok(
            &be,
            Method::POST,
            "/be/v1/apps",
            Some(json!({"name": name, "label": name})),
        );
    }
    call_ok(
        &be,
        Method::POST,
        "/be/v1/roles",
        Some(json!({"name": "Stable", "permissions": {"apps": 2}})),
    );
    let access_key = call_ok(
        &be,
        Method::POST,
        "/be/v1/keys",
        Some(json!({"appName": APP, "label": "launcher"})),
    )["key"]
        .as_str()
        .expect("access key")
        .to_string();
    let session = login(&server, ORG, "admin", "orgadmin-pass-1");
    let access_token = session["accessToken"].as_str().expect("token").to_string();
    let admin_token = server.admin_token("ops");

    // The load: apps and roles created and deleted, a build imported, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicUsize::new(0));
    let load = {
        let (stop, rounds) = (Arc::clone(&stop), Arc::clone(&rounds));
        let server_url = server.url("");
        let ca = server.data_dir().join("tls/ca.pem");
        let (key, tar) = (key.clone(), tars[1].clone());
        std::thread::spawn(move || load(&server_url, &ca, &key, &tar, &stop, &rounds))
    };
    wait_for("the load to get going", 60, || {
        rounds.load(Ordering::SeqCst) >= 3
    });
    let before_apps = names(&be, "/be/v1/apps", "apps");
    let before_roles = names(&be, "/be/v1/roles", "roles");

    let archive = work.path().join("backup.tar");
    let said = succeeded(&cli(
        &server.data_dir(),
        &[
            "backup",
            "--with-depot",
            "--to",
            archive.to_str().expect("utf8"),
        ],
    ));
    assert!(said.contains("(in the archive)"), "{said}");
    let during = rounds.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    let load_rounds = load.join().expect("the load thread");
    assert!(
        load_rounds > during,
        "the load ran while the backup was taken"
    );

    let manifest = read_manifest(&archive).expect("manifest");
    assert!(manifest.with_depot && !manifest.depot.is_empty());
    let restored = Server::start_on(
        |dir| {
            succeeded(&restore(&archive, dir));
            // The depot as restored matches the manifest, file for file (once started, the
            // server may redo a build that was being processed when the backup was taken).
            for file in &manifest.depot {
                let bytes =
                    std::fs::read(dir.join("depot").join(&file.path)).expect("restored depot file");
                assert_eq!(bytes.len() as u64, file.size, "{}", file.path);
                assert_eq!(md5_hex(&bytes), file.md5, "{}", file.path);
            }
        },
        &[],
        &ENV[..1],
    );
    let old = Be::bearer(&restored, &key);

    // Everything committed before the backup began is there.
    let apps = names(&old, "/be/v1/apps", "apps");
    for name in [APP, "Keep1", "Keep2"] {
        assert!(apps.iter().any(|a| a == name), "{name} missing: {apps:?}");
    }
    for name in before_apps.iter().filter(|n| !n.starts_with("Load")) {
        assert!(apps.contains(name), "{name} missing: {apps:?}");
    }
    let roles = names(&old, "/be/v1/roles", "roles");
    for name in before_roles.iter().filter(|n| !n.starts_with("Load")) {
        assert!(roles.contains(name), "{name} missing: {roles:?}");
    }
    // Nothing is half there: whatever the load left is whole.
    for app in &apps {
        call_ok(&old, Method::GET, &format!("/be/v1/apps/{app}"), None);
    }
    for role in &roles {
        call_ok(&old, Method::GET, &format!("/be/v1/roles/{role}"), None);
    }

    // Tokens minted before verify: the API key, a session's access token, the admin token and
    // a launcher's access key, whose signed URLs serve the build byte for byte.
    let by_session = Be::bearer(&restored, &access_token);
    call_ok(&by_session, Method::GET, "/be/v1/apps", None);
    let admin = restored
        .client
        .get(restored.url("/adm/v1/orgs"))
        .header("x-rockit-admin-token", &admin_token)
        .send()
        .expect("admin");
    assert_eq!(admin.status(), 200);
    let (status, auth) = Be::anonymous(&restored).call(
        Method::POST,
        "/client/v1/auth",
        Some(json!({"orgName": ORG, "appName": APP, "accessKey": access_key})),
    );
    assert_eq!(status, 200, "{auth}");
    fetch_all(
        &restored,
        &auth["files"]["dxf"],
        &auth["sources"]["depot"]["dxf"],
        &work.path().join("fetched"),
    );
}

/// Creates and deletes apps and roles and imports one build until `stop`; the rounds done.
fn load(
    url: &str,
    ca: &Path,
    key: &str,
    tar: &Path,
    stop: &AtomicBool,
    rounds: &AtomicUsize,
) -> usize {
    let client = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(ca).expect("ca")).expect("pem"),
        )
        .build()
        .expect("client");
    let call = |method: Method, path: &str, body: Option<Value>| {
        let mut request = client
            .request(method, format!("{url}{path}"))
            .bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().expect("load request");
        let status = response.status().as_u16();
        (status, response.json::<Value>().unwrap_or(Value::Null))
    };
    let (status, import) = call(
        Method::POST,
        "/be/v1/builds",
        Some(json!({"appName": APP, "buildName": "2.0"})),
    );
    assert_eq!(status, 200, "{import}");
    let upload = import["uploadUrl"].as_str().expect("url").to_string();
    let bytes = std::fs::read(tar).expect("tar");
    let mut uploaded = false;
    let mut round = 0;
    while !stop.load(Ordering::SeqCst) {
        round += 1;
        let app = format!("Load{round}");
        let role = format!("Load{round}");
        assert_eq!(
            call(
                Method::POST,
                "/be/v1/apps",
                Some(json!({"name": app, "label": app}))
            )
            .0,
            200
        );
        let permissions = json!({"name": role, "permissions": {"apps": 2}});
        assert_eq!(call(Method::POST, "/be/v1/roles", Some(permissions)).0, 200);
        if round > 1 {
            let gone = round - 1;
            assert_eq!(
                call(Method::DELETE, &format!("/be/v1/apps/Load{gone}"), None).0,
                200
            );
            assert_eq!(
                call(Method::DELETE, &format!("/be/v1/roles/Load{gone}"), None).0,
                200
            );
        }
        if round == 2 && !uploaded {
            let response = client
                .put(&upload)
                .body(bytes.clone())
                .send()
                .expect("upload");
            assert_eq!(response.status(), 200);
            uploaded = true;
        }
        rounds.store(round, Ordering::SeqCst);
    }
    round
}

#[test]
fn damaged_archives_and_used_targets_are_refused_and_leave_nothing() {
    let server = Server::start();
    let work = tempfile::tempdir().expect("tempdir");
    let archive = work.path().join("good.tar");
    succeeded(&cli(
        &server.data_dir(),
        &["backup", "--to", archive.to_str().expect("utf8")],
    ));
    let manifest = read_manifest(&archive).expect("manifest");
    assert!(!manifest.with_depot);
    assert!(manifest.files.iter().any(|f| f.path == "edge.redb"));
    assert!(
        manifest
            .files
            .iter()
            .any(|f| f.path == "secrets/token.secret")
    );

    // Into a non-empty directory: refused, nothing touched.
    let used = work.path().join("used");
    std::fs::create_dir(&used).expect("mkdir");
    std::fs::write(used.join("keep.txt"), b"mine").expect("write");
    let refusal = failed(&restore(&archive, &used));
    assert!(refusal.contains("is not empty"), "{refusal}");
    let left: Vec<_> = std::fs::read_dir(&used).expect("dir").collect();
    assert_eq!(left.len(), 1);

    // One flipped byte in the store's data: the MD5 check refuses it, the target stays empty.
    let mut bytes = std::fs::read(&archive).expect("archive");
    let store_at = tar_header(&bytes, "edge.redb").expect("the store's header") + 512 + 4096;
    bytes[store_at] ^= 0x55;
    let damaged = work.path().join("damaged.tar");
    std::fs::write(&damaged, &bytes).expect("write");
    let target = work.path().join("target");
    let refusal = failed(&restore(&damaged, &target));
    assert!(
        refusal.contains("damaged") && refusal.contains("edge.redb") && refusal.contains("MD5"),
        "{refusal}"
    );
    assert_eq!(std::fs::read_dir(&target).expect("dir").count(), 0);

    // Cut short: a file of the manifest is missing.
    let cut = work.path().join("cut.tar");
    std::fs::write(
        &cut,
        &std::fs::read(&archive).expect("archive")[..bytes.len() / 2],
    )
    .expect("write");
    let refusal = failed(&restore(&cut, &work.path().join("cut")));
    assert!(
        refusal.contains("damaged") || refusal.contains("truncated"),
        "{refusal}"
    );

    // Not a backup at all.
    let other = work.path().join("other.tar");
    let tree = work.path().join("tree");
    common_engine::write(&tree.join("a.txt"), b"hello");
    common_engine::tar_of(&tree, &other, "--format=ustar");
    let refusal = failed(&restore(&other, &work.path().join("other")));
    assert!(refusal.contains("not a rockit-edge backup"), "{refusal}");

    // The good one restores.
    let fine = work.path().join("fine");
    let said = succeeded(&restore(&archive, &fine));
    assert!(said.contains("the depot is not in the archive"), "{said}");
    assert!(fine.join("edge.redb").is_file());
}

/// The offset of the tar header naming `name`.
fn tar_header(tar: &[u8], name: &str) -> Option<usize> {
    let mut field = name.as_bytes().to_vec();
    field.push(0);
    (0..tar.len())
        .step_by(512)
        .find(|at| tar[*at..].starts_with(&field))
}

#[test]
fn a_stopped_data_dir_backs_up_without_a_server() {
    let mut server = Server::start();
    create_org_named(&server, "Offline");
    assert!(server.terminate(), "clean stop");
    let work = tempfile::tempdir().expect("tempdir");
    let archive = work.path().join("offline.tar");
    succeeded(&cli(
        &server.data_dir(),
        &["backup", "--to", archive.to_str().expect("utf8")],
    ));
    let restored = Server::start_on(
        |dir| {
            succeeded(&restore(&archive, dir));
        },
        &[],
        &[],
    );
    let (status, body) = restored.admin(Method::GET, "/adm/v1/orgs/Offline", None);
    assert_eq!(status, 200, "{body}");
}

fn create_org_named(server: &Server, name: &str) {
    common::create_org(server, name, "offline-pass-1");
}

#[test]
fn scheduled_backups_keep_the_newest() {
    let server = Server::start_with(
        &[],
        &[
            ("ROCKIT_EDGE__BACKUP__INTERVAL_SECS", "1"),
            ("ROCKIT_EDGE__BACKUP__KEEP", "2"),
        ],
    );
    let dir = server.data_dir().join("backups");
    let scheduled = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n.starts_with("rockit-edge-backup-") && n.ends_with(".tar"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let mut seen = std::collections::BTreeSet::new();
    wait_for("four scheduled backups", 60, || {
        let now = scheduled();
        assert!(now.len() <= 2, "more than backup.keep: {now:?}");
        seen.extend(now);
        seen.len() >= 4
    });
    let newest = scheduled().pop().expect("a backup");
    let manifest = read_manifest(&dir.join(&newest)).expect("manifest");
    assert!(manifest.files.iter().any(|f| f.path == "edge.redb"));
    let work = tempfile::tempdir().expect("tempdir");
    succeeded(&restore(&dir.join(newest), &work.path().join("restored")));
}
