//! Single-member 7z archives with fixed metadata, so equal contents give equal bytes.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sevenz_rust2::{ArchiveReader, Password};

use crate::engine::error::{EngineError, IoContext, Result};
use crate::engine::fsio::AtomicFile;

mod writer;

pub use writer::{Level, write_archive};

/// Largest LZMA2 dictionary of metadata members (maps, indexes): LZMA's preset-6 size.
pub const METADATA_DICT: u32 = 8 << 20;

/// Writes `target` as a 7z (LZMA2) archive holding one member with the bytes of `data`, about
/// `size` bytes (the dictionary is sized for it; a wrong estimate only costs compression or
/// memory). The member carries no name, timestamps or attributes, so output depends on
/// content only; 7-Zip names it after the archive (`map.7z` extracts to `map`). `level` says
/// how hard LZMA works.
pub fn write_single(target: &Path, data: impl Read, size: u64, level: Level) -> Result<()> {
    encode_single(target, data, size, level)?.commit()
}

/// Like [`write_single`], but leaves the archive under its temporary name: the caller commits
/// it once the rest of its output is known good.
pub fn encode_single(
    target: &Path,
    data: impl Read,
    size: u64,
    level: Level,
) -> Result<AtomicFile> {
    let mut out = AtomicFile::create(target)?;
    let file = out.file().try_clone().at(target)?;
    write_archive(file, data, size, METADATA_DICT, &[], level).at(target)?;
    Ok(out)
}

/// Opens the archive `name` in `dir`, checks it holds exactly one member, unnamed or named
/// after the archive (as 7-Zip names the member when it repacks one), and passes the
/// member's decompressed bytes to `read`. Defects of the archive become `corrupt(reason)`.
pub fn read_single<T>(
    dir: &Path,
    name: &str,
    corrupt: impl Fn(String) -> EngineError,
    read: impl FnOnce(&mut dyn Read) -> Result<T>,
) -> Result<T> {
    let file = File::open(dir.join(name)).map_err(|e| corrupt(format!("cannot open: {e}")))?;
    let mut reader =
        ArchiveReader::new(file, Password::empty()).map_err(|e| corrupt(e.to_string()))?;
    let member = name.strip_suffix(".7z").unwrap_or(name);
    let names: Vec<&str> = reader.archive().files.iter().map(|f| f.name()).collect();
    if !matches!(names[..], [only] if only.is_empty() || only == member) {
        return Err(corrupt(format!(
            "expected one member, unnamed or '{member}', found {names:?}"
        )));
    }
    let mut read = Some(read);
    let mut result = None;
    reader
        .for_each_entries(|_, data| {
            if let Some(read) = read.take() {
                result = Some(read(data));
            }
            Ok(true)
        })
        .map_err(|e| corrupt(e.to_string()))?;
    result.unwrap_or_else(|| Err(corrupt(format!("member '{member}' has no data"))))
}
