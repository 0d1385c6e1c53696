//! The one origin abstraction, run through the same checks on both of its implementations:
//! the depot (a directory) and S3 (a real S3 server that verifies signatures).

mod common;

use common::S3Server;
use md5::{Digest, Md5};
use rockit_edge::publish::depot::Depot;
use rockit_edge::publish::guard::AddressPolicy;
use rockit_edge::publish::layout;
use rockit_edge::publish::origin::Origin;
use rockit_edge::publish::s3::S3Origin;
use rockit_edge::store::{S3Settings, Secret};

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

/// Puts, measures, refuses short bodies, signs and removes, the same for every origin.
async fn conformance(origin: &dyn Origin, fetch: impl AsyncFn(&str) -> Option<Vec<u8>>) {
    origin.probe().await.expect("probe");
    let image = format!("{}/img.dxf", layout::image_dir("acme", "game", 1, "5f1c"));
    let patch = format!("{}/patch.7z", layout::patch_dir("acme", "game", 2, 1));
    let (image_bytes, patch_bytes) = (bytes(300_000, 1), bytes(4_000, 2));
    for (path, body) in [(&image, &image_bytes), (&patch, &patch_bytes)] {
        origin
            .put(
                path,
                Box::new(std::io::Cursor::new(body.clone())),
                body.len() as u64,
            )
            .await
            .unwrap_or_else(|e| panic!("put {path}: {e}"));
    }
    let org = layout::org_prefixes("acme");
    let app = layout::app_prefixes("acme", "game");
    assert_eq!(
        origin
            .sizes(&[org, app, vec!["dxf/other".into()]])
            .await
            .expect("sizes"),
        [
            (image_bytes.len() + patch_bytes.len()) as u64,
            (image_bytes.len() + patch_bytes.len()) as u64,
            0
        ]
    );
    assert_eq!(
        origin.prefix_size("dxf/acme/game").await.expect("size"),
        image_bytes.len() as u64
    );

    // A body that ends before its announced length is refused and replaces nothing.
    let short = origin
        .put(&image, Box::new(std::io::Cursor::new(vec![7u8; 10])), 20)
        .await;
    assert!(short.is_err(), "a short body was accepted");
    assert_eq!(
        origin.prefix_size("dxf/acme").await.expect("size"),
        image_bytes.len() as u64,
        "a refused put changed the stored bytes"
    );

    let expires = chrono::Utc::now().timestamp() + 600;
    let url = origin
        .signed_url(&image, expires)
        .await
        .expect("signed url");
    if let Some(fetched) = fetch(&url).await {
        assert_eq!(fetched, image_bytes, "the signed URL serves the object");
    }

    assert_eq!(origin.remove_prefix("dxf/acme").await.expect("remove"), 1);
    assert_eq!(origin.prefix_size("dxf/acme").await.expect("size"), 0);
    assert_eq!(
        origin.prefix_size("pat/acme").await.expect("size"),
        patch_bytes.len() as u64,
        "removing one prefix left the other"
    );
    assert_eq!(origin.remove_prefix("dxf/nobody").await.expect("remove"), 0);
}

#[tokio::test]
async fn the_depot_is_an_origin_with_signed_depot_urls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = b"depot-secret-bytes";
    let depot = Depot::new(dir.path(), secret);
    let token = hex::encode(secret);
    conformance(&depot, async |url: &str| {
        // `/depot/<path>?md5=base64url(md5("{expires}{path} {token}"))&expires=...` (API.md §5).
        let (path, query) = url.split_once('?').expect("query");
        let expires = query.rsplit_once("expires=").expect("expires").1;
        let digest = Md5::digest(format!("{expires}{path} {token}").as_bytes());
        use base64::Engine;
        let md5 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        assert_eq!(query, format!("md5={md5}&expires={expires}"), "{url}");
        let stored = dir
            .path()
            .join(path.strip_prefix("/depot/").expect("/depot/"));
        Some(std::fs::read(stored).expect("the signed path is the stored file"))
    })
    .await;
    let escape = depot
        .put("../outside", Box::new(std::io::Cursor::new(vec![1u8])), 1)
        .await;
    assert!(escape.is_err(), "a path leaving the depot was accepted");
    assert!(
        !dir.path()
            .parent()
            .expect("parent")
            .join("outside")
            .exists()
    );
}

#[tokio::test]
async fn s3_is_an_origin_with_presigned_urls() {
    let Some(s3) = S3Server::start() else { return };
    let settings = S3Settings {
        hostname: s3.hostname(),
        access_key: s3.access_key.clone(),
        secret_key: Secret::new(s3.secret_key.clone()),
        location: "us-east-1".into(),
        bucket: "edge".into(),
        prefix: Some("/cdn/root/".into()),
    };
    let origin = S3Origin::new(&settings, AddressPolicy::for_origins(true)).expect("origin");
    conformance(&origin, async |url: &str| {
        let response = reqwest::get(url).await.expect("GET presigned");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        Some(response.bytes().await.expect("body").to_vec())
    })
    .await;
    let keys: Vec<String> = s3
        .bucket()
        .list(String::new(), None)
        .await
        .expect("list")
        .into_iter()
        .flat_map(|page| page.contents.into_iter().map(|o| o.key))
        .collect();
    assert_eq!(
        keys,
        ["cdn/root/pat/acme/game/0002/0001/patch.7z"],
        "objects live under the deployment's prefix, and the probe left none"
    );
}
