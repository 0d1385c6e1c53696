//! Format versions: version-2 images and version-3 patches carry SHA-256 chunk hashes that
//! match their bytes, and the images and patches of earlier releases (version 1, kept in
//! `tests/fixtures/format-v1`; version-2 patches, whose raw delta stream is version 5, in
//! `tests/fixtures/format-v2`) are still read, verified, extracted and applied.

mod common_engine;

use std::fs;
use std::path::{Path, PathBuf};

use common_engine::{cli, cli_ok, sh};
use sha2::{Digest, Sha256};

const CHUNK: usize = 256 * 1024;

/// A file of the fixtures made by the release of format `version`.
fn fixture_of(version: u32, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/format-v{version}"))
        .join(name)
}

fn sha256_chunks(bytes: &[u8]) -> Vec<String> {
    bytes
        .chunks(CHUNK)
        .map(|c| hex::encode(Sha256::digest(c)))
        .collect()
}

/// The chunk table at the end of a version-2 `img.idx`: chunk size, then the hashes.
fn index_chunk_table(index: &[u8], block_count: u64) -> (u32, Vec<String>) {
    let count = (block_count * 4096).div_ceil(CHUNK as u64) as usize;
    let start = index.len() - 12 - 32 * count;
    let size = u32::from_le_bytes(index[start..start + 4].try_into().expect("4 bytes"));
    let stated = u64::from_le_bytes(index[start + 4..start + 12].try_into().expect("8 bytes"));
    assert_eq!(stated as usize, count, "chunk count of the table");
    let hashes = index[start + 12..].chunks(32).map(hex::encode).collect();
    (size, hashes)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).expect("read json")).expect("parse json")
}

/// A two-build pair big enough for several chunks: a changed 700 KB file and a new one.
fn make_pair(dir: &Path) -> (PathBuf, PathBuf) {
    let (a, b) = (dir.join("a"), dir.join("b"));
    common_engine::python(&format!(
        "import os, random\n\
         random.seed(5)\n\
         big = bytes(random.getrandbits(8) for _ in range(700_000))\n\
         for root, extra in (('{a}', b''), ('{b}', b'new')):\n\
         \x20   os.makedirs(root + '/game', exist_ok=True)\n\
         \x20   data = bytearray(big)\n\
         \x20   if extra: data[300_000:300_010] = b'0123456789'\n\
         \x20   open(root + '/game/pack.bin', 'wb').write(data)\n\
         \x20   if extra: open(root + '/game/new.bin', 'wb').write(bytes(random.getrandbits(8) for _ in range(300_000)))\n",
        a = a.display(),
        b = b.display()
    ));
    sh(&format!(
        "tar -C {a} -cf {d}/a.tar game && tar -C {b} -cf {d}/b.tar game",
        a = a.display(),
        b = b.display(),
        d = dir.display()
    ));
    (dir.join("a.tar"), dir.join("b.tar"))
}

#[test]
fn images_and_patches_hash_every_chunk() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let (a, b) = make_pair(dir);
    let (img_a, img_b, pat) = (dir.join("img-a"), dir.join("img-b"), dir.join("pat"));
    cli_ok(&[&"image", &"build", &"--build-id", &"1", &a, &img_a]);
    cli_ok(&[&"image", &"build", &"--build-id", &"2", &b, &img_b]);
    cli_ok(&[&"patch", &"make", &img_a, &img_b, &pat]);

    let meta = json(&img_b.join("img.json"));
    assert_eq!(meta["formatVersion"], 2);
    sh(&format!(
        "cd {} && 7z x -y -o{} img.idx.7z >/dev/null",
        img_b.display(),
        dir.join("idx").display()
    ));
    let index = fs::read(dir.join("idx/img.idx")).expect("img.idx");
    assert_eq!(&index[8..12], &2u32.to_le_bytes(), "index format version");
    let block_count = meta["blockCount"].as_u64().expect("blockCount");
    let (size, hashes) = index_chunk_table(&index, block_count);
    let dxf = fs::read(img_b.join("img.dxf")).expect("img.dxf");
    assert_eq!(size as usize, CHUNK);
    assert!(hashes.len() >= 4, "{} chunks", hashes.len());
    assert_eq!(hashes, sha256_chunks(&dxf));

    let patch = json(&pat.join("patch.json"));
    assert_eq!(patch["formatVersion"], 3);
    assert_eq!(patch["dataChunkSize"], CHUNK);
    let data = fs::read(pat.join("patch.data")).expect("patch.data");
    assert!(data.len() > CHUNK, "patch.data of {} bytes", data.len());
    let stated: Vec<String> =
        serde_json::from_value(patch["dataChunkSha256"].clone()).expect("hash list");
    assert_eq!(stated, sha256_chunks(&data));

    // A byte flipped in the second chunk of patch.data is named by its chunk.
    let mut bad = data.clone();
    bad[CHUNK + 17] ^= 0x40;
    fs::write(pat.join("patch.data"), &bad).expect("write");
    let out = cli(&[&"patch", &"verify", &pat]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("chunk 1 "), "{err}");

    // A byte flipped in img.dxf: verify names the file holding it or its chunk.
    let mut bad = dxf.clone();
    bad[2 * CHUNK + 3] ^= 1;
    fs::write(img_b.join("img.dxf"), &bad).expect("write");
    let out = cli(&[&"image", &"verify", &img_b]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("chunk 2 ") || err.contains("game/"), "{err}");
}

#[test]
fn version_1_images_and_patches_stay_readable() {
    old_fixtures_stay_readable(1);
}

#[test]
fn version_2_patches_stay_readable() {
    let pat = fixture_of(2, "pat");
    assert_eq!(json(&pat.join("patch.json"))["formatVersion"], 2);
    let raw = sh(&format!(
        "7z e -so {} patch | head -c1 | od -An -tx1",
        pat.join("patch.7z").display()
    ));
    assert_eq!(raw.trim(), "05", "a raw delta stream of version 5");
    old_fixtures_stay_readable(2);
}

/// The images and the patch made by the release of format `version` verify, extract to
/// their tars, and the patch applies both ways to the new image.
fn old_fixtures_stay_readable(version: u32) {
    let fixture = |name: &str| fixture_of(version, name);
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    for (img, tar) in [("img1", "old.tar"), ("img2", "new.tar")] {
        assert_eq!(
            json(&fixture(img).join("img.json"))["formatVersion"],
            version
        );
        cli_ok(&[&"image", &"verify", &fixture(img)]);
        let (out, want) = (dir.join(format!("{img}-x")), dir.join(format!("{img}-tar")));
        cli_ok(&[&"image", &"extract", &fixture(img), &out]);
        fs::create_dir_all(&want).expect("mkdir");
        sh(&format!(
            "tar -C {} -xf {} && diff -r --no-dereference {} {}",
            want.display(),
            fixture(tar).display(),
            want.display(),
            out.display()
        ));
    }
    cli_ok(&[&"patch", &"verify", &fixture("pat")]);
    let want = json(&fixture("img2").join("img.json"))["dxfMd5"].clone();
    let (bulk, streaming) = (dir.join("bulk.dxf"), dir.join("streaming.dxf"));
    cli_ok(&[&"patch", &"apply", &fixture("img1"), &fixture("pat"), &bulk]);
    let (old, pat) = (fixture("img1"), fixture("pat"));
    cli_ok(&[&"patch", &"apply", &old, &pat, &streaming, &"--streaming"]);
    for out in [bulk, streaming] {
        let md5 = sh(&format!("md5sum {} | cut -c1-32", out.display()));
        assert_eq!(md5.trim(), want.as_str().expect("md5"), "{}", out.display());
    }
}
