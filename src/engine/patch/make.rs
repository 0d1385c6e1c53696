//! Patch making: match every block of the new image by content against the old image.

use std::fs;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use md5::{Digest, Md5};
use xxhash_rust::xxh3::xxh3_64;

use super::map::{MapWriter, Source};
use super::{DATA_FILE, MAP_FILE, PATCH_JSON, PatchMeta};
use crate::engine::chunks::{CHUNK_SIZE, ChunkHasher};
use crate::engine::error::{EngineError, IoContext, Result};
use crate::engine::fsio::{AtomicFile, write_atomic};
use crate::engine::hashing::Md5Worker;
use crate::engine::image::reader::Image;
use crate::engine::image::{APP_JSON, BLOCK_SIZE, DXF_FILE, IMG_JSON, ImageMeta, write_json};
use crate::engine::progress::{Progress, step};
use crate::engine::sevenz;

const BLOCK: usize = BLOCK_SIZE as usize;
/// Bytes read at a time from an image.
const CHUNK: usize = 1 << 20;
/// Where the uncompressed block map is staged before it goes into [`MAP_FILE`].
const MAP_STAGING: &str = "map.raw";
/// Most old blocks indexed for matching: 16 bytes each, 128 MiB at most (32 GiB of old
/// image). Blocks past it are not offered as sources; the patch stays correct, only larger.
pub const OLD_TABLE_CAPACITY: usize = 8 << 20;

/// The old image's blocks by content hash: sorted `(hash, block)` pairs.
struct OldBlocks {
    by_hash: Vec<(u64, u64)>,
}

impl OldBlocks {
    /// Hashes every block of the old image, checking its MD5 against its `img.json` meanwhile.
    fn read(old: &Image, dir: &Path, progress: &dyn Progress) -> Result<Self> {
        let mut by_hash =
            Vec::with_capacity(old.meta.block_count.min(OLD_TABLE_CAPACITY as u64) as usize);
        let mut block = 0u64;
        let md5 = for_each_chunk(old, dir, progress, |chunk| {
            for bytes in chunk.chunks_exact(BLOCK) {
                if by_hash.len() < OLD_TABLE_CAPACITY {
                    by_hash.push((xxh3_64(bytes), block));
                }
                block += 1;
            }
            Ok(())
        })?;
        check_md5(dir, &old.meta, md5)?;
        by_hash.sort_unstable();
        Ok(Self { by_hash })
    }

    /// Old blocks whose hash is `hash`, lowest first.
    fn candidates(&self, hash: u64) -> impl Iterator<Item = u64> + '_ {
        let first = self.by_hash.partition_point(|&(h, _)| h < hash);
        self.by_hash[first..]
            .iter()
            .take_while(move |&&(h, _)| h == hash)
            .map(|&(_, b)| b)
    }
}

/// Reads an image's `img.dxf` chunk by chunk, hashing it on a worker; returns its MD5.
fn for_each_chunk(
    image: &Image,
    dir: &Path,
    progress: &dyn Progress,
    mut visit: impl FnMut(&[u8]) -> Result<()>,
) -> Result<[u8; 16]> {
    let path = dir.join(DXF_FILE);
    let hasher = Md5Worker::spawn("md5-patch").at(&path)?;
    let mut offset = 0;
    while offset < image.meta.dxf_size {
        let len = (image.meta.dxf_size - offset).min(CHUNK as u64) as usize;
        let mut chunk = vec![0u8; len];
        image.dxf.read_exact_at(&mut chunk, offset).at(&path)?;
        visit(&chunk)?;
        hasher.update(Arc::new(chunk), 0..len).at(&path)?;
        step(progress, len as u64)?;
        offset += len as u64;
    }
    hasher.finish_one().at(&path)?;
    let digests = hasher.join().at(&path)?;
    Ok(digests.first().copied().unwrap_or_default())
}

fn check_md5(dir: &Path, meta: &ImageMeta, md5: [u8; 16]) -> Result<()> {
    if hex::encode(md5) == meta.dxf_md5 {
        return Ok(());
    }
    let name = dir.join(DXF_FILE).display().to_string();
    Err(EngineError::corrupt(&name, "md5 differs from img.json"))
}

/// Makes the patch from the image in `old_dir` to the image in `new_dir` into `out_dir`:
/// `map.7z`, `patch.data`, `patch.json` and the new image's `app.json` and `img.json`. Every
/// block of the new image found anywhere in the old one (by content) is reused; the others go
/// to `patch.data` in new-image order. Both images are checked against their MD5s.
pub fn make_patch(
    old_dir: &Path,
    new_dir: &Path,
    out_dir: &Path,
    progress: &dyn Progress,
) -> Result<PatchMeta> {
    let old = Image::open(old_dir)?;
    let new = Image::open(new_dir)?;
    fs::create_dir_all(out_dir).at(out_dir)?;
    progress.begin(old.meta.dxf_size + new.meta.dxf_size);
    let table = OldBlocks::read(&old, old_dir, progress)?;

    let data_path = out_dir.join(DATA_FILE);
    let mut data = AtomicFile::create(&data_path)?;
    let mut data_out = BufWriter::with_capacity(CHUNK, data.file().try_clone().at(&data_path)?);
    let raw_path = out_dir.join(MAP_STAGING);
    let mut raw = AtomicFile::create(&raw_path)?;
    let raw_out = BufWriter::with_capacity(CHUNK, raw.file().try_clone().at(&raw_path)?);
    let mut map = MapWriter::new(raw_out).at(&raw_path)?;
    let (mut reused, mut fresh, mut zero) = (0u64, 0u64, 0u64);
    let mut previous: Option<Source> = None;
    let mut old_block = [0u8; BLOCK];
    let mut data_md5 = Md5::new();
    let mut data_chunks = ChunkHasher::default();
    let new_md5 = for_each_chunk(&new, new_dir, progress, |chunk| {
        for bytes in chunk.chunks_exact(BLOCK) {
            let mut matches = |b: u64| -> Result<bool> {
                old.dxf
                    .read_exact_at(&mut old_block, b * BLOCK_SIZE)
                    .at(&old_dir.join(DXF_FILE))?;
                Ok(old_block[..] == *bytes)
            };
            let is_zero = bytes.iter().all(|&b| b == 0);
            let continued = match previous {
                Some(Source::Old(b))
                    if !is_zero && b + 1 < old.meta.block_count && matches(b + 1)? =>
                {
                    Some(b + 1)
                }
                _ => None,
            };
            let source = if is_zero {
                zero += 1;
                Source::Zero
            } else if let Some(b) = continued {
                reused += 1;
                Source::Old(b)
            } else if let Some(b) = find_old(&table, bytes, &mut matches)? {
                reused += 1;
                Source::Old(b)
            } else {
                data_out.write_all(bytes).at(&data_path)?;
                data_md5.update(bytes);
                data_chunks.update(bytes);
                fresh += 1;
                Source::Data(fresh - 1)
            };
            map.push(source).at(&raw_path)?;
            previous = Some(source);
        }
        Ok(())
    })?;
    check_md5(new_dir, &new.meta, new_md5)?;
    data_out.flush().at(&data_path)?;
    drop(data_out);
    data.commit()?;
    let (mut raw_out, _) = map.finish().at(&raw_path)?;
    raw_out.flush().at(&raw_path)?;
    let mut raw_file = raw.file().try_clone().at(&raw_path)?;
    let map_len = raw_file.seek(SeekFrom::End(0)).at(&raw_path)?;
    raw_file.seek(SeekFrom::Start(0)).at(&raw_path)?;
    sevenz::write_single(
        &out_dir.join(MAP_FILE),
        &mut raw_file,
        map_len,
        sevenz::Level::Smallest,
    )?;
    drop(raw);

    let meta = PatchMeta {
        format_version: super::FORMAT_VERSION,
        from_build_id: old.meta.build_id,
        to_build_id: new.meta.build_id,
        from_dxf_name: old.meta.dxf_name.clone(),
        to_dxf_name: new.meta.dxf_name.clone(),
        block_size: BLOCK_SIZE,
        block_count: new.meta.block_count,
        reused_blocks: reused,
        new_blocks: fresh,
        zero_blocks: zero,
        data_bytes: fresh * BLOCK_SIZE,
        data_md5: hex::encode(data_md5.finalize()),
        from_dxf_md5: old.meta.dxf_md5.clone(),
        to_dxf_md5: new.meta.dxf_md5.clone(),
        data_chunk_size: CHUNK_SIZE,
        data_chunk_sha256: data_chunks.finish().to_hex(),
    };
    write_json(&out_dir.join(PATCH_JSON), &meta)?;
    for name in [APP_JSON, IMG_JSON] {
        let bytes = fs::read(new_dir.join(name)).at(&new_dir.join(name))?;
        write_atomic(&out_dir.join(name), &bytes)?;
    }
    Ok(meta)
}

/// The lowest old block with the same bytes as `bytes`, if indexed.
fn find_old(
    table: &OldBlocks,
    bytes: &[u8],
    matches: &mut impl FnMut(u64) -> Result<bool>,
) -> Result<Option<u64>> {
    for candidate in table.candidates(xxh3_64(bytes)) {
        if matches(candidate)? {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}
