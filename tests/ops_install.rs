//! packaging/install.sh in a throw-away root: it lays out exactly the files docs/OPERATIONS.md
//! lists, with the owners and modes listed there; a second run changes nothing an operator
//! made; `--uninstall` keeps the data and the config, `--purge` removes them and the user.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const INSTALL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/install.sh");
const OPERATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/OPERATIONS.md");

/// One row of the layout table: path (directories end with `/`), owner, group, mode.
struct Row {
    path: String,
    owner: String,
    group: String,
    mode: u32,
}

/// The rows of the table under "### What install.sh lays out".
fn documented_layout() -> Vec<Row> {
    let doc = std::fs::read_to_string(OPERATIONS).expect("OPERATIONS.md");
    let section = doc
        .split("### What install.sh lays out")
        .nth(1)
        .expect("the layout section");
    section
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let (owner, group) = cells[2].split_once(':').expect("owner:group");
            Row {
                path: cells[1].trim_matches('`').to_string(),
                owner: owner.to_string(),
                group: group.to_string(),
                mode: u32::from_str_radix(cells[3], 8).expect("octal mode"),
            }
        })
        .collect()
}

/// The id of `name` in the root's `etc/passwd` or `etc/group`.
fn id_of(root: &Path, database: &str, name: &str) -> Option<u32> {
    std::fs::read_to_string(root.join("etc").join(database))
        .expect("account database")
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields[0] == name)
        .map(|fields| fields[2].parse().expect("numeric id"))
}

/// Every file under `root` but the account databases, as absolute paths inside it.
fn files_under(root: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                let inside = format!("/{}", path.strip_prefix(root).expect("inside").display());
                let accounts = ["passwd", "group", "shadow", "gshadow"]
                    .iter()
                    .any(|db| inside.starts_with(&format!("/etc/{db}")));
                if !accounts {
                    found.insert(inside);
                }
            }
        }
    }
    let mut found = BTreeSet::new();
    walk(root, root, &mut found);
    found
}

fn install(root: &Path, args: &[&str]) -> Output {
    Command::new("bash")
        .arg(INSTALL)
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("run install.sh")
}

fn assert_ok(out: &Output) -> String {
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "install.sh failed:\n{said}");
    said
}

fn assert_layout(root: &Path, layout: &[Row]) {
    for row in layout {
        let path: PathBuf = root.join(row.path.trim_start_matches('/'));
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", row.path));
        assert_eq!(meta.is_dir(), row.path.ends_with('/'), "{}", row.path);
        let uid = id_of(root, "passwd", &row.owner).expect("documented owner exists");
        let gid = id_of(root, "group", &row.group).expect("documented group exists");
        assert_eq!(
            (meta.uid(), meta.gid()),
            (uid, gid),
            "owner of {}",
            row.path
        );
        assert_eq!(meta.mode() & 0o7777, row.mode, "mode of {}", row.path);
    }
    let documented: BTreeSet<String> = layout
        .iter()
        .filter(|row| !row.path.ends_with('/'))
        .map(|row| row.path.clone())
        .collect();
    assert_eq!(
        files_under(root),
        documented,
        "files beyond the documented ones"
    );
}

/// A root with an account database holding only root, as a fresh host has.
fn fresh_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(root.path().join("etc")).expect("etc");
    std::fs::write(
        root.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\n",
    )
    .expect("passwd");
    std::fs::write(root.path().join("etc/group"), "root:x:0:\n").expect("group");
    root
}

fn running_as_root() -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        assert!(!common::in_ci(), "install.sh needs root (CI runs as root)");
        eprintln!("SKIPPED: install.sh needs root");
    }
    root
}

#[test]
fn lays_out_the_documented_files_and_upgrades_and_uninstalls_in_place() {
    if !running_as_root() {
        return;
    }
    let layout = documented_layout();
    assert!(layout.len() >= 6, "the layout table is too short");
    let root = fresh_root();
    let root = root.path();

    let said = assert_ok(&install(root, &["--binary", common::binary()]));
    assert!(said.contains("systemd not touched"), "{said}");
    assert_layout(root, &layout);
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).expect("passwd");
    let account = passwd
        .lines()
        .find(|line| line.starts_with("rockit-edge:"))
        .expect("the service user");
    assert!(
        account.ends_with(":/var/lib/rockit-edge:/usr/sbin/nologin"),
        "{account}"
    );
    let config = root.join("etc/rockit-edge/config.toml");
    let shipped = std::fs::read_to_string(&config).expect("config");
    assert!(
        shipped.contains("\ndata_dir = \"/var/lib/rockit-edge\"\n"),
        "the installed config names the data dir"
    );

    // An operator's edit and a store survive a second run (the upgrade).
    std::fs::write(&config, format!("{shipped}# edited by the operator\n")).expect("edit");
    let store = root.join("var/lib/rockit-edge/edge.redb");
    std::fs::write(&store, b"records").expect("store");
    let said = assert_ok(&install(root, &["--binary", common::binary()]));
    assert!(said.contains("kept /etc/rockit-edge/config.toml"), "{said}");
    assert!(
        std::fs::read_to_string(&config)
            .expect("config")
            .ends_with("# edited by the operator\n")
    );
    std::fs::remove_file(&store).expect("store");
    assert_layout(root, &layout);
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).expect("passwd");
    let accounts = passwd.lines().filter(|l| l.starts_with("rockit-edge:"));
    assert_eq!(accounts.count(), 1, "{passwd}");

    // --uninstall keeps the data and the config.
    std::fs::write(&store, b"records").expect("store");
    assert_ok(&install(root, &["--uninstall"]));
    assert!(!root.join("usr/local/bin/rockit-edge").exists());
    assert!(!root.join("etc/systemd/system/rockit-edge.service").exists());
    assert!(!root.join("usr/local/share/doc/rockit-edge").exists());
    assert!(store.exists() && config.exists());

    // --purge takes the rest, the user included.
    assert_ok(&install(root, &["--uninstall", "--purge"]));
    assert!(!root.join("var/lib/rockit-edge").exists());
    assert!(!root.join("etc/rockit-edge").exists());
    assert_eq!(id_of(root, "passwd", "rockit-edge"), None);
    assert_eq!(id_of(root, "group", "rockit-edge"), None);
}

#[test]
fn refuses_what_it_cannot_do() {
    if !running_as_root() {
        return;
    }
    let root = fresh_root();
    let purge_alone = install(root.path(), &["--purge"]);
    assert!(!purge_alone.status.success());
    assert!(String::from_utf8_lossy(&purge_alone.stderr).contains("--purge goes with --uninstall"));
    let missing = install(root.path(), &["--binary", "/nonexistent/rockit-edge"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("is not a file"));
    let bare = tempfile::tempdir().expect("tempdir");
    let no_accounts = install(bare.path(), &["--binary", common::binary()]);
    assert!(!no_accounts.status.success());
    assert!(String::from_utf8_lossy(&no_accounts.stderr).contains("no etc/passwd"));
    assert_eq!(files_under(root.path()), BTreeSet::new(), "nothing written");
}
