//! The depot: the appliance's own origin, a directory with the layout of API.md §5.

use std::io;
use std::path::{Component, Path, PathBuf};

/// The layout roots an org owns on every origin.
pub const LAYOUT_ROOTS: [&str; 2] = ["dxf", "pat"];

/// The depot directory.
#[derive(Debug, Clone)]
pub struct Depot {
    root: PathBuf,
}

impl Depot {
    /// Wraps the depot directory.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The local path of an object key; `None` for keys that could leave the depot.
    fn path_of(&self, key: &str) -> Option<PathBuf> {
        let relative = Path::new(key);
        let safe = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        (safe && !key.is_empty()).then(|| self.root.join(relative))
    }

    /// Every object key prefix an org's files live under.
    pub fn org_prefixes(org: &str) -> Vec<String> {
        LAYOUT_ROOTS
            .iter()
            .map(|root| format!("{root}/{org}"))
            .collect()
    }

    /// Removes everything under a key prefix; absent prefixes are fine.
    pub fn remove_prefix(&self, prefix: &str) -> io::Result<()> {
        let Some(path) = self.path_of(prefix) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unsafe depot key {prefix}"),
            ));
        };
        match std::fs::remove_dir_all(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Bytes stored under a key prefix.
    pub fn size_of_prefix(&self, prefix: &str) -> io::Result<u64> {
        match self.path_of(prefix) {
            Some(path) => tree_size(&path),
            None => Ok(0),
        }
    }
}

fn tree_size(path: &Path) -> io::Result<u64> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return Ok(meta.len());
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        total += tree_size(&entry?.path())?;
    }
    Ok(total)
}
