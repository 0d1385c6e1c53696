//! The installed tree: made ready for chunks (directories, files at their sizes, holes reading
//! as zeros), written chunk by chunk wherever the index places the blocks, checked against the
//! index's MD5s, and finished with links and modes as `image extract` does.

use std::fs::{self, File, OpenOptions, Permissions};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::download::ChunkSink;
use super::error::{AtPath, ClientError};
use super::layout::Layout;
use super::state::StateDir;
use crate::engine::image::{BLOCK_SIZE, MODE_MASK, finish_tree};
use crate::engine::md5_stream;
use crate::engine::tar::EntryKind;

/// Owner write (and, on directories, search) bits kept while the tree is being written, so a
/// read-only file or directory of the build does not stop a resumed or repairing install.
const WRITABLE_FILE: u32 = 0o600;
const WRITABLE_DIR: u32 = 0o700;

/// Opens an installed file for writing without following a link at its path.
fn open_for_write(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

/// Where each entry's bytes are written, by index into [`Layout::entries`]: a regular file's
/// place in the tree, a staging file, or nowhere (not a regular file, or not to be written).
pub type Targets = Vec<Option<PathBuf>>;

/// Every regular file at its place in the tree in `dir`.
pub fn in_tree(dir: &Path, layout: &Layout) -> Targets {
    layout
        .entries
        .iter()
        .map(|e| (e.kind == EntryKind::Regular).then(|| dir.join(&e.path)))
        .collect()
}

/// Creates the directories of `layout` in `dir`, writable by the owner until [`finish`].
pub fn prepare_dirs(dir: &Path, layout: &Layout) -> Result<(), ClientError> {
    fs::create_dir_all(dir).at(dir)?;
    for e in layout
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Directory)
    {
        let path = dir.join(&e.path);
        if fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) {
            fs::remove_file(&path).at(&path)?;
        }
        fs::create_dir_all(&path).at(&path)?;
        let mode = fs::metadata(&path).at(&path)?.mode();
        if mode & WRITABLE_DIR != WRITABLE_DIR {
            let writable = Permissions::from_mode((mode | WRITABLE_DIR) & MODE_MASK);
            fs::set_permissions(&path, writable).at(&path)?;
        }
    }
    Ok(())
}

/// Creates the files of `targets` at their sizes (existing files keep their bytes), writable
/// by the owner until [`finish`].
pub fn prepare_files(layout: &Layout, targets: &Targets) -> Result<(), ClientError> {
    for (e, path) in layout.entries.iter().zip(targets) {
        let Some(path) = path else { continue };
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).at(parent)?;
        }
        if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            fs::remove_file(path).at(path)?;
        }
        if let Ok(m) = fs::metadata(path)
            && m.mode() & WRITABLE_FILE != WRITABLE_FILE
        {
            let writable = Permissions::from_mode((m.mode() | WRITABLE_FILE) & MODE_MASK);
            fs::set_permissions(path, writable).at(path)?;
        }
        let file = open_for_write(path).at(path)?;
        if file.metadata().at(path)?.len() != e.size {
            file.set_len(e.size).at(path)?;
        }
    }
    Ok(())
}

/// Writes checked chunks of an image into the files of `targets`.
pub struct TreeSink {
    pub layout: Arc<Layout>,
    pub targets: Arc<Targets>,
}

impl ChunkSink for TreeSink {
    fn put(&self, c: u64, bytes: &[u8]) -> Result<(), ClientError> {
        let chunk_start = self.layout.chunks.range(c).start;
        for p in self.layout.placements(c) {
            let Some(Some(path)) = self.targets.get(p.entry as usize) else {
                continue;
            };
            let entry = &self.layout.entries[p.entry as usize];
            let file = open_for_write(path).at(path)?;
            for k in 0..u64::from(p.count) {
                let image_block = if p.repeat {
                    p.image_block
                } else {
                    p.image_block + k
                };
                let file_offset = (p.file_block + k) * BLOCK_SIZE;
                let len = BLOCK_SIZE.min(entry.size.saturating_sub(file_offset)) as usize;
                let at = (image_block * BLOCK_SIZE - chunk_start) as usize;
                let block = bytes.get(at..at + len).ok_or_else(|| {
                    ClientError::Input(format!("chunk {c} is shorter than its index says"))
                })?;
                file.write_all_at(block, file_offset).at(path)?;
            }
        }
        Ok(())
    }
}

/// The entries (indices into [`Layout::entries`]) that `dir` does not hold as the index
/// says: [`check_files`] and [`check_others`].
pub fn check(dir: &Path, layout: &Layout) -> Vec<usize> {
    let mut bad = check_files(layout, &in_tree(dir, layout));
    bad.extend(check_others(dir, layout));
    bad.sort_unstable();
    bad
}

/// The files of `targets` whose size or MD5 differs from the index, or that are missing;
/// hashed on several threads.
pub fn check_files(layout: &Layout, targets: &Targets) -> Vec<usize> {
    let files: Vec<(usize, &PathBuf)> = targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((i, t.as_ref()?)))
        .collect();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let next = AtomicUsize::new(0);
    let mut bad: Vec<usize> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut bad = Vec::new();
                    loop {
                        let Some(&(i, path)) = files.get(next.fetch_add(1, Ordering::Relaxed))
                        else {
                            return bad;
                        };
                        let e = &layout.entries[i];
                        if file_md5(path, e.size) != Some(e.md5) {
                            bad.push(i);
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            // A hashing thread that panicked vouches for nothing: count every file as bad.
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|_| files.iter().map(|&(i, _)| i).collect())
            })
            .collect()
    });
    bad.sort_unstable();
    bad.dedup();
    bad
}

/// The directories that are missing and the links whose target differs.
pub fn check_others(dir: &Path, layout: &Layout) -> Vec<usize> {
    let mut bad = Vec::new();
    for (i, e) in layout.entries.iter().enumerate() {
        let path = dir.join(&e.path);
        let ok = match e.kind {
            EntryKind::Regular => continue,
            EntryKind::Directory => path.is_dir(),
            EntryKind::Symlink => {
                fs::read_link(&path).ok().as_deref() == e.link_target.as_deref().map(Path::new)
            }
            EntryKind::HardLink => {
                let target = dir.join(e.link_target.as_deref().unwrap_or_default());
                match (fs::symlink_metadata(&path), fs::metadata(&target)) {
                    (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                    _ => false,
                }
            }
        };
        if !ok {
            bad.push(i);
        }
    }
    bad
}

/// Empties the file at `path` back to holes of `size` bytes, so that fetching its chunks
/// again rebuilds it whole (a damaged byte may lie in a hole no chunk covers).
pub fn reset_file(path: &Path, size: u64) -> Result<(), ClientError> {
    if fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
        let removed = if path.is_dir() {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        removed.at(path)?;
    }
    let file = open_for_write(path).at(path)?;
    file.set_len(0).at(path)?;
    file.set_len(size).at(path)
}

/// The MD5 of a regular file of `size` bytes; `None` when it is missing, not a regular file
/// or of another size.
fn file_md5(path: &Path, size: u64) -> Option<[u8; 16]> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() != size {
        return None;
    }
    md5_stream(File::open(path).ok()?, |_| {})
        .ok()
        .map(|(md5, _)| md5)
}

/// Applies the files' modes, then makes the links and applies the directories' modes.
pub fn finish(dir: &Path, layout: &Layout) -> Result<(), ClientError> {
    for e in layout
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Regular)
    {
        let path = dir.join(&e.path);
        fs::set_permissions(&path, Permissions::from_mode(e.mode & MODE_MASK)).at(&path)?;
    }
    let others: Vec<_> = layout
        .entries
        .iter()
        .filter(|e| e.kind != EntryKind::Regular)
        .cloned()
        .collect();
    Ok(finish_tree(dir, &others, true)?)
}

/// Re-hashes the tree installed in `dir` against the index in its state dir; the paths that
/// differ or are missing (empty when the tree is the build). An install that never completed
/// is an error: its tree claims to be no build.
pub fn verify(dir: &Path) -> Result<Vec<String>, ClientError> {
    let state = StateDir::of(dir);
    let installed = state.load()?.ok_or_else(|| {
        ClientError::Input(format!(
            "{} holds no install (no {})",
            dir.display(),
            state.dir().display()
        ))
    })?;
    if !installed.complete {
        return Err(ClientError::Input(format!(
            "the install of build {} in {} did not complete; run install again",
            installed.build_id,
            dir.display()
        )));
    }
    let layout = Layout::read(state.dir())?;
    Ok(check(dir, &layout)
        .into_iter()
        .map(|i| layout.entries[i].path.clone())
        .collect())
}
