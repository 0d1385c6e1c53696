//! Appends blocks to `img.dxf`, storing each distinct non-zero block once, while the image's
//! MD5 and the disk writes run on threads of their own.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64;

use super::BLOCK_SIZE;
use super::dedup::DedupTable;
use super::writer::FileWriter;
use crate::engine::hashing::Md5Worker;

const BLOCK: usize = BLOCK_SIZE as usize;
/// Bytes gathered before a write: large writes, few messages to the hashing thread.
const FLUSH_AT: usize = 4 << 20;
/// The all-zero block, never stored: file blocks without an image block read as zeros.
static ZERO: [u8; BLOCK] = [0; BLOCK];

/// The growing image.
pub struct BlockSink {
    /// Read handle for comparing candidate blocks already on disk.
    file: File,
    pending: Vec<u8>,
    flushed_blocks: u64,
    /// Buffers handed to the writer and not yet known written, with their first block.
    in_flight: VecDeque<(u64, Arc<Vec<u8>>)>,
    dedup: DedupTable,
    md5: Md5Worker,
    writer: FileWriter,
}

impl BlockSink {
    /// Writes to `file` (readable, positioned at its start, empty).
    pub fn new(file: File) -> io::Result<Self> {
        Ok(Self {
            writer: FileWriter::spawn(file.try_clone()?)?,
            file,
            pending: Vec::with_capacity(FLUSH_AT),
            flushed_blocks: 0,
            in_flight: VecDeque::new(),
            dedup: DedupTable::default(),
            md5: Md5Worker::spawn("md5-image")?,
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
        self.writer.join()?;
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
        let in_buffer = self.in_flight.iter().find_map(|(first, buffer)| {
            let at = index.checked_sub(*first)? as usize * BLOCK;
            buffer.get(at..at + BLOCK)
        });
        if let Some(stored) = in_buffer {
            return Ok(stored == block);
        }
        let mut stored = [0u8; BLOCK];
        self.file.read_exact_at(&mut stored, index * BLOCK_SIZE)?;
        Ok(stored[..] == *block)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written_blocks = self.writer.written() / BLOCK_SIZE;
        while let Some((first, buffer)) = self.in_flight.front()
            && first + (buffer.len() / BLOCK) as u64 <= written_blocks
        {
            self.in_flight.pop_front();
        }
        let full = Arc::new(std::mem::replace(
            &mut self.pending,
            Vec::with_capacity(FLUSH_AT),
        ));
        let len = full.len();
        self.in_flight
            .push_back((self.flushed_blocks, Arc::clone(&full)));
        self.flushed_blocks += (len / BLOCK) as u64;
        self.writer.write(Arc::clone(&full))?;
        self.md5.update(full, 0..len)
    }
}
