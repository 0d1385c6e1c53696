//! Block-level patches through the real CLI: made by content wherever blocks moved, applied
//! streaming to the exact new image, refused when damaged.

mod common_engine;

use std::fs;
use std::path::{Path, PathBuf};

use common_engine::*;

/// Two builds: the new one edits a file, moves a directory, drops one file and adds one, and
/// is built with an access order so its image is reordered. Returns (work, old img, new img).
fn two_images() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let work = scratch();
    let (old, new) = (work.path().join("old"), work.path().join("new"));
    let game = noise(300_000, 1);
    write(&old.join("bin/game"), &game);
    write(&old.join("data/levels/a.pak"), &noise(100_000, 2));
    write(&old.join("data/b.pak"), &noise(50_000, 3));
    write(&old.join("gone.txt"), b"removed in the new build");
    let mut edited = game.clone();
    edited[5000] ^= 0xff;
    edited.extend(noise(10, 4));
    write(&new.join("bin/game"), &edited);
    write(&new.join("assets/levels/a.pak"), &noise(100_000, 2));
    write(&new.join("data/b.pak"), &noise(50_000, 3));
    write(&new.join("data/c.pak"), &noise(9000, 5));
    let (old_tar, new_tar) = (work.path().join("old.tar"), work.path().join("new.tar"));
    tar_of(&old, &old_tar, "");
    tar_of(&new, &new_tar, "");
    let old_img = build(&old_tar, &work.path().join("old-img"));
    let order = work.path().join("order.txt");
    fs::write(&order, "10 3 data/b.pak\n0 3 assets/levels/a.pak\n").expect("order");
    let new_img = work.path().join("new-img");
    cli_ok(&[
        &"image",
        &"build",
        &new_tar,
        &new_img,
        &"--build-id",
        &"2",
        &"--order",
        &order,
    ]);
    (work, old_img, new_img)
}

#[test]
fn streaming_patch_rebuilds_the_new_image() {
    let (work, old_img, new_img) = two_images();
    let patch = work.path().join("patch");
    cli_ok(&[&"patch", &"make", &old_img, &new_img, &patch]);
    assert_7z_ok(&patch.join("map.7z"));
    let meta = read_json(&patch.join("patch.json"));
    let new_meta = read_json(&new_img.join("img.json"));
    assert_eq!(meta["toDxfMd5"], new_meta["dxfMd5"]);
    // The edited block, the game's grown last block, and c.pak's 3 blocks; the moved a.pak
    // and the reordered b.pak come from the old image.
    assert_eq!(meta["newBlocks"], 5, "{meta}");
    assert_eq!(
        fs::read(patch.join("img.json")).expect("img.json"),
        fs::read(new_img.join("img.json")).expect("img.json")
    );

    let out = work.path().join("rebuilt.dxf");
    cli_ok(&[&"patch", &"apply", &old_img, &patch, &out, &"--streaming"]);
    assert_eq!(
        fs::read(&out).expect("rebuilt"),
        fs::read(new_img.join("img.dxf")).expect("new dxf")
    );

    assert_7z_ok(&patch.join("patch.7z"));
    let bulk_only = work.path().join("bulk-only");
    fs::create_dir_all(&bulk_only).expect("mkdir");
    for name in ["map.7z", "patch.7z", "patch.json"] {
        fs::copy(patch.join(name), bulk_only.join(name)).expect("copy");
    }
    let bulk_out = work.path().join("bulk.dxf");
    cli_ok(&[&"patch", &"apply", &old_img, &bulk_only, &bulk_out]);
    assert_eq!(
        fs::read(&bulk_out).expect("rebuilt"),
        fs::read(new_img.join("img.dxf")).expect("new dxf"),
        "map.7z + patch.7z alone rebuild the new image"
    );

    let again = work.path().join("patch-again");
    cli_ok(&[&"patch", &"make", &old_img, &new_img, &again]);
    assert_eq!(dir_md5s(&patch), dir_md5s(&again));
}

/// Applying and verifying must fail with exit code 2, naming `file`, and applying must leave
/// no output behind.
fn assert_apply_refused(old_img: &Path, patch: &Path, out: &Path, file: &str) {
    if file != "patch.json" {
        let verify = cli(&[&"patch", &"verify", &patch]);
        let stderr = String::from_utf8_lossy(&verify.stderr);
        assert_eq!(verify.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.starts_with(&format!("rockit-edge: {file}: corrupt patch:")),
            "verify {file}: {stderr}"
        );
    }
    // The streaming path reads everything but patch.7z, the bulk path all but patch.data.
    let streaming: &[&dyn AsRef<std::ffi::OsStr>] =
        &[&"patch", &"apply", &old_img, &patch, &out, &"--streaming"];
    let bulk: &[&dyn AsRef<std::ffi::OsStr>] = &[&"patch", &"apply", &old_img, &patch, &out];
    let paths = [
        (file != "patch.7z").then_some(streaming),
        (file != "patch.data").then_some(bulk),
    ];
    for args in paths.into_iter().flatten() {
        let result = cli(args);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{file}: {stderr}");
        assert!(
            stderr.starts_with(&format!("rockit-edge: {file}: corrupt patch:")),
            "{file}: {stderr}"
        );
        assert!(!out.exists(), "no output after a refused apply");
        assert!(!has_debug_name(&stderr), "an error in debug form: {stderr}");
    }
}

/// True when `text` holds a word like `ChecksumVerificationFailed`: an error in its debug
/// form, which users must never be shown.
fn has_debug_name(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| {
            let capitals = word.chars().filter(char::is_ascii_uppercase).count();
            let starts_upper = word.starts_with(|c: char| c.is_ascii_uppercase());
            starts_upper && capitals >= 2 && word.chars().any(|c| c.is_ascii_lowercase())
        })
}

#[test]
fn damaged_patches_are_refused() {
    let (work, old_img, new_img) = two_images();
    let patch = work.path().join("patch");
    cli_ok(&[&"patch", &"make", &old_img, &new_img, &patch]);
    let out = work.path().join("out.dxf");
    let keep = |name: &str| fs::read(patch.join(name)).expect("read");
    let (data, map) = (keep("patch.data"), keep("map.7z"));

    fs::write(patch.join("patch.data"), &data[..data.len() - 1]).expect("write");
    assert_apply_refused(&old_img, &patch, &out, "patch.data");
    let mut flipped = data.clone();
    flipped[10] ^= 1;
    fs::write(patch.join("patch.data"), &flipped).expect("write");
    assert_apply_refused(&old_img, &patch, &out, "patch.data");
    fs::write(patch.join("patch.data"), &data).expect("write");

    fs::write(patch.join("map.7z"), &map[..map.len() / 2]).expect("write");
    assert_apply_refused(&old_img, &patch, &out, "map.7z");
    fs::write(patch.join("map.7z"), &map).expect("write");

    assert_apply_refused(&new_img, &patch, &out, "patch.json");

    let bulk = keep("patch.7z");
    fs::write(patch.join("patch.7z"), &bulk[..bulk.len() / 2]).expect("write");
    let refused = cli(&[&"patch", &"apply", &old_img, &patch, &out]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("rockit-edge: patch.7z: corrupt patch:"),
        "{stderr}"
    );
    assert!(!out.exists(), "no output after a refused apply");
    let verify = cli(&[&"patch", &"verify", &patch]);
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        stderr.starts_with("rockit-edge: patch.7z: corrupt patch:"),
        "{stderr}"
    );
    let mut flipped = bulk.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    fs::write(patch.join("patch.7z"), &flipped).expect("write");
    assert_apply_refused(&old_img, &patch, &out, "patch.7z");
    let crc = cli(&[&"patch", &"apply", &old_img, &patch, &out]);
    let stderr = String::from_utf8_lossy(&crc.stderr);
    assert!(
        stderr.contains("patch.7z: corrupt patch: CRC32 mismatch"),
        "{stderr}"
    );
    fs::write(patch.join("patch.7z"), &bulk).expect("write");
    cli_ok(&[&"patch", &"verify", &patch]);
    cli_ok(&[&"patch", &"apply", &old_img, &patch, &out]);
    cli_ok(&[
        &"patch",
        &"apply",
        &old_img,
        &patch,
        &out.with_extension("s"),
        &"--streaming",
    ]);
}

#[test]
fn make_refuses_a_corrupt_image() {
    let (work, old_img, new_img) = two_images();
    let dxf = old_img.join("img.dxf");
    let mut bytes = fs::read(&dxf).expect("dxf");
    bytes[0] ^= 1;
    fs::write(&dxf, bytes).expect("write");
    let result = cli(&[
        &"patch",
        &"make",
        &old_img,
        &new_img,
        &work.path().join("p"),
    ]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2));
    let expected = format!(
        "rockit-edge: {}: corrupt image: md5 differs from img.json\n",
        dxf.display()
    );
    assert_eq!(stderr, expected);
}

/// `patch make OLD NEW PATCH --budget-mib MIB`.
fn make_with_budget(old: &Path, new: &Path, patch: &Path, mib: u64) -> std::process::Output {
    cli(&[
        &"patch",
        &"make",
        &old,
        &new,
        &patch,
        &"--budget-mib",
        &mib.to_string(),
    ])
}

#[test]
fn make_refuses_a_budget_below_the_working_set() {
    let (work, old_img, new_img) = two_images();
    let patch = work.path().join("patch");
    let refused = make_with_budget(&old_img, &new_img, &patch, 10);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("patch.7z") && stderr.contains("memory budget of 10485760 bytes"),
        "{stderr}"
    );
    assert!(!patch.join("patch.7z").exists());
}

/// An old image far larger than the budget's window: the differ indexes the old bytes the
/// block map predicts the changed blocks came from, not the image's first bytes, so blocks
/// with a flipped byte anywhere in a big file still cost a few bytes each.
#[test]
fn small_budgets_index_the_old_bytes_the_map_predicts() {
    let work = scratch();
    let (old, new) = (work.path().join("old"), work.path().join("new"));
    let big = noise(8 << 20, 31);
    let mut edited = big.clone();
    for i in 0..12 {
        edited[(2 << 20) + i * 500_000] ^= 0x5a;
    }
    write(&old.join("big.bin"), &big);
    write(&new.join("big.bin"), &edited);
    let (old_tar, new_tar) = (work.path().join("old.tar"), work.path().join("new.tar"));
    tar_of(&old, &old_tar, "");
    tar_of(&new, &new_tar, "");
    let old_img = build(&old_tar, &work.path().join("old-img"));
    let new_img = build(&new_tar, &work.path().join("new-img"));
    // A window of about 1 MiB: an eighth of the old image, none of the changed blocks.
    let budget_mib = rockit_edge::engine::patch::min_budget().div_ceil(1 << 20) + 4;
    let patch = work.path().join("patch");
    let made = make_with_budget(&old_img, &new_img, &patch, budget_mib);
    assert!(made.status.success(), "{made:?}");
    let bulk = fs::metadata(patch.join("patch.7z"))
        .expect("patch.7z")
        .len();
    assert!(bulk < 4096, "patch.7z is {bulk} bytes for 12 changed bytes");
    let out = work.path().join("out.dxf");
    cli_ok(&[&"patch", &"apply", &old_img, &patch, &out]);
    assert_eq!(
        fs::read(&out).expect("applied image"),
        fs::read(new_img.join("img.dxf")).expect("new image")
    );
}

#[test]
fn a_patch_make_stops_when_asked_at_any_stage_and_leaves_no_patch() {
    use rockit_edge::engine::EngineError;
    use rockit_edge::engine::patch::{DEFAULT_BUDGET, make_patch_with_bulk};

    let (work, old_img, new_img) = two_images();
    let whole = StopAt::new(usize::MAX);
    make_patch_with_bulk(
        &old_img,
        &new_img,
        &work.path().join("whole"),
        DEFAULT_BUDGET,
        &whole,
    )
    .expect("an uncancelled make succeeds");
    let questions = whole.asked.get();
    assert!(
        questions > 3,
        "the make asked to stop only {questions} times"
    );
    // The first question comes from the block map, the last from packing patch.7z.
    for stop_at in [1, questions / 2, questions] {
        let out = work.path().join(format!("stopped-{stop_at}"));
        let result = make_patch_with_bulk(
            &old_img,
            &new_img,
            &out,
            DEFAULT_BUDGET,
            &StopAt::new(stop_at),
        );
        assert!(
            matches!(result, Err(EngineError::Cancelled)),
            "stop at question {stop_at} of {questions}: {result:?}"
        );
        for finished in ["patch.json", "patch.7z"] {
            assert!(
                !out.join(finished).exists(),
                "a stopped make left {finished} (stop at {stop_at})"
            );
        }
    }
}

/// An old image twice the window: `patch.data` is coded in passes, each against the old
/// bytes like its own, wherever they moved, and comes out nearly as small as with the whole
/// old image indexed.
#[test]
fn passes_find_moved_files_beyond_the_window() {
    let work = scratch();
    let (old, new) = (work.path().join("old"), work.path().join("new"));
    let (a, b) = (noise(20 << 20, 41), noise(20 << 20, 42));
    let edit = |bytes: &[u8]| {
        let mut edited = bytes.to_vec();
        for i in (1000..edited.len()).step_by(3000) {
            edited[i] ^= 0x21;
        }
        edited
    };
    write(&old.join("a/data.bin"), &a);
    write(&old.join("b/data.bin"), &b);
    // Both files change in every block, and b's moves to sort first.
    write(&new.join("0-moved/data.bin"), &edit(&b));
    write(&new.join("a/data.bin"), &edit(&a));
    let (old_tar, new_tar) = (work.path().join("old.tar"), work.path().join("new.tar"));
    tar_of(&old, &old_tar, "");
    tar_of(&new, &new_tar, "");
    let old_img = build(&old_tar, &work.path().join("old-img"));
    let new_img = build(&new_tar, &work.path().join("new-img"));
    let whole = work.path().join("whole");
    let made = make_with_budget(&old_img, &new_img, &whole, 1024);
    assert!(made.status.success(), "{made:?}");
    // A 24 MiB window for 40 MiB of old image.
    let min = rockit_edge::engine::patch::min_budget();
    let budget_mib = (min - (1 << 20) + 5 * (24 << 20)).div_ceil(1 << 20);
    let passes = work.path().join("passes");
    let made = make_with_budget(&old_img, &new_img, &passes, budget_mib);
    assert!(made.status.success(), "{made:?}");
    let size = |dir: &Path| fs::metadata(dir.join("patch.7z")).expect("patch.7z").len();
    let (whole_size, passes_size) = (size(&whole), size(&passes));
    assert!(
        passes_size * 100 <= whole_size * 105,
        "in passes {passes_size} bytes, whole {whole_size}"
    );
    for dir in [&whole, &passes] {
        let out = dir.with_extension("dxf");
        cli_ok(&[&"patch", &"apply", &old_img, dir, &out]);
        assert_eq!(md5_of(&out), md5_of(&new_img.join("img.dxf")));
    }
}
