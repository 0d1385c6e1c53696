//! The build pipeline end to end against the real server over HTTPS: builds enter an app by
//! URL and by resumable upload, become images and patches, rotate out, and a launcher fetches
//! them from the depot with the signed URLs of `/client/v1/auth`.

mod common;
mod common_builds;
mod common_engine;

use common::files::FileServer;
use common::{Be, Server, wait_for};
use common_builds::*;
use common_engine::{assert_same_tree, cli_ok};
use reqwest::Method;
use serde_json::json;

#[test]
fn builds_enter_by_url_and_upload_rotate_and_reach_launchers_from_the_depot() {
    let server = Server::start_with(&[], &ENV);
    let key = publisher(&server);
    let be = Be::bearer(&server, &key);
    let work = tempfile::tempdir().expect("tempdir");
    let tars = game_versions(work.path());
    let files = FileServer::start(work.path().to_path_buf());

    create_app(&be, json!({"maxBuilds": 3}));
    let empty = app_details(&be);
    assert_eq!(empty["iCurBuild"], 0);
    assert_eq!(empty["dxfName"], "");
    assert_eq!(empty["files"], json!({"dxf": [], "patches": {}}));

    // Build 1 by URL, through a redirect.
    let started = import(
        &be,
        json!({"appName": APP, "buildName": "1.0", "url": files.url("redirect/v1.tar")}),
    );
    let done = wait_import(&be, started["taskName"].as_str().expect("task"));
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["result"]["buildId"], 1, "{done}");

    // Build 2 by upload, cut at 40 % and continued.
    let started = import(&be, json!({"appName": APP, "buildName": "1.1"}));
    let url = started["uploadUrl"].as_str().expect("upload url");
    assert!(url.starts_with("https://"), "{url}");
    let size = std::fs::metadata(&tars[1]).expect("meta").len() as usize;
    let completed = upload_in_two(&server, url, &tars[1], size * 2 / 5);
    assert_eq!(completed["sizeBytes"], size as u64);
    let done = wait_import(&be, started["taskName"].as_str().expect("task"));
    assert_eq!(done["status"], "done", "{done}");
    let again = server
        .client
        .put(url)
        .header("content-range", format!("bytes 0-0/{size}"))
        .body(vec![0u8])
        .send()
        .expect("second upload");
    let (status, body) = common::json_response(again);
    common::assert_error(status, &body, 409, "item-protected");

    // Build 3 through `rockit-edge push` of the directory, sending 2 MiB/s: killed once the
    // server holds 40 %, and run again it continues where the server's copy ends.
    let push = || {
        let mut command = std::process::Command::new(common::binary());
        command
            .args([
                "push",
                "--server",
                &server.url(""),
                "--org",
                ORG,
                "--app",
                APP,
            ])
            .args(["--name", "1.2", "--ca-cert"])
            .arg(server.data_dir().join("tls/ca.pem"))
            .arg(work.path().join("v3"))
            .env("ROCKIT_EDGE_API_KEY", &key)
            .env("XDG_CACHE_HOME", work.path().join("cache"));
        command
    };
    let mut first = push()
        .args(["--limit-rate", "2M"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("push");
    let incoming = server.data_dir().join("work/incoming");
    let tar_size = std::fs::metadata(&tars[2]).expect("meta").len();
    wait_for("the server to hold 40 % of the push", 60, || {
        std::fs::read_dir(&incoming)
            .expect("incoming")
            .filter_map(|e| e.ok()?.metadata().ok())
            .any(|m| m.len() * 5 >= tar_size * 2)
    });
    first.kill().expect("kill -9 the push");
    first.wait().expect("reap");
    let resumed = push().output().expect("push again");
    let said = String::from_utf8_lossy(&resumed.stderr).to_string();
    assert!(resumed.status.success(), "{said}");
    let numbers: Vec<u64> = said
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let [sent, total, resumed_at, ..] = numbers[..] else {
        panic!("push did not say what it sent: {said}")
    };
    // The second run sends only the rest: the server receives the tar's bytes once.
    assert!(
        resumed_at * 5 >= total * 2,
        "resumed at {resumed_at} of {total}: {said}"
    );
    assert_eq!(sent + resumed_at, total, "{said}");
    let mkraw = said
        .trim()
        .rsplit(' ')
        .next()
        .expect("task name")
        .to_string();
    let done = server.wait_task(&mkraw);
    assert_eq!(done["status"], "done", "{done}");
    let local = work.path().join("local-v3");
    cli_ok(&[&"image", &"build", &tars[2], &local, &"--build-id", &"3"]);
    let local_meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(local.join("img.json")).expect("img.json"))
            .expect("json");
    assert_eq!(
        done["result"]["dxfName"], local_meta["dxfName"],
        "the resumed push made the image an uninterrupted import makes"
    );

    let app = app_details(&be);
    assert_eq!(app["iCurBuild"], 3, "{app}");
    assert_eq!(patch_keys(&app), ["0001-0003", "0002-0003"], "{app}");
    let names: Vec<&str> = app["files"]["dxf"]
        .as_array()
        .expect("dxf")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["app.json", "img.json", "img.idx.7z", "img.dxf"]);
    let patch_names: Vec<&str> = app["files"]["patches"]["0001-0003"]
        .as_array()
        .expect("patch files")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        patch_names,
        [
            "app.json",
            "img.json",
            "map.7z",
            "patch.7z",
            "patch.json",
            "patch.data"
        ]
    );
    for key in [
        "name",
        "label",
        "dxfName",
        "iCurBuild",
        "maxBuilds",
        "processing",
        "exporting",
        "deployed",
        "files",
    ] {
        assert!(!app[key].is_null(), "{key} in {app}");
    }

    // Build 4 by URL, gzip-compressed, the download breaking off at 40 %: build 1 rotates
    // out.
    let gz = work.path().join("v4.tar.gz");
    common_engine::sh(&format!(
        "gzip -c '{}' > '{}'",
        tars[3].display(),
        gz.display()
    ));
    let gz_size = std::fs::metadata(&gz).expect("meta").len();
    files
        .cut_after
        .store(gz_size * 2 / 5, std::sync::atomic::Ordering::SeqCst);
    let started = import(
        &be,
        json!({"appName": APP, "buildName": "1.3", "url": files.url("v4.tar.gz")}),
    );
    let done = wait_import(&be, started["taskName"].as_str().expect("task"));
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["warnings"][0]["code"], "compressedTar", "{done}");
    assert!(
        files
            .ranges
            .lock()
            .expect("lock")
            .iter()
            .any(|r| r.starts_with("bytes=")),
        "the download continued with a Range request"
    );
    let app = app_details(&be);
    assert_eq!(app["iCurBuild"], 4);
    let ids: Vec<u64> = app["builds"]
        .as_array()
        .expect("builds")
        .iter()
        .map(|b| b["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(ids, [2, 3, 4], "{app}");
    assert_eq!(patch_keys(&app), ["0002-0004", "0003-0004"], "{app}");
    let images: u64 = app["builds"]
        .as_array()
        .expect("builds")
        .iter()
        .map(|b| b["sizeBytes"].as_u64().expect("size"))
        .sum();
    let patches: u64 = app["files"]["patches"]
        .as_object()
        .expect("patches")
        .values()
        .flat_map(|files| files.as_array().expect("files").iter())
        .map(|f| f["size"].as_u64().expect("size"))
        .sum();
    assert_eq!(
        app["sizeBytes"],
        images + patches,
        "retained images and patches: {app}"
    );
    let depot = server.data_dir().join("depot/dxf").join(ORG).join(APP);
    wait_for("build 1's files to leave the depot", 30, || {
        !depot.join("0001").exists()
    });
    assert!(depot.join("0004").exists() && depot.join("0002").exists());

    // A launcher: an access key, the signed URLs, every file with its size and md5.
    let (status, created) = be.call(
        Method::POST,
        "/be/v1/keys",
        Some(json!({"appName": APP, "label": "launcher"})),
    );
    assert_eq!(status, 200, "{created}");
    let access = created["key"].as_str().expect("key");
    let (status, auth) = Be::anonymous(&server).call(
        Method::POST,
        "/client/v1/auth",
        Some(json!({"orgName": ORG, "appName": APP, "accessKey": access})),
    );
    assert_eq!(status, 200, "{auth}");
    assert_eq!(auth["files"], app["files"]);
    assert_eq!(auth["iCurBuild"], 4);
    let fetched = work.path().join("fetched");
    let depot_urls = &auth["sources"]["depot"];
    fetch_all(
        &server,
        &auth["files"]["dxf"],
        &depot_urls["dxf"],
        &fetched.join("img4"),
    );
    fetch_all(
        &server,
        &auth["files"]["patches"]["0002-0004"],
        &depot_urls["patches"]["0002-0004"],
        &fetched.join("pat"),
    );
    let (status, refused) = Be::anonymous(&server).call(
        Method::POST,
        "/client/v1/auth",
        Some(json!({"orgName": ORG, "appName": APP, "accessKey": format!("{access}x")})),
    );
    common::assert_error(status, &refused, 401, "unauthorized");

    // Signatures, ranges, conditional requests.
    let dxf_url = depot_urls["dxf"]["img.dxf"].as_str().expect("url");
    let tampered = dxf_url.replace("md5=", "md5=A");
    let (status, body) = common::json_response(server.client.get(&tampered).send().expect("get"));
    common::assert_error(status, &body, 403, "signature-invalid");
    let dxf_key = dxf_url
        .split("/depot/")
        .nth(1)
        .and_then(|rest| rest.split('?').next())
        .expect("key");
    let expired = signed(&server, dxf_key, chrono::Utc::now().timestamp() - 10);
    let (status, body) = common::json_response(server.client.get(&expired).send().expect("get"));
    common::assert_error(status, &body, 410, "url-expired");
    let whole = std::fs::read(fetched.join("img4/img.dxf")).expect("dxf");
    let ranged = server
        .client
        .get(dxf_url)
        .header("range", "bytes=4096-8191")
        .send()
        .expect("range");
    assert_eq!(ranged.status().as_u16(), 206);
    let etag = ranged.headers()["etag"].to_str().expect("etag").to_string();
    assert_eq!(ranged.bytes().expect("body").as_ref(), &whole[4096..8192]);
    let head = server.client.head(dxf_url).send().expect("head");
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(
        head.headers()["content-length"],
        whole.len().to_string().as_str()
    );
    assert_eq!(head.headers()["accept-ranges"], "bytes");
    let unchanged = server
        .client
        .get(dxf_url)
        .header("if-none-match", &etag)
        .send()
        .expect("conditional");
    assert_eq!(unchanged.status().as_u16(), 304);
    let beyond = server
        .client
        .get(dxf_url)
        .header("range", format!("bytes={}-", whole.len() + 10))
        .send()
        .expect("beyond");
    assert_eq!(beyond.status().as_u16(), 416);
    let unsigned = server
        .client
        .get(server.url(&format!("/depot/{dxf_key}")))
        .send()
        .expect("get");
    assert_eq!(unsigned.status().as_u16(), 403);

    // Build 2's image (signed by hand) plus the fetched patch give build 4's tree exactly.
    let build2 = &app["builds"][0];
    assert_eq!(build2["id"], 2);
    let img2 = fetched.join("img2");
    std::fs::create_dir_all(&img2).expect("mkdir");
    for name in ["app.json", "img.json", "img.idx.7z", "img.dxf"] {
        let key = format!(
            "dxf/{ORG}/{APP}/0002/{}/{name}",
            build2["dxfName"].as_str().expect("dxf name")
        );
        let bytes = fetch(
            &server,
            &signed(&server, &key, chrono::Utc::now().timestamp() + 60),
        );
        std::fs::write(img2.join(name), bytes).expect("write");
    }
    for (way, flag) in [("bulk", None), ("streaming", Some("--streaming"))] {
        let rebuilt = fetched.join(format!("rebuilt-{way}"));
        std::fs::create_dir_all(&rebuilt).expect("mkdir");
        for name in ["app.json", "img.json", "img.idx.7z"] {
            std::fs::copy(fetched.join("img4").join(name), rebuilt.join(name)).expect("copy");
        }
        let out = rebuilt.join("img.dxf");
        let pat = fetched.join("pat");
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
            vec![&"patch", &"apply", &img2, &pat, &out];
        if let Some(flag) = &flag {
            args.push(flag);
        }
        cli_ok(&args);
        let tree = fetched.join(format!("tree-{way}"));
        cli_ok(&[&"image", &"extract", &rebuilt, &tree]);
        assert_same_tree(&tree, &work.path().join("v4"));
    }
}

#[test]
fn a_real_pair_alternates_through_url_upload_and_push_and_patches_apply() {
    let Some(data) = common_engine::bench_data() else {
        return;
    };
    let pair = data.join("shift");
    let (old, new) = (pair.join("old.tar"), pair.join("new.tar"));
    assert!(
        old.is_file() && new.is_file(),
        "the shift pair is in {}",
        pair.display()
    );
    let server = Server::start_with(&[], &ENV);
    let key = publisher(&server);
    let be = Be::bearer(&server, &key);
    create_app(&be, json!({"maxBuilds": 3}));
    let files = FileServer::start(pair.clone());
    let by_url = |name: &str| {
        let started = import(&be, json!({"appName": APP, "url": files.url(name)}));
        wait_import(&be, started["taskName"].as_str().expect("task"))
    };
    let by_upload = |tar: &std::path::Path| {
        let started = import(&be, json!({"appName": APP}));
        let url = started["uploadUrl"].as_str().expect("url");
        let size = std::fs::metadata(tar).expect("meta").len() as usize;
        upload_in_two(&server, url, tar, size * 2 / 5);
        wait_import(&be, started["taskName"].as_str().expect("task"))
    };
    assert_eq!(by_url("old.tar")["status"], "done");
    assert_eq!(by_upload(&new)["status"], "done");
    let pushed = std::process::Command::new(common::binary())
        .args([
            "push",
            "--server",
            &server.url(""),
            "--org",
            ORG,
            "--app",
            APP,
            "--wait",
            "--ca-cert",
        ])
        .arg(server.data_dir().join("tls/ca.pem"))
        .arg(&old)
        .env("ROCKIT_EDGE_API_KEY", &key)
        .env("XDG_CACHE_HOME", server.dir.path().join("cache"))
        .output()
        .expect("push");
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_slice(&pushed.stdout).expect("push --wait prints the result");
    assert_eq!(result["buildId"], 3, "{result}");
    let app = app_details(&be);
    assert_eq!(patch_keys(&app), ["0001-0003", "0002-0003"], "{app}");
    assert_eq!(by_url("new.tar")["status"], "done");
    let app = app_details(&be);
    assert_eq!(patch_keys(&app), ["0002-0004", "0003-0004"], "{app}");

    // Build 3 (old) plus the patch 0003-0004 from the depot give build 4 (new) exactly.
    let work = tempfile::tempdir().expect("tempdir");
    let soon = chrono::Utc::now().timestamp() + 120;
    let fetch_dir = |dir: &str, names: &[&str], into: &std::path::Path| {
        std::fs::create_dir_all(into).expect("mkdir");
        for name in names {
            let bytes = fetch(&server, &signed(&server, &format!("{dir}/{name}"), soon));
            std::fs::write(into.join(name), bytes).expect("write");
        }
    };
    let image_of = |id: usize| {
        let build = &app["builds"][id - 2];
        format!(
            "dxf/{ORG}/{APP}/{:04}/{}",
            id,
            build["dxfName"].as_str().expect("dxf")
        )
    };
    let image = ["app.json", "img.json", "img.idx.7z", "img.dxf"];
    fetch_dir(&image_of(3), &image, &work.path().join("img3"));
    fetch_dir(&image_of(4), &image[..3], &work.path().join("img4"));
    fetch_dir(
        &format!("pat/{ORG}/{APP}/0004/0003"),
        &[
            "app.json",
            "img.json",
            "map.7z",
            "patch.7z",
            "patch.json",
            "patch.data",
        ],
        &work.path().join("pat"),
    );
    let out = work.path().join("img4/img.dxf");
    cli_ok(&[
        &"patch",
        &"apply",
        &work.path().join("img3"),
        &work.path().join("pat"),
        &out,
    ]);
    cli_ok(&[
        &"image",
        &"extract",
        &work.path().join("img4"),
        &work.path().join("tree"),
    ]);
    common_engine::tar_extract(&new, &work.path().join("expected"));
    assert_same_tree(&work.path().join("tree"), &work.path().join("expected"));
}

#[test]
fn lowering_max_builds_rotates_at_once_and_without_auto_commit_builds_wait_staged() {
    let server = Server::start_with(&[], &ENV);
    let key = publisher(&server);
    let be = Be::bearer(&server, &key);
    let work = tempfile::tempdir().expect("tempdir");
    game_versions(work.path());
    let files = FileServer::start(work.path().to_path_buf());
    create_app(&be, json!({"maxBuilds": 3}));
    let build = |name: &str| {
        let started = import(&be, json!({"appName": APP, "url": files.url(name)}));
        let done = wait_import(&be, started["taskName"].as_str().expect("task"));
        assert_eq!(done["status"], "done", "{done}");
        done
    };
    for tar in ["v1.tar", "v2.tar", "v3.tar"] {
        build(tar);
    }
    let (status, body) = be.call(
        Method::PATCH,
        "/be/v1/apps",
        Some(json!({"name": APP, "maxBuilds": 1})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["app"]["builds"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    assert_eq!(body["app"]["builds"][0]["id"], 3);
    assert_eq!(body["app"]["files"]["patches"], json!({}));
    let depot = server.data_dir().join("depot");
    let images = depot.join("dxf").join(ORG).join(APP);
    wait_for("the rotated builds' files to go", 30, || {
        !images.join("0001").exists() && !images.join("0002").exists()
    });
    assert!(images.join("0003").exists(), "the current build stays");

    let (status, body) = be.call(
        Method::PATCH,
        "/be/v1/apps",
        Some(json!({"name": APP, "maxBuilds": 3, "autoCommit": false})),
    );
    assert_eq!(status, 200, "{body}");
    let staged = build("v4.tar");
    assert_eq!(staged["result"]["staged"], true, "{staged}");
    let app = app_details(&be);
    assert_eq!(app["iCurBuild"], 3, "{app}");
    assert_eq!(app["staged"]["id"], 4, "{app}");
    assert_eq!(app["builds"].as_array().map(Vec::len), Some(1));
    assert!(images.join("0004").exists());
    let replaced = build("v1.tar");
    assert_eq!(replaced["result"]["buildId"], 5, "{replaced}");
    assert_eq!(app_details(&be)["staged"]["id"], 5);
    wait_for("the replaced staged build's files to go", 30, || {
        !images.join("0004").exists()
    });
    assert!(
        depot
            .join("pat")
            .join(ORG)
            .join(APP)
            .join("0005/0003")
            .exists()
    );
}

#[test]
fn one_apps_builds_run_one_at_a_time_in_arrival_order() {
    let server = Server::start_with(&[], &ENV);
    let key = publisher(&server);
    let be = Be::bearer(&server, &key);
    let work = tempfile::tempdir().expect("tempdir");
    game_versions(work.path());
    let files = FileServer::start(work.path().to_path_buf());
    create_app(&be, json!({}));
    let started: Vec<String> = ["v1.tar", "v2.tar", "v3.tar", "v4.tar"]
        .iter()
        .enumerate()
        .map(|(n, tar)| {
            let answer = import(
                &be,
                json!({"appName": APP, "buildName": format!("b{n}"), "url": files.url(tar)}),
            );
            answer["taskName"].as_str().expect("task").to_string()
        })
        .collect();
    let mkraws: Vec<serde_json::Value> = started.iter().map(|t| wait_import(&be, t)).collect();
    for (n, mkraw) in mkraws.iter().enumerate() {
        assert_eq!(mkraw["status"], "done", "{mkraw}");
        assert_eq!(
            mkraw["result"]["buildId"],
            n as u64 + 1,
            "arrival order: {mkraw}"
        );
        assert_eq!(mkraw["result"]["buildName"], format!("b{n}"));
    }
    for pair in mkraws.windows(2) {
        let (ended, next) = (
            pair[0]["ended"].as_str().expect("ended"),
            pair[1]["started"].as_str().expect("started"),
        );
        let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).expect("time");
        assert!(
            parse(next) >= parse(ended),
            "one at a time: {ended} then {next}"
        );
    }
}
