//! Checks an image directory against its own JSON, index and checksums.

use std::path::Path;

use super::meta::{APP_JSON, AppMeta, DXF_FILE, INDEX_FILE, ImageMeta, read_json};
use super::reader::Image;
use crate::engine::error::{EngineError, Result};
use crate::engine::hashing::md5_stream;
use crate::engine::progress::{Progress, step};
use crate::engine::tar::EntryKind;

/// Verifies the image in `dir`: `img.json` ↔ `img.dxf` size and MD5, `app.json` ↔ `img.json`,
/// the index's consistency and totals, and every file's MD5. The image's MD5 is computed on a
/// second thread while the files are checked. Returns the image's `img.json`.
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
    let dxf_md5 = std::thread::scope(|scope| {
        let whole = scope.spawn(|| md5_of(&image));
        let files = check_files(&image, progress);
        let dxf_md5 = whole
            .join()
            .map_err(|_| EngineError::corrupt(DXF_FILE, "hashing thread failed"))?;
        files.and(dxf_md5)
    })?;
    if hex::encode(dxf_md5) != image.meta.dxf_md5 {
        return Err(EngineError::corrupt(DXF_FILE, "md5 differs from img.json"));
    }
    Ok(image.meta)
}

/// Checks every entry's content and the totals `img.json` states.
fn check_files(image: &Image, progress: &dyn Progress) -> Result<()> {
    let (mut files, mut bytes) = (0u64, 0u64);
    image.for_each_entry(|entry| {
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
    Ok(())
}

/// MD5 of the whole `img.dxf`.
fn md5_of(image: &Image) -> Result<[u8; 16]> {
    md5_stream(&image.dxf, |_| {})
        .map(|(md5, _)| md5)
        .map_err(|e| EngineError::corrupt(DXF_FILE, format!("read failed: {e}")))
}
