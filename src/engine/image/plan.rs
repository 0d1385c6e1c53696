//! The dedup pass of a build: decides where every file block goes in the image — zero blocks
//! nowhere, repeated blocks onto their first copy — before any byte is hashed or written. It
//! runs ahead of the data pass, so the image's block count (which heads the index) is known
//! early and the index can be compressed while the image is still being hashed and written.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::mpsc::{Sender, SyncSender};

use xxhash_rust::xxh3::xxh3_64;

use super::BLOCK_SIZE;
use super::catalog::Catalog;
use super::dedup::DedupTable;
use super::index::{self, Extent};
use super::sink::stopped;
use crate::engine::error::{IoContext, Result};
use crate::engine::tar::EntryKind;

const BLOCK: usize = BLOCK_SIZE as usize;
/// Bytes read at a time (a whole number of blocks).
const CHUNK: u64 = 1 << 20;
/// Blocks read at once when a stored block is read back to confirm a hash match: repeated
/// content tends to repeat whole runs, so the next candidates are usually in the same window.
const WINDOW: u64 = 32;
/// The all-zero block, never stored: file blocks without an image block read as zeros.
static ZERO: [u8; BLOCK] = [0; BLOCK];

/// One decision of the pass, in image order, for the data pass to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The next `count` image blocks are file blocks `first..first + count` of entry `entry`.
    Store {
        entry: usize,
        first: u64,
        count: u64,
    },
    /// All blocks of the access order are placed; file order follows.
    OrderDone,
    /// Another chunk was read: bounds how far the pass runs ahead of the data pass.
    Read,
}

/// Totals of the finished pass.
#[derive(Debug, Clone, Copy)]
pub struct Totals {
    /// Blocks of `img.dxf`.
    pub block_count: u64,
    /// Blocks stored for the access order's preload runs.
    pub preload_blocks: u64,
}

/// Where the pass sends what it decides.
pub struct Outputs {
    /// Blocks to store, in image order (for the data pass).
    pub steps: SyncSender<Step>,
    /// Each entry's extents, in catalog order (for the index).
    pub extents: Sender<Vec<Extent>>,
    /// The image's block count, once known (heads the index).
    pub block_count: Sender<u64>,
}

/// Places every block of the build: first the access-order `runs` (entry, first block, count),
/// of which the first `preload_runs` make the preload, then each regular file in catalog
/// order. Reads the data from `archive`.
pub fn plan(
    catalog: &Catalog,
    (runs, preload_runs): (&[(usize, u64, u64)], usize),
    archive: &File,
    tar: &Path,
    outputs: Outputs,
) -> Result<Totals> {
    let Outputs {
        steps,
        extents,
        block_count,
    } = outputs;
    let mut planner = Planner {
        catalog,
        archive,
        tar,
        steps,
        dedup: DedupTable::default(),
        sources: Vec::new(),
        block_count: 0,
        run: None,
        window: (usize::MAX, 0, Vec::new()),
    };
    let mut buf = vec![0u8; CHUNK as usize];
    let mut placed = BTreeMap::new();
    let mut preload_blocks = None;
    for (n, &(i, first, count)) in runs.iter().enumerate() {
        if n == preload_runs {
            preload_blocks = Some(planner.block_count);
        }
        let entry = &catalog.entries[i];
        let mut block = first;
        while block < first + count {
            let n = (first + count - block).min(CHUNK / BLOCK_SIZE);
            let chunk = &mut buf[..(n * BLOCK_SIZE) as usize];
            entry.read_at(archive, block * BLOCK_SIZE, chunk).at(tar)?;
            for (k, bytes) in chunk.chunks_exact(BLOCK).enumerate() {
                let key = (i, block + k as u64);
                if let Entry::Vacant(slot) = placed.entry(key) {
                    slot.insert(planner.store(key.0, key.1, bytes)?);
                }
            }
            planner.chunk_done()?;
            block += n;
        }
    }
    planner.flush_run()?;
    planner.send(Step::OrderDone)?;
    let preload_blocks = preload_blocks.unwrap_or(planner.block_count);
    for (i, entry) in catalog.entries.iter().enumerate() {
        let mut file_extents = Vec::new();
        if entry.kind == EntryKind::Regular {
            let mut offset = 0;
            while offset < entry.size {
                let len = (entry.size - offset).min(CHUNK);
                let chunk = &mut buf[..len.next_multiple_of(BLOCK_SIZE) as usize];
                entry.read_at(archive, offset, chunk).at(tar)?;
                let first = offset / BLOCK_SIZE;
                for (k, bytes) in chunk.chunks_exact(BLOCK).enumerate() {
                    let block = first + k as u64;
                    let image_block = match placed.get(&(i, block)) {
                        Some(&known) => known,
                        None => planner.store(i, block, bytes)?,
                    };
                    if let Some(image_block) = image_block {
                        index::push_block(&mut file_extents, block, image_block);
                    }
                }
                planner.chunk_done()?;
                offset += len;
            }
        }
        extents.send(file_extents).map_err(|_| stopped()).at(tar)?;
    }
    planner.flush_run()?;
    let totals = Totals {
        block_count: planner.block_count,
        preload_blocks,
    };
    block_count
        .send(totals.block_count)
        .map_err(|_| stopped())
        .at(tar)?;
    Ok(totals)
}

/// The state of the pass.
struct Planner<'a> {
    catalog: &'a Catalog,
    archive: &'a File,
    tar: &'a Path,
    steps: SyncSender<Step>,
    dedup: DedupTable,
    /// `(entry, file block)` holding image block `i`, for every block stored while the table
    /// had room: where to read a remembered block back when its hash matches again.
    sources: Vec<(usize, u64)>,
    block_count: u64,
    /// Stored blocks not yet sent: `(entry, first file block, count)`.
    run: Option<(usize, u64, u64)>,
    /// The blocks last read back: `(entry, first file block, bytes)`.
    window: (usize, u64, Vec<u8>),
}

impl Planner<'_> {
    /// Places one 4096-byte block of `entry`: `None` for an all-zero block, else the image
    /// block holding the same bytes — an earlier one when remembered, or the next new one.
    fn store(&mut self, entry: usize, block: u64, bytes: &[u8]) -> Result<Option<u64>> {
        if bytes == ZERO {
            return Ok(None);
        }
        let hash = xxh3_64(bytes);
        if let Some(earlier) = self.dedup.get(hash)
            && self.holds(earlier, bytes).at(self.tar)?
        {
            return Ok(Some(earlier));
        }
        let index = self.block_count;
        if !self.dedup.is_full() {
            self.sources.push((entry, block));
            self.dedup.remember(hash, index);
        }
        self.block_count += 1;
        match &mut self.run {
            Some((e, first, count)) if *e == entry && *first + *count == block => *count += 1,
            _ => {
                self.flush_run()?;
                self.run = Some((entry, block, 1));
            }
        }
        Ok(Some(index))
    }

    /// True when image block `image_block` (a remembered one) holds exactly `bytes`; reads it
    /// back from the tar, a window of blocks at a time.
    fn holds(&mut self, image_block: u64, bytes: &[u8]) -> io::Result<bool> {
        let source = usize::try_from(image_block)
            .ok()
            .and_then(|i| self.sources.get(i));
        let Some(&(entry, block)) = source else {
            return Ok(false);
        };
        let (cached, first, data) = &self.window;
        let hit =
            *cached == entry && block >= *first && block - *first < (data.len() / BLOCK) as u64;
        if !hit {
            let file = &self.catalog.entries[entry];
            let n = (file.size.div_ceil(BLOCK_SIZE) - block).min(WINDOW);
            let mut data = std::mem::take(&mut self.window.2);
            data.resize((n * BLOCK_SIZE) as usize, 0);
            file.read_at(self.archive, block * BLOCK_SIZE, &mut data)?;
            self.window = (entry, block, data);
        }
        let at = ((block - self.window.1) * BLOCK_SIZE) as usize;
        Ok(self.window.2.get(at..at + BLOCK) == Some(bytes))
    }

    /// Sends the stored blocks not sent yet, then marks a chunk read.
    fn chunk_done(&mut self) -> Result<()> {
        self.flush_run()?;
        self.send(Step::Read)
    }

    fn flush_run(&mut self) -> Result<()> {
        match self.run.take() {
            Some((entry, first, count)) => self.send(Step::Store {
                entry,
                first,
                count,
            }),
            None => Ok(()),
        }
    }

    fn send(&self, step: Step) -> Result<()> {
        self.steps.send(step).map_err(|_| stopped()).at(self.tar)
    }
}
