//! Signed CDN downloads from `/client/v1/auth`, checked by the CDNs' own rules: Debian's nginx
//! with `secure_link` (the Gcore formula, the deployment's secret, optionally bound to the
//! client's address) in front of the origin's files, and a verifier of Akamai token auth 2.0
//! written here from Akamai's published algorithm.

mod common;
mod common_builds;
mod common_engine;
mod common_publish;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{in_ci, wait_for};
use common_builds::*;
use common_publish::*;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::json;
use sha2::Sha256;

const GCORE_TOKEN: &str = "gcore-secure-token";
const AKAMAI_KEY: &str = "0123456789abcdef0123456789abcdef";

/// nginx serving the origin's files (s3s-fs keeps each object as a file `bucket/key`), one
/// port per `secure_link_md5` formula: `[plain, bound to $remote_addr]`.
struct Cdn {
    ports: [u16; 2],
    child: Child,
    _dir: tempfile::TempDir,
}

impl Cdn {
    fn start(root: &Path) -> Option<Cdn> {
        if Command::new("nginx").arg("-v").output().is_err() {
            assert!(
                !in_ci(),
                "nginx is not installed; scripts/test.sh installs it"
            );
            eprintln!("SKIPPED: nginx is not installed (Debian: nginx)");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("port")
                .port()
        };
        let ports = [free(), free()];
        let server = |port: u16, formula: &str| {
            format!(
                r#"server {{
    listen 127.0.0.1:{port};
    root {root};
    location / {{
        secure_link $arg_md5,$arg_expires;
        secure_link_md5 "{formula} {GCORE_TOKEN}";
        if ($secure_link = "") {{ return 403; }}
        if ($secure_link = "0") {{ return 410; }}
    }}
}}"#,
                root = root.display()
            )
        };
        let d = dir.path().display();
        let user = if rustix::process::geteuid().is_root() {
            "user root;"
        } else {
            ""
        };
        let config = format!(
            "{user}\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{}}\nhttp {{\naccess_log off;\nclient_body_temp_path {d}/body;\n\
             proxy_temp_path {d}/proxy;\nfastcgi_temp_path {d}/fcgi;\nuwsgi_temp_path {d}/uwsgi;\n\
             scgi_temp_path {d}/scgi;\n{}\n{}\n}}\n",
            server(ports[0], "$secure_link_expires$uri"),
            server(ports[1], "$secure_link_expires$uri$remote_addr"),
        );
        std::fs::write(dir.path().join("nginx.conf"), config).expect("nginx.conf");
        let child = Command::new("nginx")
            .args(["-e", &format!("{d}/error.log"), "-g", "daemon off;", "-c"])
            .arg(dir.path().join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        wait_for("nginx to listen", 20, || {
            ports
                .iter()
                .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok())
        });
        Some(Cdn {
            ports,
            child,
            _dir: dir,
        })
    }
}

impl Drop for Cdn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Verifies an Akamai token auth 2.0 URL as the edge does: the `hdnts` fields, the HMAC
/// (SHA-256 keyed with the hex-decoded key over every field before `~hmac=`), the expiry, and
/// the URL path under the ACL (`*` matching the rest).
fn akamai_accepts(url: &str, key_hex: &str, now: i64) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(token) = parsed
        .query_pairs()
        .find(|(k, _)| k == "hdnts")
        .map(|(_, v)| v.into_owned())
    else {
        return false;
    };
    let Some((signed, hmac)) = token.rsplit_once("~hmac=") else {
        return false;
    };
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&hex::decode(key_hex).expect("hex")).expect("key");
    mac.update(signed.as_bytes());
    if hex::encode(mac.finalize().into_bytes()) != hmac {
        return false;
    }
    let field = |name: &str| {
        signed
            .split('~')
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    let expired = field("exp")
        .and_then(|e| e.parse::<i64>().ok())
        .is_none_or(|exp| exp <= now);
    let covered = field("acl").is_some_and(|acl| match acl.strip_suffix('*') {
        Some(prefix) => parsed.path().starts_with(prefix),
        None => parsed.path() == acl,
    });
    !expired && covered
}

fn get(url: &str, range: Option<&str>) -> (u16, Vec<u8>) {
    let client = reqwest::blocking::Client::new();
    let mut request = client.get(url);
    if let Some(range) = range {
        request = request.header("range", range);
    }
    let response = request.send().expect("cdn get");
    let status = response.status().as_u16();
    (status, response.bytes().expect("body").to_vec())
}

#[test]
fn launchers_get_cdn_urls_that_the_cdns_own_rules_accept() {
    let Some(scene) = Scene::start(&publishing_env()) else {
        return;
    };
    let Some(cdn) = Cdn::start(scene.s3.dir.path()) else {
        return;
    };
    let (s3, server, files, be) = (&scene.s3, &scene.server, &scene.files, scene.be());
    let gcore = |port: u16, client_ip: bool| {
        json!({"gcore": {
            "baseUrl": format!("http://127.0.0.1:{port}/"), "secureToken": GCORE_TOKEN,
            "bucket": "edge", "prefix": PREFIX, "clientIp": client_ip,
        }})
    };
    create_deployment(
        &be,
        deployment_body("gcore", s3, PREFIX, Some(gcore(cdn.ports[0], false))),
    );
    create_deployment(
        &be,
        deployment_body("bound", s3, PREFIX, Some(gcore(cdn.ports[1], true))),
    );
    create_deployment(
        &be,
        deployment_body(
            "akamai",
            s3,
            PREFIX,
            Some(
                json!({"akamai": {"baseUrl": "https://edge.example.net/rockit", "key": AKAMAI_KEY, "ttl": 600}}),
            ),
        ),
    );
    create_deployment(&be, deployment_body("plain", s3, PREFIX, None));
    create_app(&be, json!({}));
    let access = scene.access_key();

    for version in 1..=2 {
        let started = import(
            &be,
            json!({"appName": APP, "url": files.url(&format!("v{version}.tar"))}),
        );
        let done = wait_import(&be, started["taskName"].as_str().expect("task"));
        assert_eq!(done["status"], "done", "{done}");
        let deploys = wait_deploys(&be, 4 * version);
        assert!(deploys.iter().all(|t| t["status"] == "done"), "{deploys:?}");
    }
    let app = app_details(&be);
    assert_eq!(
        app["deployed"],
        json!(["akamai", "bound", "gcore", "plain"])
    );

    let answer = client_auth(server, &access);
    let sources = answer["sources"].as_object().expect("sources");
    let mut names: Vec<&String> = sources.keys().collect();
    names.sort();
    assert_eq!(
        names,
        ["akamai", "bound", "depot", "gcore"],
        "no source without dlAuth"
    );
    for name in ["gcore", "bound", "akamai"] {
        assert_eq!(
            sources[name]["dxf"].as_object().expect("dxf").len(),
            4,
            "{name}"
        );
        assert!(sources[name]["patches"]["0001-0002"].is_object(), "{name}");
    }

    // Gcore through nginx secure_link: every file 200 with the listed md5, a range 206.
    let listed = |file: &str| {
        answer["files"]["dxf"]
            .as_array()
            .expect("files")
            .iter()
            .find(|f| f["name"] == file)
            .cloned()
            .expect("listed")
    };
    for source in ["gcore", "bound"] {
        for (name, url) in sources[source]["dxf"].as_object().expect("dxf") {
            let url = url.as_str().expect("url");
            let (status, body) = get(url, None);
            assert_eq!(status, 200, "{source} {name} {url}");
            assert_eq!(md5_hex(&body), listed(name)["md5"], "{source} {name}");
        }
        for (name, url) in sources[source]["patches"]["0001-0002"]
            .as_object()
            .expect("patch")
        {
            let (status, _) = get(url.as_str().expect("url"), None);
            assert_eq!(status, 200, "{source} patch {name}");
        }
    }
    let image = sources["gcore"]["dxf"]["img.dxf"].as_str().expect("url");
    let (status, part) = get(image, Some("bytes=100-199"));
    assert_eq!(status, 206);
    assert_eq!(part.len(), 100);
    let tampered = image.replace("/img.dxf?", "/img.idx.7z?");
    assert_eq!(
        get(&tampered, None).0,
        403,
        "another file with this file's token"
    );
    let forged = {
        let (head, md5) = image.split_once("md5=").expect("md5");
        let flipped = if md5.starts_with('A') { "B" } else { "A" };
        format!("{head}md5={flipped}{}", &md5[1..])
    };
    assert_eq!(get(&forged, None).0, 403, "a forged token");
    let bound = sources["bound"]["dxf"]["img.dxf"].as_str().expect("url");
    let unbound = bound.replace(
        &format!("127.0.0.1:{}", cdn.ports[1]),
        &format!("127.0.0.1:{}", cdn.ports[0]),
    );
    assert_eq!(
        get(&unbound, None).0,
        403,
        "an IP-bound URL is not a plain one"
    );

    // The reference launcher client installs from the CDN: every range through secure_link.
    let installed = scene.work.path().join("from-cdn");
    let ca = server.data_dir().join("tls/ca.pem");
    let out = Command::new(common::binary())
        .args([
            "client",
            "install",
            "--server",
            &server.url(""),
            "--org",
            ORG,
            "--app",
            APP,
        ])
        .args(["--access-key", &access, "--source", "gcore", "--ca-cert"])
        .arg(&ca)
        .arg("--dir")
        .arg(&installed)
        .output()
        .expect("run the client");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = scene.work.path().join("v2-tree");
    std::fs::create_dir_all(&expected).expect("mkdir");
    common_engine::sh(&format!(
        "tar -C {e} -xf {tar} && diff -r --no-dereference --exclude=.rockit {e} {i}",
        e = expected.display(),
        tar = scene.work.path().join("v2.tar").display(),
        i = installed.display()
    ));

    // With a one-second TTL, the CDN refuses the URL once it expired: 410.
    let (status, body) = be.call(
        Method::PATCH,
        "/be/v1/deployments",
        Some(json!({"name": "gcore", "dlAuth": {"gcore": {"ttl": 1}}})),
    );
    assert_eq!(status, 200, "{body}");
    let short = client_auth(server, &access)["sources"]["gcore"]["dxf"]["img.dxf"]
        .as_str()
        .expect("url")
        .to_string();
    wait_for("the short-lived URL to expire", 10, || {
        get(&short, None).0 == 410
    });

    // Akamai: the verifier accepts every URL, and each points at the file the origin holds.
    let now = chrono::Utc::now().timestamp();
    for (name, url) in sources["akamai"]["dxf"].as_object().expect("dxf") {
        let url = url.as_str().expect("url");
        assert!(akamai_accepts(url, AKAMAI_KEY, now), "{url}");
        let path = reqwest::Url::parse(url).expect("url").path().to_string();
        let key = path.strip_prefix("/rockit/").expect("base path");
        assert_eq!(
            md5_hex(&object(s3, &format!("{PREFIX}/{key}"))),
            listed(name)["md5"]
        );
    }
    let akamai = sources["akamai"]["dxf"]["img.dxf"].as_str().expect("url");
    assert!(!akamai_accepts(akamai, "00", now), "another key");
    assert!(
        !akamai_accepts(akamai, AKAMAI_KEY, now + 601),
        "after its TTL"
    );
    let elsewhere = akamai.replace("/dxf/", "/pat/");
    assert!(
        !akamai_accepts(&elsewhere, AKAMAI_KEY, now),
        "outside its ACL"
    );
    let stretched = akamai.replacen("exp=", "exp=9", 1);
    assert!(
        !akamai_accepts(&stretched, AKAMAI_KEY, now),
        "a changed expiry"
    );
}
