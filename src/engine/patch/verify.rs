//! Checking a patch directory on its own, without the old image: every file against
//! `patch.json`, so that a damaged download or copy is found before a launcher uses it.

use std::fs::File;
use std::io;
use std::path::Path;

use super::apply::{corrupt_map, read_map, read_meta};
use super::bulk::BULK_FILE;
use super::map::Source;
use super::{DATA_FILE, PATCH_JSON, PatchMeta};
use crate::engine::chunks::{ChunkHasher, first_difference};
use crate::engine::delta::{self, DeltaError};
use crate::engine::error::{EngineError, Result};
use crate::engine::hashing::md5_stream;
use crate::engine::image::{IMG_JSON, ImageMeta};
use crate::engine::progress::Progress;
use crate::engine::sevenz;

/// Verifies the patch in `dir`: `patch.json`'s counts, T's `img.json` against it, the size
/// and MD5 of `patch.data`, every run of `map.7z` (counts per kind, `patch.data` bounds) and
/// `patch.7z` (7z checksums, a delta stream producing `dataBytes`). Returns `patch.json`.
pub fn verify_patch(dir: &Path, progress: &dyn Progress) -> Result<PatchMeta> {
    let meta = read_meta(dir)?;
    let target: ImageMeta = serde_json::from_slice(
        &std::fs::read(dir.join(IMG_JSON))
            .map_err(|e| EngineError::corrupt_patch(IMG_JSON, format!("cannot read: {e}")))?,
    )
    .map_err(|e| EngineError::corrupt_patch(IMG_JSON, format!("invalid: {e}")))?;
    if target.dxf_md5 != meta.to_dxf_md5
        || target.dxf_name != meta.to_dxf_name
        || target.block_count != meta.block_count
    {
        return Err(EngineError::corrupt_patch(
            IMG_JSON,
            "dxfName, dxfMd5 or blockCount differ from patch.json",
        ));
    }
    progress.begin(meta.data_bytes);
    check_data(dir, &meta, progress)?;
    check_map(dir, &meta)?;
    check_bulk(dir)?;
    Ok(meta)
}

/// `patch.data` has `dataBytes` bytes with MD5 `dataMd5` and (version 2) the chunk hashes
/// `dataChunkSha256`.
fn check_data(dir: &Path, meta: &PatchMeta, progress: &dyn Progress) -> Result<()> {
    let corrupt = |reason: String| EngineError::corrupt_patch(DATA_FILE, reason);
    let stated = meta.data_chunks()?;
    let file = File::open(dir.join(DATA_FILE)).map_err(|e| corrupt(format!("cannot open: {e}")))?;
    let mut chunks = ChunkHasher::default();
    let (md5, len) = md5_stream(file, |bytes| {
        chunks.update(bytes);
        progress.advance(bytes.len() as u64);
    })
    .map_err(|e| corrupt(format!("read failed: {e}")))?;
    if len != meta.data_bytes {
        return Err(corrupt(format!(
            "{len} bytes, {PATCH_JSON} says {}",
            meta.data_bytes
        )));
    }
    if let Some(stated) = stated
        && let Some(i) = first_difference(&stated, &chunks.finish())
    {
        return Err(corrupt(format!(
            "chunk {i} (bytes {:?}) differs from {PATCH_JSON} dataChunkSha256",
            stated.range(i)
        )));
    }
    if hex::encode(md5) != meta.data_md5 {
        return Err(corrupt(format!("md5 differs from {PATCH_JSON} dataMd5")));
    }
    Ok(())
}

/// `map.7z` covers `blockCount` blocks with as many blocks of each kind as `patch.json`
/// counts, using all of `patch.data`.
fn check_map(dir: &Path, meta: &PatchMeta) -> Result<()> {
    read_map(dir, meta, |map| {
        let (mut reused, mut fresh, mut zero) = (0u64, 0u64, 0u64);
        while let Some(run) = map
            .next_run(u64::MAX, meta.new_blocks)
            .map_err(corrupt_map)?
        {
            match run.first {
                Source::Old(_) => reused += run.count,
                Source::Data(_) => fresh += run.count,
                Source::Zero => zero += run.count,
            }
        }
        if (reused, fresh, zero) != (meta.reused_blocks, meta.new_blocks, meta.zero_blocks) {
            return Err(corrupt_map(format!(
                "{reused} reused, {fresh} new and {zero} zero blocks differ from {PATCH_JSON}"
            )));
        }
        Ok(())
    })
}

/// `patch.7z` decompresses with valid checksums to a delta stream of the supported version
/// (what it produces can only be checked against the old image, by `apply`).
fn check_bulk(dir: &Path) -> Result<()> {
    let corrupt = |reason: String| EngineError::corrupt_patch(BULK_FILE, reason);
    sevenz::read_single(dir, BULK_FILE, corrupt, |input| {
        delta::read_version(&mut *input).map_err(|e| corrupt(e.to_string()))?;
        io::copy(input, &mut io::sink()).map_err(|e| corrupt(DeltaError::Io(e).to_string()))?;
        Ok(())
    })
}
