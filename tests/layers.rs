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

/// True when `line` names `crate::{module}` itself (not a module whose name begins so).
fn names_module(line: &str, module: &str) -> bool {
    let path = format!("crate::{module}");
    line.match_indices(&path).any(|(at, _)| {
        line[at + path.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

/// The lines of the sources below `src/{dir}` that name `crate::{layer}` for a forbidden layer.
fn crossings(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(files.len() > 5, "the sources of {dir} were not found");
    let mut crossings = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for (number, line) in text.lines().enumerate() {
            for layer in forbidden {
                if names_module(line, layer) {
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
    crossings
}

/// The server's layers: what pure processing and the launcher's client never touch.
const SERVER_LAYERS: [&str; 14] = [
    "http", "store", "jobs", "domain", "server", "publish", "notify", "auth", "config", "cli",
    "pipeline", "workers", "datadir", "ops",
];

#[test]
fn the_engine_imports_no_server_layer() {
    let crossings = crossings("engine", &SERVER_LAYERS);
    assert!(
        crossings.is_empty(),
        "the engine reaches into other layers:\n{}",
        crossings.join("\n")
    );
}

#[test]
fn the_launcher_client_uses_only_the_engine() {
    let mut forbidden = SERVER_LAYERS.to_vec();
    forbidden.push("push");
    let crossings = crossings("client", &forbidden);
    assert!(
        crossings.is_empty(),
        "the launcher client reaches into the server:\n{}",
        crossings.join("\n")
    );
}

/// A module path (`["domain", "apps"]`) from a source file's path under `src/`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The module paths a file's source names: `crate::a::b`, `super::x` (from `module`), and the
/// first-level items of `super::{x, y}` and `crate::a::{b, c}` lists.
fn referenced_paths(module: &[String], text: &str) -> Vec<Vec<String>> {
    let ident = |s: &str| -> Vec<String> {
        let mut out = Vec::new();
        for segment in s.split("::") {
            let name: String = segment
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() || name != segment.trim_end() {
                if !name.is_empty() {
                    out.push(name);
                }
                break;
            }
            out.push(name);
        }
        out
    };
    let mut found = Vec::new();
    for (start, _) in text.match_indices("crate::") {
        if text[..start].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &text[start + "crate::".len()..];
        let path = ident(rest);
        found.push(path.clone());
        let after: String = path.join("::");
        if let Some(list) = rest[after.len()..].strip_prefix("::{") {
            for item in list.split('}').next().unwrap_or("").split(',') {
                let mut with = path.clone();
                with.extend(ident(item.trim()));
                found.push(with);
            }
        }
    }
    // `super` in `a/b.rs` and in `a/b/mod.rs` (both the module `a::b`) is `a`.
    let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
    for (start, _) in text.match_indices("super::") {
        if text[..start].ends_with("super::")
            || text[..start].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        {
            continue;
        }
        let mut base = parent.clone();
        let mut rest = &text[start + "super::".len()..];
        while let Some(more) = rest.strip_prefix("super::") {
            base.pop();
            rest = more;
        }
        if let Some(list) = rest.strip_prefix('{') {
            for item in list.split('}').next().unwrap_or("").split(',') {
                let mut with = base.clone();
                with.extend(ident(item.trim()));
                found.push(with);
            }
        } else {
            let mut with = base.clone();
            with.extend(ident(rest));
            found.push(with);
        }
    }
    found
}

#[test]
fn the_import_graph_of_src_has_no_cycle() {
    use std::collections::{BTreeMap, BTreeSet};

    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    // The longest known module a path names.
    let resolve = |path: &[String]| -> Option<Vec<String>> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|prefix| modules.contains(prefix))
    };
    // Edges between sibling modules, grouped by their parent: a child using its parent's
    // items (or a parent re-exporting a child's) is the module tree, not an import edge.
    let mut edges: BTreeMap<Vec<String>, BTreeSet<(String, String)>> = BTreeMap::new();
    for file in &files {
        let from = module_of(&src, file);
        let text = std::fs::read_to_string(file).expect("read");
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for path in referenced_paths(&from, &code) {
            let Some(to) = resolve(&path) else { continue };
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == from.len() || common == to.len() {
                continue;
            }
            edges
                .entry(from[..common].to_vec())
                .or_default()
                .insert((from[common].clone(), to[common].clone()));
        }
    }
    let top = edges.get(&Vec::new()).cloned().unwrap_or_default();
    assert!(
        top.iter().any(|(a, b)| a == "http" && b == "domain"),
        "the graph misses http → domain: the scan is broken ({top:?})"
    );
    for (parent, siblings) in &edges {
        // Depth-first search for a cycle among the parent's children.
        let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (a, b) in siblings {
            graph.entry(a).or_default().push(b);
        }
        fn visit<'a>(
            node: &'a str,
            graph: &BTreeMap<&'a str, Vec<&'a str>>,
            path: &mut Vec<&'a str>,
            done: &mut BTreeSet<&'a str>,
        ) -> Option<Vec<String>> {
            if let Some(at) = path.iter().position(|n| *n == node) {
                let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            if !done.insert(node) {
                return None;
            }
            path.push(node);
            for next in graph.get(node).into_iter().flatten() {
                if let Some(cycle) = visit(next, graph, path, done) {
                    return Some(cycle);
                }
            }
            path.pop();
            None
        }
        let mut done = BTreeSet::new();
        for node in graph.keys() {
            if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
                panic!(
                    "import cycle in crate::{}: {}",
                    parent.join("::"),
                    cycle.join(" → ")
                );
            }
        }
    }
}
