//! docs/FORMAT.md as a reader would take it: the worked image example made by the commands it
//! gives, byte for byte; a block map with kind-2 (zero) runs, which `patch make` never writes,
//! applied both ways; the version and forward-compatibility rules; and the errors a reader
//! shows for broken patches, in words.

mod common_engine;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common_engine::{build, cli, cli_ok, md5_of, noise, require_7z, scratch, sh, tar_of, write};
use sha2::{Digest, Sha256};

fn format_md() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/FORMAT.md");
    fs::read_to_string(path).expect("docs/FORMAT.md")
}

/// The text of FORMAT.md from the heading `from` to the next heading of the same level.
fn section<'a>(doc: &'a str, from: &str) -> &'a str {
    let start = doc.find(from).unwrap_or_else(|| panic!("no '{from}'"));
    let rest = &doc[start + from.len()..];
    let level = from.split(' ').next().expect("heading");
    let end = rest.find(&format!("\n{level} ")).unwrap_or(rest.len());
    &rest[..end]
}

/// The first fenced block after `marker` in `text`, without its fences.
fn fenced_after<'a>(text: &'a str, marker: &str) -> &'a str {
    let at = text.find(marker).unwrap_or_else(|| panic!("no '{marker}'"));
    let open = at + text[at..].find("```").expect("a fenced block");
    let body = open + text[open..].find('\n').expect("fence line") + 1;
    let close = body + text[body..].find("```").expect("closing fence");
    &text[body..close]
}

/// The bytes of an `xxd`-style dump whose lines carry notes after the hex columns.
fn dump_bytes(dump: &str) -> Vec<u8> {
    let hex: String = dump
        .lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(_, rest)| rest.split("  ").next().unwrap_or("").replace(' ', ""))
        .collect();
    hex::decode(hex).expect("hex dump")
}

/// The version-3 UUID FORMAT.md derives a default `dxfName` from `dxfMd5` with.
fn derived_dxf_name(md5_hex: &str) -> String {
    let mut b = hex::decode(md5_hex).expect("md5 hex");
    b[6] = (b[6] & 0x0f) | 0x30;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[test]
fn the_worked_image_example_is_reproducible_as_written() {
    require_7z();
    let doc = format_md();
    let example = section(&doc, "## Worked example\n");
    let work = scratch();
    let dir = work.path();
    let bin_dir = Path::new(common_engine::bin()).parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = fenced_after(example, "These\ncommands make it");
    let ran = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .expect("bash");
    assert!(
        ran.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let img = dir.join("img");
    for (file, md5) in [
        ("build/bin/game", "621cbb958f2827e61aa7e603207cd825"),
        ("build/readme.txt", "b1946ac92492d2347c6235b4d2611184"),
    ] {
        assert_eq!(md5_of(&dir.join(file)), md5, "{file}");
    }
    let index = sh(&format!(
        "7z x -so '{}' | xxd -p | tr -d '\\n'",
        img.join("img.idx.7z").display()
    ));
    let stated = dump_bytes(fenced_after(example, "`img.idx` ("));
    assert_eq!(
        index.trim(),
        hex::encode(stated),
        "img.idx against the dump"
    );
    for name in ["img.json", "app.json"] {
        let stated = fenced_after(example, &format!("`{name}`"));
        let made = fs::read_to_string(img.join(name)).expect(name);
        assert_eq!(made, stated, "{name} against FORMAT.md");
    }
    let dxf = fs::read(img.join("img.dxf")).expect("img.dxf");
    let pattern: Vec<u8> = (0..4096u32).map(|j| ((31 * j + 7) % 256) as u8).collect();
    let mut end = b"end".to_vec();
    end.resize(4096, 0);
    let mut hello = b"hello\n".to_vec();
    hello.resize(4096, 0);
    assert_eq!(
        dxf,
        [end, pattern, hello].concat(),
        "the three image blocks"
    );

    // Without --dxf-name the name is derived from dxfMd5 as FORMAT.md says.
    let derived = dir.join("derived");
    cli_ok(&[
        &"image",
        &"build",
        &dir.join("game.tar"),
        &derived,
        &"--build-id",
        &"3",
    ]);
    let meta = common_engine::read_json(&derived.join("img.json"));
    let md5 = meta["dxfMd5"].as_str().expect("dxfMd5");
    assert_eq!(meta["dxfName"], derived_dxf_name(md5).as_str());
}

/// Writes `member` as the one member of the 7z archive `archive` (7-Zip names it after the
/// file, as the readers accept).
fn seven_zip(dir: &Path, member: &str, bytes: &[u8]) -> PathBuf {
    let raw = dir.join(member);
    fs::write(&raw, bytes).expect("member");
    let archive = dir.join(format!("{member}.7z"));
    sh(&format!(
        "cd '{}' && 7z a -t7z -m0=lzma2 '{member}.7z' '{member}' >/dev/null",
        dir.display()
    ));
    fs::remove_file(raw).expect("rm member");
    archive
}

/// A patch from the image `old` whose map has zero runs around one `patch.data` block,
/// `data`: T is a zero block, `data`, a zero block. `raw` is the delta stream of `patch.7z`.
fn zero_run_patch(old: &Path, data: &[u8], raw: &[u8], out: &Path) -> Vec<u8> {
    fs::create_dir_all(out).expect("mkdir");
    // Version 5, one group of 3 runs: kinds zero, data, zero; the data count; the zero counts.
    seven_zip(out, "map", &[5, 3, 2, 1, 2, 1, 1, 1]);
    seven_zip(out, "patch", raw);
    fs::write(out.join("patch.data"), data).expect("patch.data");
    let target = [&[0u8; 4096][..], data, &[0u8; 4096][..]].concat();
    let to_md5 = hex::encode(md5::Md5::digest(&target));
    let from = common_engine::read_json(&old.join("img.json"));
    let patch_json = serde_json::json!({
        "formatVersion": 2,
        "fromBuildId": from["buildId"],
        "toBuildId": 9,
        "fromDxfName": from["dxfName"],
        "toDxfName": "00000000-0000-3000-8000-000000000009",
        "blockSize": 4096,
        "blockCount": 3,
        "reusedBlocks": 0,
        "newBlocks": 1,
        "zeroBlocks": 2,
        "dataBytes": 4096,
        "dataMd5": hex::encode(md5::Md5::digest(data)),
        "fromDxfMd5": from["dxfMd5"],
        "toDxfMd5": to_md5,
        "dataChunkSize": 262144,
        "dataChunkSha256": [hex::encode(Sha256::digest(data))],
    });
    fs::write(out.join("patch.json"), patch_json.to_string()).expect("patch.json");
    let img_json = serde_json::json!({
        "formatVersion": 2,
        "dxfName": patch_json["toDxfName"],
        "buildId": 9,
        "blockSize": 4096,
        "blockCount": 3,
        "dxfSize": 3 * 4096,
        "dxfMd5": patch_json["toDxfMd5"],
        "fileCount": 1,
        "totalFileBytes": 3 * 4096,
        "dedupBytes": 0,
        "preloadBytes": 3 * 4096,
        "traceCount": 0,
    });
    fs::write(out.join("img.json"), img_json.to_string()).expect("img.json");
    target
}

/// A raw delta stream of one chunk of 4096 literal bytes, ended by the record `tail`.
fn literal_stream(data: &[u8], record: &[u8]) -> Vec<u8> {
    [&[5u8, 0][..], record, data].concat()
}

#[test]
fn zero_runs_of_the_map_apply_both_ways() {
    require_7z();
    let work = scratch();
    let src = work.path().join("src");
    write(&src.join("a.bin"), &noise(3 * 4096, 1));
    tar_of(&src, &work.path().join("f.tar"), "");
    let old = build(&work.path().join("f.tar"), &work.path().join("f"));
    let data = noise(4096, 2);

    // lit_len 4096 (varint 80 20), copy code 0.
    let patch = work.path().join("patch");
    let target = zero_run_patch(
        &old,
        &data,
        &literal_stream(&data, &[0x80, 0x20, 0]),
        &patch,
    );
    cli_ok(&[&"patch", &"verify", &patch]);
    for streaming in [false, true] {
        let out = work.path().join(format!("out-{streaming}.dxf"));
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"patch", &"apply", &old, &patch];
        args.push(&out);
        if streaming {
            args.push(&"--streaming");
        }
        cli_ok(&args);
        assert_eq!(
            fs::read(&out).expect("out"),
            target,
            "streaming: {streaming}"
        );
    }

    // The same stream with its literals ended by a copy of 0 bytes (copy code 1 where the
    // span is 0) is refused, saying so.
    let bad = work.path().join("bad");
    zero_run_patch(
        &old,
        &data,
        &literal_stream(&data, &[0x80, 0x20, 1, 0]),
        &bad,
    );
    let out = work.path().join("bad.dxf");
    let refused = cli(&[&"patch", &"apply", &old, &bad, &out]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("patch.7z: corrupt patch:")
            && stderr.contains("copy of 0 bytes (copy code 1 at the chunk's end)"),
        "{stderr}"
    );
    assert!(!out.exists());
}

/// Rewrites a JSON file of `dir` with `edit`.
fn edit_json(dir: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut value = common_engine::read_json(&dir.join(name));
    edit(&mut value);
    fs::write(dir.join(name), value.to_string()).expect("write json");
}

/// The CLI's refusal of `args`: exit code 2 and its message.
fn refusal(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let out = cli(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    stderr
}

#[test]
fn higher_versions_are_refused_and_unknown_fields_ignored() {
    require_7z();
    let work = scratch();
    let (a, b) = (work.path().join("a"), work.path().join("b"));
    write(&a.join("game.bin"), &noise(5 * 4096, 3));
    let mut changed = noise(5 * 4096, 3);
    changed[5000] ^= 0x40;
    write(&b.join("game.bin"), &changed);
    tar_of(&a, &work.path().join("a.tar"), "");
    tar_of(&b, &work.path().join("b.tar"), "");
    let old = build(&work.path().join("a.tar"), &work.path().join("img-a"));
    let new = work.path().join("img-b");
    cli_ok(&[
        &"image",
        &"build",
        &work.path().join("b.tar"),
        &new,
        &"--build-id",
        &"2",
    ]);
    let patch = work.path().join("patch");
    cli_ok(&[&"patch", &"make", &old, &new, &patch]);
    let newer =
        "format version 3 is newer than this rockit-edge reads (1 to 2): update rockit-edge";
    let newer_patch =
        "format version 4 is newer than this rockit-edge reads (1 to 3): update rockit-edge";

    // Fields a later version adds are ignored, in img.json and in patch.json.
    edit_json(&new, "img.json", |v| v["addedLater"] = "x".into());
    edit_json(&patch, "patch.json", |v| v["addedLater"] = 1.into());
    cli_ok(&[&"image", &"verify", &new]);
    cli_ok(&[&"patch", &"verify", &patch]);
    let out = work.path().join("out.dxf");
    cli_ok(&[&"patch", &"apply", &old, &patch, &out]);

    // A higher formatVersion is refused, naming it and what to do.
    edit_json(&new, "img.json", |v| v["formatVersion"] = 3.into());
    let stderr = refusal(&[&"image", &"verify", &new]);
    assert!(
        stderr.contains(&format!("img.json: corrupt image: {newer}")),
        "{stderr}"
    );
    edit_json(&new, "img.json", |v| v["formatVersion"] = 2.into());
    let index = work.path().join("idx");
    sh(&format!(
        "mkdir '{i}' && cd '{i}' && 7z x '{n}/img.idx.7z' >/dev/null && \
         printf '\\003' | dd of=img.idx bs=1 seek=8 conv=notrunc 2>/dev/null && \
         rm '{n}/img.idx.7z' && 7z a -t7z -m0=lzma2 '{n}/img.idx.7z' img.idx >/dev/null",
        i = index.display(),
        n = new.display()
    ));
    let stderr = refusal(&[&"image", &"verify", &new]);
    assert!(stderr.contains(newer), "{stderr}");

    edit_json(&patch, "patch.json", |v| v["formatVersion"] = 4.into());
    let out = work.path().join("refused.dxf");
    let stderr = refusal(&[&"patch", &"apply", &old, &patch, &out]);
    assert!(
        stderr.contains(&format!("patch.json: corrupt patch: {newer_patch}")),
        "{stderr}"
    );

    // dataBytes that newBlocks disagree with: the message gives both numbers.
    edit_json(&patch, "patch.json", |v| {
        v["formatVersion"] = 3.into();
        v["dataBytes"] = 1_000_000.into();
    });
    let new_blocks = common_engine::read_json(&patch.join("patch.json"))["newBlocks"].clone();
    let stderr = refusal(&[&"patch", &"apply", &old, &patch, &out, &"--streaming"]);
    let said = format!(
        "patch.json: corrupt patch: dataBytes says 1000000 but newBlocks {new_blocks} make {} bytes",
        new_blocks.as_u64().expect("newBlocks") * 4096
    );
    assert!(stderr.contains(&said), "{stderr}");
    assert!(!out.exists());
}
