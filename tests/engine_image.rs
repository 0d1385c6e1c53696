//! Image build → extract round trips through the real CLI, compared with `tar -x`.

mod common_engine;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use common_engine::*;

/// A tree with the edge cases of real builds.
fn edge_tree(root: &Path) {
    write(&root.join("empty.bin"), b"");
    write(&root.join("exact/4096.bin"), &noise(4096, 1));
    write(&root.join("exact/8192.bin"), &noise(8192, 2));
    write(&root.join("small.txt"), b"hello\n");
    write(&root.join("odd.bin"), &noise(4096 * 3 + 17, 3));
    write(&root.join("zeros.bin"), &vec![0u8; 3 * 4096 + 5]);
    let mut repeated = noise(4096, 4);
    repeated.extend(noise(4096, 4).repeat(5));
    write(&root.join("repeated.bin"), &repeated);
    // The same content in two directories: a file moved between builds.
    write(&root.join("old/place/moved.dat"), &noise(20_000, 5));
    write(&root.join("new/place/moved.dat"), &noise(20_000, 5));
    let long_dir = format!("{}/{}", "d".repeat(120), "e".repeat(120));
    write(&root.join(&long_dir).join("f".repeat(150)), b"long path");
    fs::create_dir_all(root.join("empty-dir/inner")).expect("mkdir");
    symlink("small.txt", root.join("link-to-small")).expect("symlink");
    symlink(
        "../".repeat(3) + &"t".repeat(140),
        root.join("exact/long-dangling"),
    )
    .expect("symlink");
    symlink("exact", root.join("dir-link")).expect("symlink");
    fs::hard_link(root.join("odd.bin"), root.join("exact/hard-odd.bin")).expect("hard link");
    let script = root.join("run.sh");
    write(&script, b"#!/bin/sh\necho hi\n");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::set_permissions(root.join("small.txt"), fs::Permissions::from_mode(0o600)).expect("chmod");
    fs::set_permissions(
        root.join("empty-dir/inner"),
        fs::Permissions::from_mode(0o700),
    )
    .expect("chmod");
}

#[test]
fn gnu_tar_round_trip_and_reproducible() {
    let work = scratch();
    let src = work.path().join("src");
    edge_tree(&src);
    let tar = work.path().join("build.tar");
    tar_of(&src, &tar, "--format=gnu");
    let img = round_trip(&tar, &work.path().join("a"));
    let again = build(&tar, &work.path().join("again"));
    assert_eq!(output_md5s(&img), output_md5s(&again));
    let meta = read_json(&img.join("img.json"));
    assert!(meta["dedupBytes"].as_u64().expect("dedupBytes") >= 5 * 4096);
}

#[test]
fn pax_tar_round_trip() {
    let work = scratch();
    let src = work.path().join("src");
    edge_tree(&src);
    write(&src.join("naïve/ünïcødé.txt"), "pax path".as_bytes());
    let tar = work.path().join("build.tar");
    tar_of(&src, &tar, "--format=pax");
    round_trip(&tar, work.path());
}

#[test]
fn ustar_prefix_round_trip() {
    let work = scratch();
    let src = work.path().join("src");
    let dir = format!("{}/{}", "p".repeat(90), "q".repeat(60));
    write(&src.join(&dir).join("r".repeat(90)), &noise(5000, 6));
    write(&src.join("short.txt"), b"ustar");
    symlink("short.txt", src.join("link")).expect("symlink");
    let tar = work.path().join("ustar.tar");
    tar_of(&src, &tar, "--format=ustar");
    round_trip(&tar, work.path());
}

#[test]
fn default_metadata_is_reproducible() {
    let work = scratch();
    let src = work.path().join("src");
    edge_tree(&src);
    let tar = work.path().join("game.tar");
    tar_of(&src, &tar, "");
    let (a, b) = (work.path().join("a"), work.path().join("b"));
    cli_ok(&[&"image", &"build", &tar, &a, &"--build-id", &"1"]);
    cli_ok(&[&"image", &"build", &tar, &b, &"--build-id", &"1"]);
    assert_eq!(output_md5s(&a), output_md5s(&b));
    let app = read_json(&a.join("app.json"));
    assert_eq!(app["appName"], "game");
    assert_eq!(app["orgName"], "local");
}

#[test]
fn sparse_3gib_gnu_old_format() {
    let work = scratch();
    let src = work.path().join("src");
    fs::create_dir_all(&src).expect("mkdir");
    let file = src.join("huge.pak");
    sh(&format!(
        "printf head > '{0}' && truncate -s 3G '{0}' && printf middle | dd of='{0}' bs=1 seek=1610612736 conv=notrunc status=none && printf tail >> '{0}'",
        file.display()
    ));
    let tar = work.path().join("sparse.tar");
    tar_of(&src, &tar, "--format=gnu --sparse");
    assert!(
        fs::metadata(&tar).expect("tar").len() < 1 << 20,
        "tar should be small"
    );
    let img = round_trip(&tar, work.path());
    assert_eq!(
        fs::metadata(img.join("img.dxf")).expect("dxf").len(),
        3 * 4096
    );
}

/// Sparse files with many data islands (old GNU sparse needs extension headers past four),
/// in every GNU sparse format.
#[test]
fn sparse_formats_with_many_islands() {
    let formats = [
        "--format=gnu",
        "--format=pax --sparse-version=0.0",
        "--format=pax --sparse-version=0.1",
        "--format=pax --sparse-version=1.0",
    ];
    for format in formats {
        let work = scratch();
        let src = work.path().join("src");
        fs::create_dir_all(&src).expect("mkdir");
        let file = src.join("islands.bin");
        let mut script = format!("truncate -s 40M '{}'", file.display());
        for i in 0..10u64 {
            let seek = i * 3_000_000 + i * 7;
            script += &format!(
                " && printf island{i} | dd of='{}' bs=1 seek={seek} conv=notrunc status=none",
                file.display()
            );
        }
        sh(&format!("{script} && printf end >> '{}'", file.display()));
        write(&src.join("plain.txt"), b"not sparse");
        let tar = work.path().join("sparse.tar");
        tar_of(&src, &tar, &format!("{format} --sparse"));
        round_trip(&tar, work.path());
    }
}

#[test]
fn fifty_thousand_tiny_files() {
    let work = scratch();
    let src = work.path().join("src");
    python(&format!(
        "import os\nroot={:?}\nfor d in range(50):\n    p=os.path.join(root,'dir%02d'%d)\n    os.makedirs(p)\n    for f in range(1000):\n        open(os.path.join(p,'f%04d.txt'%f),'w').write('file %d %d\\n'%(d,f) * (f % 3))\n",
        src.display().to_string()
    ));
    let tar = work.path().join("tiny.tar");
    tar_of(&src, &tar, "");
    round_trip(&tar, work.path());
}

#[test]
fn access_order_puts_blocks_first() {
    let work = scratch();
    let src = work.path().join("src");
    write(&src.join("a.bin"), &noise(10 * 4096, 10));
    write(&src.join("z.bin"), &noise(4 * 4096, 11));
    let tar = work.path().join("o.tar");
    tar_of(&src, &tar, "");
    let order = work.path().join("order.txt");
    fs::write(&order, "# first reads\n2 2 z.bin\n5 1 a.bin\n3 1 z.bin\n").expect("order");
    let img = work.path().join("img");
    cli_ok(&[
        &"image",
        &"build",
        &tar,
        &img,
        &"--build-id",
        &"1",
        &"--order",
        &order,
    ]);
    let dxf = fs::read(img.join("img.dxf")).expect("dxf");
    let z = noise(4 * 4096, 11);
    let a = noise(10 * 4096, 10);
    assert_eq!(&dxf[..2 * 4096], &z[2 * 4096..]);
    assert_eq!(&dxf[2 * 4096..3 * 4096], &a[5 * 4096..6 * 4096]);
    assert_eq!(&dxf[3 * 4096..4 * 4096], &a[..4096]);
    let meta = read_json(&img.join("img.json"));
    assert_eq!(meta["preloadBytes"], 3 * 4096);
    let ours = work.path().join("ours");
    cli_ok(&[&"image", &"extract", &img, &ours]);
    assert_same_tree(&src, &ours);
}

#[test]
fn extract_refuses_non_empty_output() {
    let work = scratch();
    let src = work.path().join("src");
    write(&src.join("a"), b"a");
    let tar = work.path().join("t.tar");
    tar_of(&src, &tar, "");
    let img = build(&tar, &work.path().join("img"));
    let out = work.path().join("out");
    write(&out.join("existing"), b"x");
    let result = cli(&[&"image", &"extract", &img, &out]);
    assert_eq!(result.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&result.stderr).contains("output directory is not empty"));
}

#[test]
fn an_image_build_stops_when_asked_and_leaves_no_image() {
    use rockit_edge::engine::EngineError;
    use rockit_edge::engine::image::{BuildMetadata, build_image};

    let work = scratch();
    let src = work.path().join("src");
    write(&src.join("bin/game"), &noise(400_000, 7));
    write(&src.join("data/a.pak"), &noise(200_000, 8));
    let tar = work.path().join("build.tar");
    tar_of(&src, &tar, "");
    let metadata = BuildMetadata {
        org_name: "acme".into(),
        app_name: "game".into(),
        label: "Game".into(),
        build_id: 1,
        build_name: "build".into(),
        dxf_name: None,
        created: "2026-01-01T00:00:00Z".into(),
    };
    let out = work.path().join("img");
    let result = build_image(&tar, &out, &metadata, None, &StopAt::new(1));
    assert!(matches!(result, Err(EngineError::Cancelled)), "{result:?}");
    assert!(
        !out.join("img.json").exists(),
        "a stopped build left img.json"
    );
    assert!(
        !out.join("img.dxf").exists(),
        "a stopped build left img.dxf"
    );
}
