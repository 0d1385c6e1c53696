//! Pass 1 of a build: list the tar's entries, check the tree they form, sort them by path.

use std::fs::File;
use std::path::Path;

use crate::engine::error::{EngineError, IoContext, Result};
use crate::engine::tar::{EntryKind, TarEntry, TarReader, Warning, ancestors};

/// The entries of a tar sorted by path (byte-wise), checked to form a tree that extracts
/// safely, plus the warnings about skipped entries. Memory: one [`TarEntry`] per entry
/// (about 150 bytes plus the path), independent of file sizes.
pub struct Catalog {
    /// Entries sorted by path.
    pub entries: Vec<TarEntry>,
    /// Skipped entries.
    pub warnings: Vec<Warning>,
}

impl Catalog {
    /// Reads the headers of the tar at `path` (its data is skipped) and checks the tree.
    pub fn read(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let file = File::open(path).at(path)?;
        let mut reader = TarReader::new(file, &name)?;
        let mut entries = Vec::new();
        while let Some(entry) = reader.next_entry()? {
            entries.push(entry);
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        check_tree(&entries)?;
        Ok(Self {
            entries,
            warnings: reader.into_warnings(),
        })
    }

    /// The index of the entry at `path`.
    pub fn find(&self, path: &str) -> Option<usize> {
        find(&self.entries, path)
    }
}

fn find(entries: &[TarEntry], path: &str) -> Option<usize> {
    entries.binary_search_by(|e| e.path.as_str().cmp(path)).ok()
}

/// Refuses duplicate paths, paths below a non-directory, and hard links to anything but a
/// regular file of the archive: each would make extraction ambiguous or escape through a link.
fn check_tree(entries: &[TarEntry]) -> Result<()> {
    let unsafe_path = |path: &str, reason: String| EngineError::UnsafePath {
        filename: path.to_string(),
        reason,
    };
    for pair in entries.windows(2) {
        if pair[0].path == pair[1].path {
            return Err(EngineError::DuplicatePath {
                filename: pair[0].path.clone(),
            });
        }
    }
    for entry in entries {
        for parent in ancestors(&entry.path) {
            if let Some(i) = find(entries, parent)
                && entries[i].kind != EntryKind::Directory
            {
                let reason = format!("parent '{parent}' is not a directory");
                return Err(unsafe_path(&entry.path, reason));
            }
        }
        if entry.kind == EntryKind::HardLink {
            let target = entry.link_target.as_deref().unwrap_or_default();
            let is_file =
                find(entries, target).is_some_and(|i| entries[i].kind == EntryKind::Regular);
            if !is_file {
                let reason =
                    format!("hard link target '{target}' is not a regular file of the archive");
                return Err(unsafe_path(&entry.path, reason));
            }
        }
    }
    Ok(())
}
