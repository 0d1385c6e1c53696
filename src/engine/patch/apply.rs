//! Streaming patch apply: old `img.dxf` + `map.7z` + `patch.data` → new `img.dxf`.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::map::{MapAnchors, MapReader, Run, Source};
use super::{DATA_FILE, MAP_FILE, PATCH_JSON, PatchMeta};
use crate::engine::buffers::BufferPool;
use crate::engine::error::{EngineError, IoContext, Result};
use crate::engine::fsio::{AtomicFile, FlushingWriter};
use crate::engine::hashing::Md5Worker;
use crate::engine::image::reader::Image;
use crate::engine::image::{BLOCK_SIZE, DXF_FILE, version_problem};
use crate::engine::progress::{Progress, step};
use crate::engine::sevenz;

/// Most blocks copied at once.
const CHUNK_BLOCKS: u64 = 256;

/// Rebuilds the new image's `img.dxf` at `out_dxf` from the image in `old_dir` and the patch in
/// `patch_dir`, run by run with bounded memory, and checks its MD5 against `patch.json` before
/// renaming it into place. Refuses a patch made from another image, a truncated `patch.data`
/// and a malformed `map.7z`, naming the file.
pub fn apply_patch_streaming(
    old_dir: &Path,
    patch_dir: &Path,
    out_dxf: &Path,
    progress: &dyn Progress,
) -> Result<PatchMeta> {
    let meta = read_meta(patch_dir)?;
    let old = open_old(old_dir, &meta)?;
    let data_path = patch_dir.join(DATA_FILE);
    let mut data = File::open(&data_path)
        .map_err(|e| EngineError::corrupt_patch(DATA_FILE, format!("cannot open: {e}")))?;
    let data_len = data.metadata().at(&data_path)?.len();
    if data_len != meta.data_bytes {
        let reason = format!("{data_len} bytes, {PATCH_JSON} says {}", meta.data_bytes);
        return Err(EngineError::corrupt_patch(DATA_FILE, reason));
    }
    let rebuilt = rebuild(
        &old, patch_dir, &meta, &mut data, &data_path, out_dxf, progress,
    )?;
    rebuilt.commit()?;
    Ok(meta)
}

/// The image in `old_dir`, once checked to be the one the patch described by `meta` was
/// made from.
pub(super) fn open_old<'a>(old_dir: &'a Path, meta: &PatchMeta) -> Result<Image<'a>> {
    let old = Image::open(old_dir)?;
    if old.meta.dxf_md5 != meta.from_dxf_md5 || old.meta.dxf_name != meta.from_dxf_name {
        let reason = format!(
            "made from image {} ({}), not {} ({})",
            meta.from_dxf_name, meta.from_dxf_md5, old.meta.dxf_name, old.meta.dxf_md5
        );
        return Err(EngineError::corrupt_patch(PATCH_JSON, reason));
    }
    Ok(old)
}

/// Follows the map of the patch in `patch_dir` from `old`, taking the bytes of `patch.data`
/// in order from `data` (the patch's own file, or the bulk path's decoder; `data_name` names
/// it in errors), into a new `img.dxf` at `out_dxf`. Returns the file, checked against
/// `toDxfMd5` but not yet renamed into place, so the caller can commit it once everything
/// else it depends on checked out.
pub(super) fn rebuild(
    old: &Image<'_>,
    patch_dir: &Path,
    meta: &PatchMeta,
    data: &mut dyn Read,
    data_name: &Path,
    out_dxf: &Path,
    progress: &dyn Progress,
) -> Result<AtomicFile> {
    let old_path = old.dir.join(DXF_FILE);
    progress.begin(meta.block_count * BLOCK_SIZE);
    let mut out = AtomicFile::create(out_dxf)?;
    let file = out.file().try_clone().at(out_dxf)?;
    let mut writer = FlushingWriter::new(file, meta.block_count * BLOCK_SIZE).at(out_dxf)?;
    let hasher = Md5Worker::spawn("md5-apply").at(out_dxf)?;
    let mut buffers = BufferPool::new((CHUNK_BLOCKS * BLOCK_SIZE) as usize);
    read_map(patch_dir, meta, |map| {
        while let Some(run) = map
            .next_run(old.meta.block_count, meta.new_blocks)
            .map_err(corrupt_map)?
        {
            let mut done = 0;
            while done < run.count {
                let n = (run.count - done).min(CHUNK_BLOCKS);
                let len = (n * BLOCK_SIZE) as usize;
                let mut buffer = buffers.take();
                let chunk = &mut buffer[..len];
                match run.source_at(done) {
                    Source::Old(b) => old.dxf.read_exact_at(chunk, b * BLOCK_SIZE).at(&old_path)?,
                    // Kind-1 runs take `patch.data` in order, so the next bytes are block `b`.
                    Source::Data(_) => data.read_exact(chunk).at(data_name)?,
                    Source::Zero => chunk.fill(0),
                }
                writer.write_all(chunk).at(out_dxf)?;
                hasher.update(buffers.share(buffer), 0..len).at(out_dxf)?;
                step(progress, len as u64)?;
                done += n;
            }
        }
        Ok(())
    })?;
    writer.finish().at(out_dxf)?;
    hasher.finish_one().at(out_dxf)?;
    let md5 = hasher
        .join()
        .at(out_dxf)?
        .first()
        .map(hex::encode)
        .unwrap_or_default();
    if md5 != meta.to_dxf_md5 {
        let reason = format!(
            "result md5 {md5} differs from {PATCH_JSON} toDxfMd5 {}",
            meta.to_dxf_md5
        );
        return Err(EngineError::corrupt_patch(DATA_FILE, reason));
    }
    Ok(out)
}

/// A defect of `map.7z`.
pub(super) fn corrupt_map(reason: String) -> EngineError {
    EngineError::corrupt_patch(MAP_FILE, reason)
}

/// Opens `map.7z` of the patch in `patch_dir` and passes its run reader, for `meta`'s block
/// count, to `visit`.
pub(super) fn read_map<T>(
    patch_dir: &Path,
    meta: &PatchMeta,
    visit: impl FnOnce(&mut MapReader<&mut dyn Read>) -> Result<T>,
) -> Result<T> {
    sevenz::read_single(patch_dir, MAP_FILE, corrupt_map, |input| {
        let mut map = MapReader::new(input, meta.block_count).map_err(corrupt_map)?;
        visit(&mut map)
    })
}

/// Runs `visit` over the anchors of the bulk delta stream, read off `map.7z` of the patch in
/// `patch_dir` for an old image of `old_blocks` blocks. A defect of the map misleads whatever
/// used the anchors, so it is reported in preference to `visit`'s own result.
pub(super) fn with_anchors<T>(
    patch_dir: &Path,
    meta: &PatchMeta,
    old_blocks: u64,
    visit: impl FnOnce(&mut MapAnchors<'_, &mut dyn Read>) -> Result<T>,
) -> Result<T> {
    read_map(patch_dir, meta, |map| {
        let mut anchors = map.anchors(old_blocks, meta.new_blocks);
        let visited = visit(&mut anchors);
        anchors.finish().map_err(corrupt_map)?;
        visited
    })
}

/// Calls `visit` with every run of the map of the patch in `patch_dir` (described by `meta`),
/// in new-image order, checked against an old image of `old_blocks` blocks.
pub fn for_each_run(
    patch_dir: &Path,
    meta: &PatchMeta,
    old_blocks: u64,
    mut visit: impl FnMut(Run) -> Result<()>,
) -> Result<()> {
    read_map(patch_dir, meta, |map| {
        while let Some(run) = map
            .next_run(old_blocks, meta.new_blocks)
            .map_err(corrupt_map)?
        {
            visit(run)?;
        }
        Ok(())
    })
}

/// Reads `patch.json`; any defect is a corrupt patch naming it.
pub fn read_meta(patch_dir: &Path) -> Result<PatchMeta> {
    let bad = |reason: String| EngineError::corrupt_patch(PATCH_JSON, reason);
    let bytes =
        std::fs::read(patch_dir.join(PATCH_JSON)).map_err(|e| bad(format!("cannot read: {e}")))?;
    let meta: PatchMeta =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("invalid: {e}")))?;
    if let Some(problem) = version_problem(meta.format_version, super::FORMAT_VERSION) {
        return Err(bad(problem));
    }
    let counted = meta.reused_blocks + meta.new_blocks + meta.zero_blocks;
    if counted != meta.block_count {
        return Err(bad(format!(
            "reusedBlocks + newBlocks + zeroBlocks = {counted}, blockCount says {}",
            meta.block_count
        )));
    }
    if meta.data_bytes != meta.new_blocks * BLOCK_SIZE {
        return Err(bad(format!(
            "dataBytes says {} but newBlocks {} make {} bytes",
            meta.data_bytes,
            meta.new_blocks,
            meta.new_blocks * BLOCK_SIZE
        )));
    }
    Ok(meta)
}
