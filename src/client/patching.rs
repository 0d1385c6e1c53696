//! Rebuilding chunks of the new image from a patch: each new block comes from the installed
//! tree (an old block, read through the old index), from `patch.data` (fetched by ranges, or
//! decoded from `patch.7z`, into a local file), or is zeros, as the patch's map says.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::error::{AtPath, ClientError};
use super::layout::ChunkGeometry;
use super::oldtree::OldTree;
use crate::engine::image::BLOCK_SIZE;
use crate::engine::patch::{PatchMeta, Run, Source, for_each_run};

/// The map of a patch as runs with the new block each starts at.
pub struct PatchRuns {
    starts: Vec<u64>,
    runs: Vec<Run>,
}

impl PatchRuns {
    /// Reads the map of the patch in `patch_dir` (described by `meta`) for an old image of
    /// `old_blocks` blocks.
    pub fn read(patch_dir: &Path, meta: &PatchMeta, old_blocks: u64) -> Result<Self, ClientError> {
        let (mut starts, mut runs) = (Vec::new(), Vec::new());
        let mut next = 0;
        for_each_run(patch_dir, meta, old_blocks, |run| {
            starts.push(next);
            next += run.count;
            runs.push(run);
            Ok(())
        })?;
        Ok(Self { starts, runs })
    }

    /// The source of new block `block`.
    fn source(&self, block: u64) -> Source {
        let i = self
            .starts
            .partition_point(|&s| s <= block)
            .saturating_sub(1);
        match (self.runs.get(i), self.starts.get(i)) {
            (Some(run), Some(&start)) if block < start + run.count => run.source_at(block - start),
            _ => Source::Zero,
        }
    }

    /// The `patch.data` blocks that new blocks `blocks` take.
    pub fn data_blocks(&self, blocks: Range<u64>) -> Vec<Range<u64>> {
        let first = self
            .starts
            .partition_point(|&s| s <= blocks.start)
            .saturating_sub(1);
        let mut found = Vec::new();
        for (run, &start) in self.runs[first..].iter().zip(&self.starts[first..]) {
            if start >= blocks.end {
                break;
            }
            if let Source::Data(k) = run.first {
                let from = blocks.start.max(start) - start;
                let to = blocks.end.min(start + run.count) - start;
                if from < to {
                    found.push(k + from..k + to);
                }
            }
        }
        found
    }
}

/// What a new chunk is rebuilt from.
pub struct Rebuild<'a> {
    pub runs: &'a PatchRuns,
    pub old: &'a OldTree,
    /// The local copy of `patch.data` (holes where nothing was fetched).
    pub data: &'a File,
    pub data_path: &'a Path,
    /// The new image's chunks.
    pub geometry: &'a ChunkGeometry,
}

impl Rebuild<'_> {
    /// The bytes of new chunk `c` into `buf`.
    pub fn chunk(&self, c: u64, buf: &mut Vec<u8>) -> Result<(), ClientError> {
        let range = self.geometry.range(c);
        buf.clear();
        buf.resize((range.end - range.start) as usize, 0);
        for (i, block) in buf.chunks_mut(BLOCK_SIZE as usize).enumerate() {
            match self.runs.source(range.start / BLOCK_SIZE + i as u64) {
                Source::Old(b) => self.old.read_block(b, block).map_err(|e| {
                    ClientError::Input(format!("reading the installed build failed: {e}"))
                })?,
                Source::Data(k) => self
                    .data
                    .read_exact_at(block, k * BLOCK_SIZE)
                    .at(self.data_path)?,
                Source::Zero => block.fill(0),
            }
        }
        Ok(())
    }
}
