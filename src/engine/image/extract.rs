//! Image → tree of files, directories and links, never writing outside the output directory.

use std::fs::{self, File, Permissions};
use std::os::unix::fs::{FileExt, PermissionsExt, symlink};
use std::path::Path;

use super::index::IndexEntry;
use super::reader::Image;
use crate::engine::error::{EngineError, IoContext, Result};
use crate::engine::progress::{Progress, step};
use crate::engine::tar::EntryKind;

/// Permission bits applied on extraction: no set-id or sticky bits from an uploaded build.
pub const MODE_MASK: u32 = 0o777;

/// What an extraction wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractReport {
    /// Regular files written.
    pub files: u64,
    /// Bytes of regular files.
    pub bytes: u64,
    /// Directories, symlinks and hard links created.
    pub others: u64,
}

/// Extracts the image in `dir` into `out_dir`, which must be missing or empty. Files are written
/// with holes where the image has no blocks, and checked against their MD5 as they are
/// written. Links are created last and directory modes applied last, so nothing is ever written
/// through a link or into a read-only directory.
pub fn extract_image(dir: &Path, out_dir: &Path, progress: &dyn Progress) -> Result<ExtractReport> {
    let image = Image::open(dir)?;
    prepare_output(out_dir)?;
    progress.begin(image.meta.total_file_bytes);
    let mut report = ExtractReport::default();
    let mut deferred = Vec::new();
    image.for_each_entry(|entry| {
        let target = out_dir.join(&entry.path);
        match entry.kind {
            EntryKind::Regular => {
                write_file(&image, &entry, &target)?;
                report.files += 1;
                report.bytes += entry.size;
                step(progress, entry.size)?;
            }
            EntryKind::Directory => fs::create_dir_all(&target).at(&target)?,
            EntryKind::Symlink | EntryKind::HardLink => {}
        }
        if entry.kind != EntryKind::Regular {
            report.others += 1;
            deferred.push(entry);
        }
        Ok(())
    })?;
    finish_tree(out_dir, &deferred, false)?;
    Ok(report)
}

/// The steps that follow a tree's files: creates the links among `entries` (hard links
/// first, their targets being files, then symlinks, so nothing is written through a link)
/// and applies directory modes deepest first (so no directory is read-only while its
/// contents are made). With `replace`, whatever is already at a link's path is replaced (a
/// launcher finishing a tree it wrote before).
pub fn finish_tree(out_dir: &Path, entries: &[IndexEntry], replace: bool) -> Result<()> {
    for kind in [EntryKind::HardLink, EntryKind::Symlink] {
        for link in entries.iter().filter(|e| e.kind == kind) {
            let path = out_dir.join(&link.path);
            if replace && fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) {
                fs::remove_file(&path).at(&path)?;
            }
            make_link(out_dir, link)?;
        }
    }
    let mut dirs: Vec<&IndexEntry> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Directory)
        .collect();
    dirs.sort_by(|a, b| b.path.cmp(&a.path));
    for dir_entry in dirs {
        let target = out_dir.join(&dir_entry.path);
        fs::set_permissions(&target, Permissions::from_mode(dir_entry.mode & MODE_MASK))
            .at(&target)?;
    }
    Ok(())
}

/// Creates `out_dir` or accepts it when empty.
fn prepare_output(out_dir: &Path) -> Result<()> {
    fs::create_dir_all(out_dir).at(out_dir)?;
    if fs::read_dir(out_dir).at(out_dir)?.next().is_some() {
        return Err(EngineError::BadOutput {
            filename: out_dir.display().to_string(),
            reason: "output directory is not empty".into(),
        });
    }
    Ok(())
}

/// Writes one regular file (a new file: an existing path, even a dangling link, is an error).
fn write_file(image: &Image, entry: &IndexEntry, target: &Path) -> Result<()> {
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).at(parent)?;
    }
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(target)
        .at(target)?;
    image.read_file(entry, |offset, bytes| {
        file.write_all_at(bytes, offset).at(target)
    })?;
    file.set_len(entry.size).at(target)?;
    file.set_permissions(Permissions::from_mode(entry.mode & MODE_MASK))
        .at(target)
}

/// Creates a symlink (target verbatim) or a hard link (target inside `out_dir`).
fn make_link(out_dir: &Path, entry: &IndexEntry) -> Result<()> {
    let path = out_dir.join(&entry.path);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).at(parent)?;
    }
    let target = entry.link_target.as_deref().unwrap_or_default();
    match entry.kind {
        EntryKind::HardLink => fs::hard_link(out_dir.join(target), &path).at(&path),
        _ => symlink(target, &path).at(&path),
    }
}
