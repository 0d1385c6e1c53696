//! Appends blocks to `img.dxf`, storing each distinct non-zero block once, while the image's
//! MD5 is computed on another thread.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64;

use super::BLOCK_SIZE;
use super::dedup::DedupTable;
use super::hashing::Md5Worker;

const BLOCK: usize = BLOCK_SIZE as usize;
/// Bytes gathered before a write: large writes, few messages to the hashing thread.
const FLUSH_AT: usize = 4 << 20;
/// The all-zero block, never stored: file blocks without an image block read as zeros.
static ZERO: [u8; BLOCK] = [0; BLOCK];

/// The growing image.
pub struct BlockSink {
    file: File,
    pending: Vec<u8>,
    flushed_blocks: u64,
    dedup: DedupTable,
    md5: Md5Worker,
}

impl BlockSink {
    /// Writes to `file` (positioned at its start, empty).
    pub fn new(file: File) -> io::Result<Self> {
        Ok(Self {
            file,
            pending: Vec::with_capacity(FLUSH_AT),
            flushed_blocks: 0,
            dedup: DedupTable::default(),
            md5: Md5Worker::spawn()?,
        })
    }

    /// Blocks in the image so far.
    pub fn block_count(&self) -> u64 {
        self.flushed_blocks + (self.pending.len() / BLOCK) as u64
    }

    /// Places one 4096-byte block: `None` for an all-zero block, else the image block holding
    /// the same bytes — an earlier one when remembered, or a new one appended now.
    pub fn store(&mut self, block: &[u8]) -> io::Result<Option<u64>> {
        if block == ZERO {
            return Ok(None);
        }
        let hash = xxh3_64(block);
        if let Some(earlier) = self.dedup.get(hash)
            && self.holds(earlier, block)?
        {
            return Ok(Some(earlier));
        }
        let index = self.block_count();
        self.pending.extend_from_slice(block);
        self.dedup.remember(hash, index);
        if self.pending.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(Some(index))
    }

    /// Writes what is pending and returns the image's MD5.
    pub fn finish(mut self) -> io::Result<[u8; 16]> {
        self.flush()?;
        self.md5.finish_one()?;
        let digests = self.md5.join()?;
        digests
            .first()
            .copied()
            .ok_or_else(|| io::Error::other("md5 worker returned no digest"))
    }

    /// True when image block `index` holds exactly `block`.
    fn holds(&self, index: u64, block: &[u8]) -> io::Result<bool> {
        if index >= self.flushed_blocks {
            let at = ((index - self.flushed_blocks) as usize) * BLOCK;
            return Ok(&self.pending[at..at + BLOCK] == block);
        }
        let mut stored = [0u8; BLOCK];
        self.file.read_exact_at(&mut stored, index * BLOCK_SIZE)?;
        Ok(stored[..] == *block)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.pending)?;
        let full = std::mem::replace(&mut self.pending, Vec::with_capacity(FLUSH_AT));
        self.flushed_blocks += (full.len() / BLOCK) as u64;
        let len = full.len();
        self.md5.update(Arc::new(full), 0..len)
    }
}
