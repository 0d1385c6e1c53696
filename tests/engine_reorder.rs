//! `image reorder`: an image rebuilt in a new order from the image itself is byte for byte the
//! image `image build --order` makes from the tar, and holds the build's files.

mod common_engine;

use std::fs;
use std::path::{Path, PathBuf};

use common_engine::*;

const GAME: [&str; 6] = ["--size", "16M", "--files", "60", "--sessions", "1"];

fn build_with(tar: &Path, out: &Path, order: Option<&Path>) -> PathBuf {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &"image",
        &"build",
        &tar,
        &out,
        &"--build-id",
        &"1",
        &"--created",
        &"2026-01-01T00:00:00Z",
    ];
    if let Some(order) = &order {
        args.extend([&"--order" as &dyn AsRef<std::ffi::OsStr>, order]);
    }
    cli_ok(&args);
    out.to_path_buf()
}

fn reorder(img: &Path, out: &Path, order: &Path) -> PathBuf {
    cli_ok(&[&"image", &"reorder", &"--order", &order, &img, &out]);
    out.to_path_buf()
}

#[test]
fn a_reordered_image_is_the_image_built_in_that_order() {
    let work = scratch();
    let game = work.path();
    game_gen(game, &GAME);
    let tar = game.join("game.tar");
    // The boot's runs with a launch line after the first half: a preload and a streamed part.
    let boot = fs::read_to_string(game.join("boot.order")).expect("order");
    let runs: Vec<&str> = boot.lines().filter(|l| !l.starts_with('#')).collect();
    let half = runs.len() / 2;
    let order = game.join("launch.order");
    let text = format!(
        "{}\nlaunch\n{}\n",
        runs[..half].join("\n"),
        runs[half..].join("\n")
    );
    fs::write(&order, text).expect("write order");

    let plain = build_with(&tar, &game.join("plain"), None);
    let built = build_with(&tar, &game.join("built"), Some(&order));
    let reordered = reorder(&plain, &game.join("reordered"), &order);
    assert_eq!(output_md5s(&reordered), output_md5s(&built));
    let meta = read_json(&built.join("img.json"));
    let preload = meta["preloadBytes"].as_u64().expect("preload");
    assert!(
        preload > 0 && preload < meta["dxfSize"].as_u64().expect("size") / 4,
        "{meta}"
    );
    check_image(&tar, &reordered, &game.join("check"));

    // Back to file order from the ordered image: the plain image's blocks, with an empty
    // preload as `build --order` of an empty order gives.
    let none = game.join("none.order");
    fs::write(&none, "# no runs\n").expect("write order");
    let back = reorder(&reordered, &game.join("back"), &none);
    let unordered = build_with(&tar, &game.join("unordered"), Some(&none));
    assert_eq!(output_md5s(&back), output_md5s(&unordered));
    assert_same_file(&back.join("img.dxf"), &plain.join("img.dxf"));
}

#[test]
fn a_bad_order_is_refused_with_its_line() {
    let work = scratch();
    let game = work.path();
    game_gen(game, &GAME);
    let plain = build_with(&game.join("game.tar"), &game.join("plain"), None);
    let order = game.join("bad.order");
    fs::write(&order, "0 1 Game.exe\n0 1 no/such/file\n").expect("write order");
    let out = cli(&[
        &"image",
        &"reorder",
        &"--order",
        &order,
        &plain,
        &game.join("out"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("line 2") && stderr.contains("no/such/file"),
        "{stderr}"
    );
    assert!(!game.join("out/img.dxf").exists());
}
