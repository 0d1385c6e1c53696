//! Every class of bad input gets its exact error and exit code from the real CLI; corrupt
//! images are refused naming the file at fault.

mod common_engine;

use std::fs;
use std::path::Path;

use common_engine::*;

/// Builds `tar` into a fresh directory and returns (exit code, stderr).
fn build_fails(tar: &Path) -> (Option<i32>, String) {
    let out = tar.with_extension("img");
    let result = cli(&[&"image", &"build", &tar, &out, &"--build-id", &"1"]);
    (
        result.status.code(),
        String::from_utf8_lossy(&result.stderr).into_owned(),
    )
}

/// Asserts the build of `tar` fails with exit code 2 and exactly `message` on stderr.
fn assert_refused(tar: &Path, message: &str) {
    let (code, stderr) = build_fails(tar);
    assert_eq!(stderr, format!("rockit-edge: {message}\n"));
    assert_eq!(code, Some(2), "exit code for: {message}");
}

/// A tar written by Python's tarfile with the given `(name, type, data[, link])` entries.
fn python_tar(tar: &Path, entries: &str) {
    python(&format!(
        "import tarfile, io\nwith tarfile.open({:?}, 'w', format=tarfile.GNU_FORMAT) as t:\n    for name, kind, data, *link in {entries}:\n        info = tarfile.TarInfo(name)\n        info.linkname = link[0] if link else ''\n        info.type = kind\n        info.size = len(data)\n        t.addfile(info, io.BytesIO(data))\n",
        tar.display().to_string()
    ));
}

#[test]
fn unsafe_and_duplicate_paths() {
    let work = scratch();
    let cases = [
        (
            "abs.tar",
            "[('/etc/evil', b'0', b'x')]",
            "/etc/evil: unsafe path: absolute path",
        ),
        (
            "dots.tar",
            "[('a/../../evil', b'0', b'x')]",
            "a/../../evil: unsafe path: '..' component",
        ),
        (
            "dup.tar",
            "[('d/x', b'0', b'1'), ('d/x', b'0', b'2')]",
            "d/x: duplicate path in the archive",
        ),
        (
            "through-link.tar",
            "[('l', b'2', b''), ('l/f', b'0', b'x')]",
            "l/f: unsafe path: parent 'l' is not a directory",
        ),
        (
            "hardlink.tar",
            "[('h', b'1', b'', 'nowhere')]",
            "h: unsafe path: hard link target 'nowhere' is not a regular file of the archive",
        ),
        (
            "hardlink-out.tar",
            "[('h', b'1', b'', '../x')]",
            "h: unsafe path: hard link target: '..' component",
        ),
    ];
    for (name, entries, message) in cases {
        let tar = work.path().join(name);
        python_tar(&tar, entries);
        assert_refused(&tar, message);
    }
}

#[test]
fn devices_and_fifos_are_skipped_with_a_warning() {
    let work = scratch();
    let tar = work.path().join("dev.tar");
    python_tar(
        &tar,
        "[('fifo', b'6', b''), ('dev/null', b'3', b''), ('ok.txt', b'0', b'ok')]",
    );
    let out = cli(&[
        &"image",
        &"build",
        &tar,
        &work.path().join("img"),
        &"--build-id",
        &"1",
    ]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: fifo: FIFO skipped"), "{stderr}");
    assert!(
        stderr.contains("warning: dev/null: device file skipped"),
        "{stderr}"
    );
}

#[test]
fn inputs_that_are_not_tars() {
    require_7z();
    let work = scratch();
    let dir = work.path();
    write(&dir.join("payload/file.txt"), &noise(3000, 7));
    let tar = dir.join("real.tar");
    tar_of(&dir.join("payload"), &tar, "");
    let t = tar.display();
    let p = dir.join("payload/file.txt");
    let p = p.display();
    let d = dir.display();
    sh(&format!(
        "gzip -c '{t}' > '{d}/x.gzip' && zstd -q -c '{t}' > '{d}/x.zstd' && xz -c '{t}' > '{d}/x.xz' \
         && bzip2 -c '{t}' > '{d}/x.bzip2' && zip -q -j '{d}/x.zip' '{p}' && 7z a -bd '{d}/x.7z' '{p}' > /dev/null \
         && : > '{d}/x.empty' && printf 'just some text' > '{d}/x.unknown'"
    ));
    for kind in [
        "gzip", "zstd", "xz", "bzip2", "zip", "7z", "empty", "unknown",
    ] {
        let input = dir.join(format!("x.{kind}"));
        let message = format!("{}: expected a tar file, found {kind}", input.display());
        assert_refused(&input, &message);
    }
}

#[test]
fn truncated_tar_and_bad_checksum() {
    let work = scratch();
    let src = work.path().join("src");
    write(&src.join("a.txt"), b"first");
    write(&src.join("big.bin"), &noise(10_000, 8));
    let tar = work.path().join("t.tar");
    sh(&format!(
        "tar --format=gnu -C '{}' -cf '{}' a.txt big.bin",
        src.display(),
        tar.display()
    ));
    let bytes = fs::read(&tar).expect("tar");

    let cut = work.path().join("cut.tar");
    fs::write(&cut, &bytes[..1024 + 512 + 5000]).expect("write");
    let message = format!(
        "{}: truncated tar: big.bin at offset 1024 needs 10000 bytes at offset 1536, the file has 6536",
        cut.display()
    );
    assert_refused(&cut, &message);

    let no_end = work.path().join("no-end.tar");
    fs::write(&no_end, &bytes[..1024 + 512 + 10240]).expect("write");
    let message = format!(
        "{}: truncated tar: header at offset 11776 archive ends without end-of-archive marker",
        no_end.display()
    );
    assert_refused(&no_end, &message);

    let mut flipped = bytes.clone();
    flipped[1024 + 3] ^= 0x20;
    let bad = work.path().join("bad.tar");
    fs::write(&bad, &flipped).expect("write");
    let message = format!(
        "{}: bad tar header checksum at offset 1024 (after entry a.txt)",
        bad.display()
    );
    assert_refused(&bad, &message);
}

#[test]
fn bad_order_file() {
    let work = scratch();
    let src = work.path().join("src");
    write(&src.join("a.bin"), &noise(8192, 9));
    let tar = work.path().join("t.tar");
    tar_of(&src, &tar, "");
    for (text, reason) in [
        (
            "0 1 missing.bin\n",
            "line 1: 'missing.bin' is not a regular file of the build",
        ),
        ("# c\n1 5 a.bin\n", "line 2: 'a.bin' has only 2 blocks"),
        ("zero one a.bin\n", "line 1: expected 'FIRST COUNT PATH'"),
    ] {
        let order = work.path().join("order.txt");
        fs::write(&order, text).expect("order");
        let out = cli(&[
            &"image",
            &"build",
            &tar,
            &work.path().join("img"),
            &"--build-id",
            &"1",
            &"--order",
            &order,
        ]);
        assert_eq!(out.status.code(), Some(2));
        let expected = format!("rockit-edge: {}: {reason}\n", order.display());
        assert_eq!(String::from_utf8_lossy(&out.stderr), expected);
    }
}

/// Builds a small image and returns (scratch, image dir).
fn small_image() -> (tempfile::TempDir, std::path::PathBuf) {
    let work = scratch();
    let src = work.path().join("src");
    write(&src.join("a.bin"), &noise(3 * 4096, 12));
    write(&src.join("b.txt"), b"bee");
    let tar = work.path().join("t.tar");
    tar_of(&src, &tar, "");
    let img = build(&tar, &work.path().join("img"));
    (work, img)
}

/// `verify` and `extract` both refuse the image with exit code 2 and a message naming `file`.
fn assert_corrupt(img: &Path, out: &Path, file: &str) {
    for args in [vec!["verify"], vec!["extract", "-"]] {
        let mut argv: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"image", &args[0], &img];
        if args.len() > 1 {
            argv.push(&out);
        }
        let result = cli(&argv);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.starts_with(&format!("rockit-edge: {file}: corrupt image:")),
            "{args:?}: {stderr}"
        );
        let _ = fs::remove_dir_all(out);
    }
}

/// A way to damage an image directory.
type Damage = fn(&Path);

#[test]
fn corrupt_images_are_refused() {
    let cases: [(&str, Damage); 5] = [
        ("img.dxf", |img| {
            let dxf = img.join("img.dxf");
            let mut bytes = fs::read(&dxf).expect("dxf");
            bytes[100] ^= 1;
            fs::write(&dxf, bytes).expect("write");
        }),
        ("img.dxf", |img| {
            let dxf = fs::OpenOptions::new()
                .write(true)
                .open(img.join("img.dxf"))
                .expect("dxf");
            dxf.set_len(4096).expect("truncate");
        }),
        ("img.idx.7z", |img| {
            let idx = img.join("img.idx.7z");
            let bytes = fs::read(&idx).expect("idx");
            fs::write(&idx, &bytes[..bytes.len() / 2]).expect("write");
        }),
        ("img.json", |img| {
            fs::remove_file(img.join("img.json")).expect("rm")
        }),
        ("img.json", |img| {
            let json = img.join("img.json");
            let text = fs::read_to_string(&json).expect("json");
            fs::write(&json, text.replace("\"blockCount\"", "\"blocks\"")).expect("write");
        }),
    ];
    for (file, damage) in cases {
        let (work, img) = small_image();
        damage(&img);
        assert_corrupt(&img, &work.path().join("out"), file);
    }
}
