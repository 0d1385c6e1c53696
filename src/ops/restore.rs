//! Unpacking a backup into a landing directory, checking every byte against its manifest.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use md5::{Digest, Md5};

use super::backup::{BackupError, MANIFEST, Manifest, STORE_FILE, by_path, io_at, safe_relative};
use crate::engine::tar::{EntryKind, TarReader};
use crate::store::SCHEMA_VERSION;
use crate::store::snapshot::schema_of;

/// The largest manifest read (a depot of a million files stays far below).
const MAX_MANIFEST: u64 = 256 << 20;
/// Bytes copied at a time.
const CHUNK: usize = 1 << 20;

/// Restores `archive` into `target` (new, or an empty directory). Every file is checked
/// against the manifest (size and MD5, nothing missing, nothing extra) and the store's schema
/// against this binary while they land in a hidden directory inside `target`; only then are
/// they moved into place. A failed restore leaves `target` as it was.
pub fn restore(archive: &Path, target: &Path) -> Result<Manifest, BackupError> {
    match fs::read_dir(target).map(|mut entries| entries.next().is_some()) {
        Ok(true) => return Err(BackupError::NotEmpty(target.to_path_buf())),
        Ok(false) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(target).map_err(io_at(target))?;
        }
        Err(e) => return Err(io_at(target)(e)),
    }
    fs::set_permissions(target, fs::Permissions::from_mode(0o700)).map_err(io_at(target))?;
    let landing = target.join(".restoring");
    let restored = unpack(archive, &landing).and_then(|manifest| {
        for entry in fs::read_dir(&landing).map_err(io_at(&landing))? {
            let entry = entry.map_err(io_at(&landing))?;
            let to = target.join(entry.file_name());
            fs::rename(entry.path(), &to).map_err(io_at(&to))?;
        }
        fs::remove_dir(&landing).map_err(io_at(&landing))?;
        Ok(manifest)
    });
    if restored.is_err() {
        let _ = fs::remove_dir_all(&landing);
    }
    restored
}

/// An archive opened at its manifest: the file, the tar reader past the manifest, and the
/// manifest.
type Opened = (File, TarReader<File>, Manifest);

/// The manifest of a backup archive.
pub fn read_manifest(archive: &Path) -> Result<Manifest, BackupError> {
    open(archive).map(|(_, _, manifest)| manifest)
}

fn open(archive: &Path) -> Result<Opened, BackupError> {
    let shown = archive.display().to_string();
    let file = File::open(archive).map_err(io_at(archive))?;
    let not_tar = |e: crate::engine::EngineError| BackupError::NotABackup(e.to_string());
    let mut reader =
        TarReader::new(file.try_clone().map_err(io_at(archive))?, &shown).map_err(not_tar)?;
    let first = reader
        .next_entry()
        .map_err(|e| BackupError::Damaged(e.to_string()))?
        .ok_or_else(|| BackupError::NotABackup("the tar is empty".into()))?;
    if first.path != MANIFEST || first.kind != EntryKind::Regular || first.size > MAX_MANIFEST {
        return Err(BackupError::NotABackup(format!(
            "its first entry is {:?}, not {MANIFEST}",
            first.path
        )));
    }
    let mut bytes = vec![0u8; first.size as usize];
    first
        .read_at(&file, 0, &mut bytes)
        .map_err(io_at(archive))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| BackupError::NotABackup(format!("{MANIFEST} does not parse: {e}")))?;
    if manifest.format != 1 {
        return Err(BackupError::NotABackup(format!(
            "archive format {} is not one this rockit-edge reads (1); use the version that wrote it ({})",
            manifest.format, manifest.version
        )));
    }
    Ok((file, reader, manifest))
}

/// Unpacks `archive` into `landing` (created), refusing anything the manifest does not say.
pub(super) fn unpack(archive: &Path, landing: &Path) -> Result<Manifest, BackupError> {
    let (file, mut reader, manifest) = open(archive)?;
    if let Some(bad) = manifest.files.iter().find(|f| !safe_relative(&f.path)) {
        return Err(BackupError::Damaged(format!(
            "the manifest names an unsafe path {:?}",
            bad.path
        )));
    }
    let expected = by_path(&manifest);
    fs::create_dir_all(landing).map_err(io_at(landing))?;
    let mut seen = std::collections::BTreeSet::new();
    while let Some(entry) = reader
        .next_entry()
        .map_err(|e| BackupError::Damaged(e.to_string()))?
    {
        let target = landing.join(&entry.path);
        match entry.kind {
            EntryKind::Directory => {
                fs::create_dir_all(&target).map_err(io_at(&target))?;
                fs::set_permissions(&target, fs::Permissions::from_mode(0o700))
                    .map_err(io_at(&target))?;
                continue;
            }
            EntryKind::Regular => {}
            _ => {
                return Err(BackupError::Damaged(format!(
                    "{} is a link; backups hold files only",
                    entry.path
                )));
            }
        }
        let Some(want) = expected.get(entry.path.as_str()) else {
            return Err(BackupError::Damaged(format!(
                "{} is in the archive but not in its manifest",
                entry.path
            )));
        };
        if !seen.insert(entry.path.clone()) {
            return Err(BackupError::Damaged(format!(
                "{} appears twice",
                entry.path
            )));
        }
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io_at(parent))?;
        }
        let mut out = File::create(&target).map_err(io_at(&target))?;
        let mut hasher = Md5::new();
        let mut buf = vec![0u8; CHUNK];
        let mut offset = 0;
        while offset < entry.size {
            let n = (entry.size - offset).min(CHUNK as u64) as usize;
            entry
                .read_at(&file, offset, &mut buf[..n])
                .map_err(io_at(archive))?;
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io_at(&target))?;
            offset += n as u64;
        }
        out.sync_all().map_err(io_at(&target))?;
        fs::set_permissions(&target, fs::Permissions::from_mode(entry.mode & 0o700))
            .map_err(io_at(&target))?;
        let md5 = hex::encode(hasher.finalize());
        if entry.size != want.size || md5 != want.md5 {
            return Err(BackupError::Damaged(format!(
                "{}: {} bytes with MD5 {md5}, the manifest says {} bytes with MD5 {}",
                entry.path, entry.size, want.size, want.md5
            )));
        }
    }
    if let Some(missing) = expected.keys().find(|path| !seen.contains(**path)) {
        return Err(BackupError::Damaged(format!(
            "{missing} is in the manifest but not in the archive (truncated?)"
        )));
    }
    let schema = schema_of(&landing.join(STORE_FILE))?;
    if schema > SCHEMA_VERSION {
        return Err(BackupError::NotABackup(format!(
            "its store has schema {schema}, this rockit-edge knows up to {SCHEMA_VERSION}; restore with a newer binary"
        )));
    }
    Ok(manifest)
}
