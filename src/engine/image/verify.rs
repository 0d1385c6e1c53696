//! Checks an image directory against its own JSON, index and checksums.

use std::path::Path;

use super::meta::{APP_JSON, AppMeta, DXF_FILE, INDEX_FILE, ImageMeta, read_json};
use super::reader::Image;
use crate::engine::chunks::{ChunkHasher, ChunkTable, first_difference};
use crate::engine::error::{EngineError, Result};
use crate::engine::hashing::md5_stream;
use crate::engine::progress::{Progress, step};
use crate::engine::tar::EntryKind;

/// Verifies the image in `dir`: `img.json` ↔ `img.dxf` size and MD5, `app.json` ↔ `img.json`,
/// the index's consistency and totals, every file's MD5 and (version 2) every chunk hash of
/// `img.dxf`. The image's hashes are computed on a second thread while the files are
/// checked. Returns the image's `img.json`.
pub fn verify_image(dir: &Path, progress: &dyn Progress) -> Result<ImageMeta> {
    let image = Image::open(dir)?;
    let app: AppMeta = read_json(dir, APP_JSON)?;
    if app.dxf_name != image.meta.dxf_name || app.build_id != image.meta.build_id {
        return Err(EngineError::corrupt(
            APP_JSON,
            "dxfName or buildId differ from img.json",
        ));
    }
    progress.begin(image.meta.total_file_bytes);
    let (dxf_md5, chunks, stated) = std::thread::scope(|scope| {
        let whole = scope.spawn(|| hashes_of(&image));
        let files = check_files(&image, progress);
        let hashes = whole
            .join()
            .map_err(|_| EngineError::corrupt(DXF_FILE, "hashing thread failed"))?;
        let (md5, chunks) = hashes?;
        files.map(|stated| (md5, chunks, stated))
    })?;
    if let Some(i) = stated.and_then(|stated| first_difference(&stated, &chunks)) {
        let reason = format!("chunk {i} differs from its hash in {INDEX_FILE}");
        return Err(EngineError::corrupt(DXF_FILE, reason));
    }
    if hex::encode(dxf_md5) != image.meta.dxf_md5 {
        return Err(EngineError::corrupt(DXF_FILE, "md5 differs from img.json"));
    }
    Ok(image.meta)
}

/// Checks every entry's content and the totals `img.json` states; returns the chunk hashes
/// the index states.
fn check_files(image: &Image, progress: &dyn Progress) -> Result<Option<ChunkTable>> {
    let (mut files, mut bytes) = (0u64, 0u64);
    let (_, chunks) = image.for_each_entry(|entry| {
        if entry.kind == EntryKind::Regular {
            files += 1;
            bytes += entry.size;
            image.read_file(&entry, |_, _| Ok(()))?;
            step(progress, entry.size)?;
        }
        Ok(())
    })?;
    if files != image.meta.file_count || bytes != image.meta.total_file_bytes {
        let reason = format!("index holds {files} files of {bytes} bytes, img.json says otherwise");
        return Err(EngineError::corrupt(INDEX_FILE, reason));
    }
    Ok(chunks)
}

/// MD5 and chunk hashes of the whole `img.dxf`, read once.
fn hashes_of(image: &Image) -> Result<([u8; 16], ChunkTable)> {
    let mut chunks = ChunkHasher::default();
    let read = md5_stream(&image.dxf, |bytes| chunks.update(bytes));
    let (md5, _) = read.map_err(|e| EngineError::corrupt(DXF_FILE, format!("read failed: {e}")))?;
    Ok((md5, chunks.finish()))
}
