//! The bulk path: `patch.7z` holds `patch.data` delta-coded against the old `img.dxf` (byte
//! level approximate matches, see [`crate::engine::delta`]), LZMA2-compressed in 7z. With
//! `map.7z` it rebuilds the new image on its own: decode `patch.7z` into a temporary
//! `patch.data`, then apply the map as the streaming path does.

use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::apply::{apply_with_data, read_meta};
use super::{DATA_FILE, PatchMeta};
use crate::engine::delta::{self, FileSource, MatchParams, OldWindow};
use crate::engine::error::{EngineError, IoContext, Result};
use crate::engine::fsio::AtomicFile;
use crate::engine::image::DXF_FILE;
use crate::engine::progress::Progress;
use crate::engine::sevenz;

/// Name of the bulk patch archive.
pub const BULK_FILE: &str = "patch.7z";
/// Name of the delta stream inside [`BULK_FILE`].
pub const BULK_MEMBER: &str = "patch";
/// Where the raw delta stream is staged before compression, inside the patch directory.
const RAW_STAGING: &str = "patch.raw.tmp";
/// Default memory budget of `patch make` (old window index + data).
pub const DEFAULT_BUDGET: u64 = 1 << 30;

/// Memory outside the old window and its suffix array: the bucket table and the differ's
/// working set (see [`delta::working_bytes`]).
fn fixed_bytes() -> u64 {
    (64u64 << 20) + delta::working_bytes(MatchParams::default().threads) as u64
}

/// The old-image bytes the differ may index within `budget`: the suffix array and the window
/// take 5 bytes per old byte; `patch.data` is read a segment at a time and the raw stream
/// goes to a file, so neither counts.
pub fn old_window_len(old_len: u64, budget: u64) -> u64 {
    let room = budget.saturating_sub(fixed_bytes()) / 5;
    old_len.min(room).min(delta::MAX_WINDOW as u64)
}

/// Writes `patch.7z` for the patch in `patch_dir` (made from `old_dir`) within `budget` bytes
/// of memory; returns its size.
pub fn make_bulk(old_dir: &Path, patch_dir: &Path, budget: u64) -> Result<u64> {
    let target = patch_dir.join(BULK_FILE);
    let bad_output = |reason: String| EngineError::BadOutput {
        filename: target.display().to_string(),
        reason,
    };
    if budget < fixed_bytes() + (1 << 20) {
        return Err(bad_output(format!(
            "a memory budget of {budget} bytes is below the differ's working set of {} bytes; \
             raise it",
            fixed_bytes() + (1 << 20)
        )));
    }
    let data_path = patch_dir.join(DATA_FILE);
    let data = File::open(&data_path).at(&data_path)?;
    let data_len = data.metadata().at(&data_path)?.len();
    let old_path = old_dir.join(DXF_FILE);
    let old_file = File::open(&old_path).at(&old_path)?;
    let old_len = old_file.metadata().at(&old_path)?.len();
    let mut old = vec![0u8; old_window_len(old_len, budget) as usize];
    old_file.read_exact_at(&mut old, 0).at(&old_path)?;
    let raw_path = patch_dir.join(RAW_STAGING);
    let raw = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&raw_path)
        .at(&raw_path)?;
    let read_new = |pos: u64, buf: &mut [u8]| data.read_exact_at(buf, pos);
    let coded = delta::diff_into(
        &OldWindow::contiguous(&old, 0),
        data_len,
        read_new,
        BufWriter::with_capacity(1 << 20, raw),
        MatchParams::default(),
    );
    drop(old);
    let packed = coded
        .map_err(|e| bad_output(e.to_string()))
        .and_then(|raw| raw.into_inner().map_err(|e| bad_output(e.to_string())))
        .and_then(|raw| pack_raw(raw, &raw_path, &target));
    let _ = std::fs::remove_file(&raw_path);
    packed
}

/// Compresses the raw stream in `raw` (written, positioned at its end) into `target`.
fn pack_raw(mut raw: File, raw_path: &Path, target: &Path) -> Result<u64> {
    let raw_len = raw.stream_position().at(raw_path)?;
    raw.seek(SeekFrom::Start(0)).at(raw_path)?;
    let mut out = AtomicFile::create(target)?;
    let input = BufReader::with_capacity(1 << 20, raw);
    delta::write_7z(input, raw_len, BULK_MEMBER, out.file()).at(target)?;
    let size = out.file().seek(SeekFrom::End(0)).at(target)?;
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
