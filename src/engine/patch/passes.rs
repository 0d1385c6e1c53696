//! What the differ indexes when the old image does not fit the memory budget.
//!
//! `patch.data` is coded in **passes**: each a run of whole segments of `patch.data` with a
//! window of its own, made of the old bytes most like that run's content, wherever they are
//! in the old image (a file that moved, a library rebuilt at another place). Likeness is
//! measured on content-defined samples: positions where a rolling hash of the last 64 bytes
//! has its top bits zero, so the same bytes are sampled wherever they lie. Every old
//! sample's fingerprint goes into a table with the old block holding it; each segment of
//! `patch.data` votes for the blocks its own samples are found in, and the blocks the map's
//! anchors predict get votes as well. A segment needs the blocks it voted for and their
//! neighbours (its bytes may straddle them). Consecutive segments share a pass while the
//! blocks they need fit the window together; the differ then sorts one window at
//! a time, so the whole old image is offered in as many passes as it takes, within the
//! budget. Which bytes a pass indexes changes only the size of `patch.7z`, never how it
//! is applied: copies name absolute offsets of the old image.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::engine::delta::{Anchor, SEGMENT};
use crate::engine::error::{IoContext, Result};
use crate::engine::image::BLOCK_SIZE;
use crate::engine::progress::{Progress, stopped};

/// A fingerprint found in more old blocks than this (padding, tables, repeated headers)
/// says nothing about where new bytes came from.
const COMMON: usize = 16;
/// Votes that make a block part of a segment's needs: one stray fingerprint match is not.
const MIN_VOTES: u32 = 2;
/// One position in 2^bits is sampled; never denser than one in 32.
const MIN_SAMPLE_BITS: u32 = 5;
/// Bytes of the old table per sample: fingerprint and block.
const SAMPLE_BYTES: u64 = 8;

/// One pass of the differ: `patch.data` up to `end` (from where the previous pass ended) is
/// coded against the old-image `regions` (`(offset, length)`, ascending, disjoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    /// Where in `patch.data` the pass ends: a multiple of [`SEGMENT`] or its length.
    pub end: u64,
    /// The old bytes the pass indexes.
    pub regions: Vec<(u64, u64)>,
}

/// Gear hash table (FastCDC's rolling hash): a fixed pseudo-random word per byte value.
const GEAR: [u64; 256] = gear_table();

const fn gear_table() -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut state = 0x005E_ED0F_6EA2_u64;
    let mut i = 0;
    while i < 256 {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        table[i] = z ^ (z >> 31);
        i += 1;
    }
    table
}

/// Calls `visit(offset, fingerprint)` for every sampled position of `bytes` (which start at
/// `base`): where the gear hash of the bytes up to it has its top `bits` bits zero. The
/// hash restarts with every call, so sampling does not depend on how reads are cut, as long
/// as each call gets a whole unit (a segment, a read of the old image).
fn sample(bytes: &[u8], base: u64, bits: u32, mut visit: impl FnMut(u64, u32)) {
    let mut h = 0u64;
    for (i, &b) in bytes.iter().enumerate() {
        h = (h << 1).wrapping_add(GEAR[usize::from(b)]);
        if h >> (64 - bits) == 0 && i >= 64 {
            visit(base + i as u64, (h >> 24) as u32);
        }
    }
}

/// The sampling rate that keeps the old table within `table_budget` bytes.
fn sample_bits(old_len: u64, table_budget: u64) -> u32 {
    let samples = (table_budget / SAMPLE_BYTES).max(1);
    let mut bits = MIN_SAMPLE_BITS;
    while old_len >> bits > samples && bits < 40 {
        bits += 1;
    }
    bits
}

/// Every old sample's fingerprint with the block holding it, sorted.
struct OldSamples {
    by_print: Vec<(u32, u32)>,
    bits: u32,
}

impl OldSamples {
    /// Samples the old image a segment at a time.
    fn read(
        (old, path, old_len): (&File, &Path, u64),
        bits: u32,
        progress: &dyn Progress,
    ) -> Result<Self> {
        let mut by_print = Vec::with_capacity((old_len >> bits) as usize);
        let mut buf = vec![0u8; SEGMENT];
        let mut at = 0u64;
        while at < old_len {
            if progress.cancelled() {
                return Err(stopped()).at(path);
            }
            let len = (old_len - at).min(SEGMENT as u64) as usize;
            old.read_exact_at(&mut buf[..len], at).at(path)?;
            sample(&buf[..len], at, bits, |pos, print| {
                by_print.push((print, (pos / BLOCK_SIZE) as u32));
            });
            at += len as u64;
        }
        by_print.sort_unstable();
        by_print.dedup();
        Ok(Self { by_print, bits })
    }

    /// Adds a vote to each old block holding a sample of `bytes` (at most [`COMMON`]).
    fn vote(&self, bytes: &[u8], votes: &mut HashMap<u32, u32>) {
        sample(bytes, 0, self.bits, |_, print| {
            let first = self.by_print.partition_point(|&(p, _)| p < print);
            let found = self.by_print[first..]
                .iter()
                .take(COMMON + 1)
                .take_while(|&&(p, _)| p == print);
            if found.clone().count() <= COMMON {
                for &(_, block) in found {
                    *votes.entry(block).or_default() += 1;
                }
            }
        });
    }
}

/// Plans the passes that code `patch.data` (`data`, `data_len` bytes) against the old image
/// (`old`, `old_len` bytes) with windows of at most `window_len` bytes, the old table taking
/// at most `table_budget` bytes meanwhile. `anchors` are the map's, in order.
pub fn plan_passes(
    (old, old_path, old_len): (&File, &Path, u64),
    (data, data_path, data_len): (&File, &Path, u64),
    anchors: impl Iterator<Item = Anchor>,
    window_len: u64,
    table_budget: u64,
    progress: &dyn Progress,
) -> Result<Vec<Pass>> {
    let bits = sample_bits(old_len, table_budget);
    let samples = OldSamples::read((old, old_path, old_len), bits, progress)?;
    let capacity = (window_len / BLOCK_SIZE).max(1) as usize;
    let old_blocks = old_len.div_ceil(BLOCK_SIZE);
    let mut predictions = Predictions::new(anchors, data_len);
    let mut passes = Vec::new();
    let mut current: BTreeMap<u32, u32> = BTreeMap::new();
    let mut buf = vec![0u8; SEGMENT];
    let mut at = 0u64;
    while at < data_len {
        if progress.cancelled() {
            return Err(stopped()).at(data_path);
        }
        let end = (at + SEGMENT as u64).min(data_len);
        let segment = &mut buf[..(end - at) as usize];
        data.read_exact_at(segment, at).at(data_path)?;
        let mut votes = HashMap::new();
        samples.vote(segment, &mut votes);
        predictions.vote(at, end, old_len, &mut votes);
        let needed = with_neighbours(votes, old_blocks);
        let added = needed
            .iter()
            .filter(|(b, _)| !current.contains_key(b))
            .count();
        if !current.is_empty() && current.len() + added > capacity {
            passes.push(Pass {
                end: at,
                regions: regions(std::mem::take(&mut current), old_len),
            });
        }
        for (block, v) in needed {
            *current.entry(block).or_default() += v;
        }
        if current.len() > capacity {
            keep_most_voted(&mut current, capacity);
        }
        at = end;
    }
    passes.push(Pass {
        end: data_len,
        regions: regions(current, old_len),
    });
    Ok(passes)
}

/// The blocks a segment needs: those with at least [`MIN_VOTES`] votes and their neighbours
/// (which keep no votes of their own), below `old_blocks`.
fn with_neighbours(votes: HashMap<u32, u32>, old_blocks: u64) -> BTreeMap<u32, u32> {
    let mut needed = BTreeMap::new();
    for (block, v) in votes.into_iter().filter(|&(_, v)| v >= MIN_VOTES) {
        *needed.entry(block).or_default() += v;
        for n in [block.checked_sub(1), block.checked_add(1)]
            .into_iter()
            .flatten()
        {
            if u64::from(n) < old_blocks {
                needed.entry(n).or_insert(0);
            }
        }
    }
    needed
}

/// Keeps the `capacity` blocks with the most votes (the lower block on a tie).
fn keep_most_voted(blocks: &mut BTreeMap<u32, u32>, capacity: usize) {
    let mut ranked: Vec<(u32, u32)> = blocks.iter().map(|(&b, &v)| (b, v)).collect();
    ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(capacity);
    *blocks = ranked.into_iter().collect();
}

/// The old-image regions of a set of blocks: runs of consecutive blocks merged, the last cut
/// at the image's end.
fn regions(blocks: BTreeMap<u32, u32>, old_len: u64) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for block in blocks.into_keys() {
        let start = u64::from(block) * BLOCK_SIZE;
        let end = (start + BLOCK_SIZE).min(old_len);
        match out.last_mut() {
            Some(last) if last.0 + last.1 == start => last.1 = end - last.0,
            _ => out.push((start, end - start)),
        }
    }
    out
}

/// The map's predictions, one `patch.data` run at a time: the old bytes each run's anchor
/// says it came from.
struct Predictions<I: Iterator<Item = Anchor>> {
    anchors: std::iter::Peekable<I>,
    data_len: u64,
    current: Option<Anchor>,
}

impl<I: Iterator<Item = Anchor>> Predictions<I> {
    fn new(anchors: I, data_len: u64) -> Self {
        Self {
            anchors: anchors.peekable(),
            data_len,
            current: None,
        }
    }

    /// Gives [`MIN_VOTES`] to every block predicted for `patch.data` bytes `start..end`.
    fn vote(&mut self, start: u64, end: u64, old_len: u64, votes: &mut HashMap<u32, u32>) {
        let mut at = start;
        while at < end {
            while let Some(next) = self.anchors.next_if(|a| a.new_pos <= at) {
                self.current = Some(next);
            }
            let run_end = self
                .anchors
                .peek()
                .map_or(self.data_len, |a| a.new_pos)
                .min(end);
            if let Some(anchor) = self.current {
                let from = anchor.old_pos.saturating_add(at - anchor.new_pos);
                let to = from.saturating_add(run_end - at).min(old_len);
                let mut block = from / BLOCK_SIZE;
                while block * BLOCK_SIZE < to {
                    *votes.entry(block as u32).or_default() += MIN_VOTES;
                    block += 1;
                }
            }
            at = run_end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_do_not_depend_on_where_the_bytes_lie() {
        let mut x = 7u64;
        let bytes: Vec<u8> = (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let prints = |bytes: &[u8]| {
            let mut out = Vec::new();
            sample(bytes, 0, 6, |_, p| out.push(p));
            out
        };
        let whole = prints(&bytes[1000..]);
        let shifted = prints(&bytes[1000 + 4096..]);
        assert!(
            whole.len() > 10_000,
            "about one position in 64: {}",
            whole.len()
        );
        assert!(whole.ends_with(&shifted), "the same samples past the shift");
    }

    #[test]
    fn blocks_become_merged_regions() {
        let blocks = [(0, 1), (1, 1), (3, 5), (9, 2)].into_iter().collect();
        let b = BLOCK_SIZE;
        assert_eq!(
            regions(blocks, 9 * b + 100),
            [(0, 2 * b), (3 * b, b), (9 * b, 100)]
        );
        let votes = [(0, 2), (5, 1), (9, 3)].into_iter().collect();
        let needed: Vec<(u32, u32)> = with_neighbours(votes, 10).into_iter().collect();
        assert_eq!(needed, [(0, 2), (1, 0), (8, 0), (9, 3)]);
        let mut ranked = [(1, 3), (2, 9), (5, 3), (7, 1)].into_iter().collect();
        keep_most_voted(&mut ranked, 2);
        assert_eq!(ranked.into_iter().collect::<Vec<_>>(), [(1, 3), (2, 9)]);
    }
}
