//! Backups: one tar holding a consistent snapshot of the store, the secrets, the TLS files and
//! a manifest of the depot (every file with its size and MD5), and with `--with-depot` the
//! depot's files themselves. The manifest comes first in the tar, so a restore knows what to
//! expect before the first byte of data.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use crate::datadir::DataDir;
use crate::engine::tar::{TarPlan, TarStream};
use crate::store::StoreError;

/// The first entry of every backup.
pub const MANIFEST: &str = "MANIFEST.json";
/// The store snapshot's name in the archive (and in a data dir).
pub const STORE_FILE: &str = "edge.redb";
/// The archive layout this binary writes and reads.
const FORMAT: u32 = 1;
/// Files kept with the store: without them its sealed credentials and tokens are useless.
const KEPT_DIRS: [&str; 2] = ["secrets", "tls"];
/// The depot's directory in a data dir and in the archive.
const DEPOT: &str = "depot";

/// Why a backup or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the archive is not a rockit-edge backup: {0}")]
    NotABackup(String),
    #[error("the archive is damaged: {0}")]
    Damaged(String),
    #[error("{0} is not empty: restore only into a new or empty directory")]
    NotEmpty(PathBuf),
}

/// An I/O error at `path`.
pub(super) fn io_at(path: &Path) -> impl FnOnce(io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: u32,
    pub created: DateTime<Utc>,
    /// The rockit-edge version that wrote it.
    pub version: String,
    pub schema_version: u64,
    pub with_depot: bool,
    /// Every file of the archive but this manifest.
    pub files: Vec<FileEntry>,
    /// Every depot file when the backup began (in the archive under `depot/` when
    /// `with_depot`): what a depot restored by other means must match.
    pub depot: Vec<FileEntry>,
}

/// One file: its path relative to the data dir (the depot's, for `depot`), size and MD5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub md5: String,
}

/// A backup being laid out under the data dir's `work/` (emptied at every start, so an
/// interrupted one leaves nothing behind for long); removed when dropped.
pub struct Staging {
    dir: PathBuf,
}

impl Staging {
    /// A new staging directory of `data_dir`.
    pub fn new(data_dir: &DataDir) -> Result<Self, BackupError> {
        let dir = data_dir
            .work()
            .join(format!("backup-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        Ok(Self { dir })
    }

    /// Where the store snapshot goes.
    pub fn store_file(&self) -> PathBuf {
        self.dir.join(STORE_FILE)
    }

    /// Adds the secrets, the TLS files and the depot (its manifest; its files too with
    /// `with_depot`, as hard links: depot files never change once written) and writes the
    /// manifest; the store snapshot must be in [`Staging::store_file`] already.
    pub fn complete(
        self,
        data_dir: &DataDir,
        schema_version: u64,
        with_depot: bool,
    ) -> Result<Staged, BackupError> {
        for name in KEPT_DIRS {
            copy_flat(&data_dir.root().join(name), &self.dir.join(name))?;
        }
        let mut files = vec![entry_of(&self.store_file(), STORE_FILE)?];
        for name in KEPT_DIRS {
            files.extend(entries_under(&self.dir.join(name), name)?);
        }
        let depot = entries_under(&data_dir.depot(), "")?;
        if with_depot {
            for file in &depot {
                let from = data_dir.depot().join(&file.path);
                let to = self.dir.join(DEPOT).join(&file.path);
                link_or_copy(&from, &to)?;
                files.push(FileEntry {
                    path: format!("{DEPOT}/{}", file.path),
                    ..file.clone()
                });
            }
        }
        let manifest = Manifest {
            format: FORMAT,
            created: Utc::now(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            schema_version,
            with_depot,
            files,
            depot,
        };
        let path = self.dir.join(MANIFEST);
        let bytes = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| BackupError::Damaged(e.to_string()))?;
        fs::write(&path, bytes).map_err(io_at(&path))?;
        let plan = TarPlan::of_dir(&self.dir).map_err(io_at(&self.dir))?;
        Ok(Staged {
            _staging: self,
            plan,
            manifest,
        })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot remove a backup's staging directory");
        }
    }
}

/// A laid-out backup, ready to be read as a tar.
pub struct Staged {
    /// Held so the staged files outlive every read of the tar, and go with it.
    _staging: Staging,
    plan: TarPlan,
    manifest: Manifest,
}

impl Staged {
    /// The tar's size in bytes.
    pub fn len(&self) -> u64 {
        self.plan.len()
    }

    /// Whether the tar is empty (never: it holds at least the manifest).
    pub fn is_empty(&self) -> bool {
        self.plan.is_empty()
    }

    /// What the backup holds.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The tar, manifest first.
    pub fn reader(&self) -> TarStream<'_> {
        self.plan.reader_from(0)
    }
}

/// Copies the regular files of `from` (not recursive) into `to`, keeping their modes.
fn copy_flat(from: &Path, to: &Path) -> Result<(), BackupError> {
    fs::create_dir_all(to).map_err(io_at(to))?;
    let Ok(entries) = fs::read_dir(from) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.map_err(io_at(from))?;
        if entry.file_type().map_err(io_at(from))?.is_file() {
            let target = to.join(entry.file_name());
            fs::copy(entry.path(), &target).map_err(io_at(&target))?;
        }
    }
    Ok(())
}

fn link_or_copy(from: &Path, to: &Path) -> Result<(), BackupError> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(io_at(parent))?;
    }
    if fs::hard_link(from, to).is_err() {
        fs::copy(from, to).map_err(io_at(to))?;
    }
    Ok(())
}

/// Every regular file under `dir` (recursively, in path order, leaving out the `.`-names of
/// files being written), named `prefix/relative path`.
fn entries_under(dir: &Path, prefix: &str) -> Result<Vec<FileEntry>, BackupError> {
    let mut found = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), prefix.to_string())];
    while let Some((dir, prefix)) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.map_err(io_at(&dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let relative = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let kind = entry.file_type().map_err(io_at(&dir))?;
            if kind.is_dir() {
                pending.push((entry.path(), relative));
            } else if kind.is_file() {
                found.push(entry_of(&entry.path(), &relative)?);
            }
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

fn entry_of(path: &Path, relative: &str) -> Result<FileEntry, BackupError> {
    let mut file = fs::File::open(path).map_err(io_at(path))?;
    let mut hasher = Md5::new();
    let size = io::copy(&mut file, &mut hasher).map_err(io_at(path))?;
    Ok(FileEntry {
        path: relative.to_string(),
        size,
        md5: hex::encode(hasher.finalize()),
    })
}

/// A manifest path usable under a directory: relative, plain names only.
pub(super) fn safe_relative(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// The manifest's files by path.
pub(super) fn by_path(manifest: &Manifest) -> BTreeMap<&str, &FileEntry> {
    manifest
        .files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect()
}
