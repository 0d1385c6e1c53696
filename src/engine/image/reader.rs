//! Reading an image directory: its JSON, its index entry by entry, and a file's bytes.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use md5::{Digest, Md5};

use super::index::{IndexEntry, IndexHeader, IndexReader};
use super::meta::{DXF_FILE, IMG_JSON, INDEX_FILE, ImageMeta, read_json, version_problem};
use super::{BLOCK_SIZE, FORMAT_VERSION};
use crate::engine::chunks::ChunkTable;
use crate::engine::error::{EngineError, Result};
use crate::engine::sevenz;

/// Most bytes read from `img.dxf` at once.
const READ_CHUNK: u64 = 1 << 20;

/// An image directory opened for reading, its `img.dxf` checked against `img.json` by size.
pub struct Image<'a> {
    /// The directory.
    pub dir: &'a Path,
    /// Its `img.json`.
    pub meta: ImageMeta,
    /// Its open `img.dxf`.
    pub dxf: File,
}

impl<'a> Image<'a> {
    /// Opens `dir`, refusing a missing or malformed `img.json` or an `img.dxf` whose size is
    /// not the one `img.json` states.
    pub fn open(dir: &'a Path) -> Result<Self> {
        let meta: ImageMeta = read_json(dir, IMG_JSON)?;
        if let Some(problem) = version_problem(meta.format_version, FORMAT_VERSION) {
            return Err(EngineError::corrupt(IMG_JSON, problem));
        }
        if meta.block_size != BLOCK_SIZE || meta.dxf_size != meta.block_count * BLOCK_SIZE {
            return Err(EngineError::corrupt(
                IMG_JSON,
                "block size or counts inconsistent",
            ));
        }
        let dxf = File::open(dir.join(DXF_FILE))
            .map_err(|e| EngineError::corrupt(DXF_FILE, format!("cannot open: {e}")))?;
        let size = dxf
            .metadata()
            .map_err(|e| EngineError::corrupt(DXF_FILE, e.to_string()))?
            .len();
        if size != meta.dxf_size {
            let reason = format!("{size} bytes, {IMG_JSON} says {}", meta.dxf_size);
            return Err(EngineError::corrupt(DXF_FILE, reason));
        }
        Ok(Self { dir, meta, dxf })
    }

    /// Calls `visit` with every index entry in index order, after checking the index header
    /// against `img.json`. Returns the header and the chunk hashes of `img.dxf` (none in a
    /// version-1 image).
    pub fn for_each_entry(
        &self,
        visit: impl FnMut(IndexEntry) -> Result<()>,
    ) -> Result<(IndexHeader, Option<ChunkTable>)> {
        read_index(self.dir, &self.meta, visit)
    }

    /// Reads a regular file's bytes in order: `data(offset, bytes)` for stored blocks, nothing
    /// for holes. The MD5 of the whole file (holes as zeros) is checked against the index: a
    /// mismatch is a corrupt `img.dxf`.
    pub fn read_file(
        &self,
        entry: &IndexEntry,
        mut data: impl FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let read_failed =
            |e: std::io::Error| EngineError::corrupt(DXF_FILE, format!("read failed: {e}"));
        let mut md5 = Md5::new();
        let mut hashed = 0u64;
        let mut buf = vec![0u8; READ_CHUNK as usize];
        let zeros = vec![0u8; READ_CHUNK as usize];
        let hash_zeros_to = |md5: &mut Md5, hashed: &mut u64, to: u64| {
            while *hashed < to {
                let n = (to - *hashed).min(READ_CHUNK);
                md5.update(&zeros[..n as usize]);
                *hashed += n;
            }
        };
        for x in &entry.extents {
            let mut block = x.file_block;
            while block < x.file_block + x.count {
                let n = if x.repeat {
                    1
                } else {
                    (x.file_block + x.count - block).min(READ_CHUNK / BLOCK_SIZE)
                };
                let offset = block * BLOCK_SIZE;
                let len = (n * BLOCK_SIZE).min(entry.size - offset) as usize;
                let at = x.image_block_of(block) * BLOCK_SIZE;
                self.dxf
                    .read_exact_at(&mut buf[..len], at)
                    .map_err(read_failed)?;
                hash_zeros_to(&mut md5, &mut hashed, offset);
                md5.update(&buf[..len]);
                hashed += len as u64;
                data(offset, &buf[..len])?;
                block += n;
            }
        }
        hash_zeros_to(&mut md5, &mut hashed, entry.size);
        let digest: [u8; 16] = md5.finalize().into();
        if digest != entry.md5 {
            let reason = format!("content of '{}' does not match its md5", entry.path);
            return Err(EngineError::corrupt(DXF_FILE, reason));
        }
        Ok(())
    }
}

/// Calls `visit` with every entry of the index `img.idx.7z` in `dir`, checked against the
/// image's `img.json` (`meta`), without needing its `img.dxf` (a launcher has the index long
/// before the image). Returns the header and the chunk hashes of `img.dxf` (none in a
/// version-1 image).
pub fn read_index(
    dir: &Path,
    meta: &ImageMeta,
    mut visit: impl FnMut(IndexEntry) -> Result<()>,
) -> Result<(IndexHeader, Option<ChunkTable>)> {
    let corrupt = |reason: String| EngineError::corrupt(INDEX_FILE, reason);
    sevenz::read_single(dir, INDEX_FILE, corrupt, |data| {
        let mut reader = IndexReader::new(data).map_err(corrupt)?;
        let header = *reader.header();
        if header.block_count != meta.block_count {
            return Err(corrupt(format!(
                "index has {} blocks, {IMG_JSON} says {}",
                header.block_count, meta.block_count
            )));
        }
        while let Some(entry) = reader.next_entry().map_err(corrupt)? {
            visit(entry)?;
        }
        Ok((header, reader.chunks().cloned()))
    })
}
