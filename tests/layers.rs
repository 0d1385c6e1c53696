//! The layers point one way: the engine is pure processing and imports none of the server's
//! modules (no store, no HTTP, no jobs, no rules, no origins).

use std::path::Path;

/// Every `.rs` file below `dir`.
fn sources(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn the_engine_imports_no_server_layer() {
    let engine = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine");
    let mut files = Vec::new();
    sources(&engine, &mut files);
    assert!(files.len() > 20, "the engine's sources were not found");
    let forbidden = [
        "http", "store", "jobs", "domain", "server", "publish", "notify", "auth", "config", "cli",
    ];
    let mut crossings = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for (number, line) in text.lines().enumerate() {
            for layer in forbidden {
                if line.contains(&format!("crate::{layer}")) {
                    crossings.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        crossings.is_empty(),
        "the engine reaches into other layers:\n{}",
        crossings.join("\n")
    );
}
