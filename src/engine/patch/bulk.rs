//! The bulk path: `patch.7z` holds `patch.data` delta-coded against the old `img.dxf` (byte
//! level approximate matches, see [`crate::engine::delta`]), LZMA2-compressed in 7z. With
//! `map.7z` it rebuilds the new image on its own: decode `patch.7z` into a temporary
//! `patch.data`, then apply the map as the streaming path does.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::apply::{apply_with_data, read_meta};
use super::{DATA_FILE, PatchMeta};
use crate::engine::delta::{self, FileSource, OldWindow};
use crate::engine::error::{EngineError, IoContext, Result};
use crate::engine::fsio::AtomicFile;
use crate::engine::image::DXF_FILE;
use crate::engine::progress::Progress;
use crate::engine::sevenz;

/// Name of the bulk patch archive.
pub const BULK_FILE: &str = "patch.7z";
/// Name of the delta stream inside [`BULK_FILE`].
pub const BULK_MEMBER: &str = "patch";
/// Default memory budget of `patch make` (old window index + data).
pub const DEFAULT_BUDGET: u64 = 1 << 30;

/// The old-image bytes the differ may index within `budget`: the suffix array and the window
/// take about 5 bytes per old byte, the new data about 2 per byte, plus fixed tables.
pub fn old_window_len(old_len: u64, data_len: u64, budget: u64) -> u64 {
    let fixed = 64u64 << 20;
    let room = budget.saturating_sub(fixed + 2 * data_len) / 5;
    old_len.min(room).min(delta::MAX_WINDOW as u64)
}

/// Writes `patch.7z` for the patch in `patch_dir` (made from `old_dir`) within `budget` bytes
/// of memory; returns its size.
pub fn make_bulk(old_dir: &Path, patch_dir: &Path, budget: u64) -> Result<u64> {
    let data_path = patch_dir.join(DATA_FILE);
    let data = std::fs::read(&data_path).at(&data_path)?;
    if 2 * data.len() as u64 + (64 << 20) > budget {
        return Err(EngineError::BadOutput {
            filename: patch_dir.join(BULK_FILE).display().to_string(),
            reason: format!(
                "{} bytes of patch.data do not fit the memory budget of {budget} bytes; raise it",
                data.len()
            ),
        });
    }
    let old_path = old_dir.join(DXF_FILE);
    let old_file = File::open(&old_path).at(&old_path)?;
    let old_len = old_file.metadata().at(&old_path)?.len();
    let window_len = old_window_len(old_len, data.len() as u64, budget);
    let mut old = vec![0u8; window_len as usize];
    old_file.read_exact_at(&mut old, 0).at(&old_path)?;
    let raw = delta::diff(&OldWindow::contiguous(&old, 0), &data).map_err(|e| {
        EngineError::BadOutput {
            filename: patch_dir.join(BULK_FILE).display().to_string(),
            reason: e.to_string(),
        }
    })?;
    drop(old);
    let target = patch_dir.join(BULK_FILE);
    let mut out = AtomicFile::create(&target)?;
    delta::write_7z(&raw[..], raw.len() as u64, BULK_MEMBER, out.file()).at(&target)?;
    let size = out.file().seek(SeekFrom::End(0)).at(&target)?;
    out.commit()?;
    Ok(size)
}

/// Rebuilds the new `img.dxf` from `old_dir`, `map.7z` and `patch.7z` alone (no `patch.data`
/// needed), checked against `patch.json`.
pub fn apply_patch_bulk(
    old_dir: &Path,
    patch_dir: &Path,
    out_dxf: &Path,
    progress: &dyn Progress,
) -> Result<PatchMeta> {
    let meta = read_meta(patch_dir)?;
    let old_path = old_dir.join(DXF_FILE);
    let old = FileSource::new(File::open(&old_path).at(&old_path)?).at(&old_path)?;
    let staging = out_dxf.with_extension("patch-data.tmp");
    let corrupt = |reason: String| EngineError::corrupt_patch(BULK_FILE, reason);
    let decoded = sevenz::read_single(patch_dir, BULK_FILE, BULK_MEMBER, corrupt, |input| {
        let file = File::create(&staging).at(&staging)?;
        let written =
            delta::apply(input, &old, BufWriter::new(file)).map_err(|e| corrupt(e.to_string()))?;
        if written != meta.data_bytes {
            return Err(corrupt(format!(
                "decodes to {written} bytes, patch.json says {}",
                meta.data_bytes
            )));
        }
        Ok(())
    });
    let applied =
        decoded.and_then(|()| apply_with_data(old_dir, patch_dir, &staging, out_dxf, progress));
    let _ = std::fs::remove_file(&staging);
    applied
}
