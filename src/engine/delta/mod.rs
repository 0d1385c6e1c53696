//! Byte-level differ for the bulk patch: new data coded against random access to old data.
//!
//! [`diff`] finds *covers* with a suffix array over the old window (bsdiff-style approximate
//! matches: old bytes plus a mostly-zero bytewise difference) and writes a **raw delta
//! stream**, meant to be compressed afterwards with LZMA2 ([`write_7z`]). [`apply`] rebuilds
//! new from the stream and an [`OldSource`], streaming, with bounded memory.
//!
//! # Raw delta stream
//!
//! Specified byte for byte in docs/FORMAT.md ("The raw delta stream"): a magic, the new
//! length, then chunks of at most 16 MiB of new, each holding its control records, its
//! run-length coded difference bytes (gap lengths, run lengths and nonzero bytes as three
//! lists) and its literal bytes as separate sections. A record appends literals, then copies
//! old bytes plus difference bytes from an old offset coded relative to the end of the
//! previous copy.
//!
//! # Memory
//!
//! [`Differ::diff_into`] holds the old window, a suffix array of 4 bytes per old byte plus a bucket
//! table of 64 MiB from 16 MiB of old on ([`index_bytes`]), one batch of new segments, the
//! covers of that batch and the chunk being encoded ([`working_bytes`]): about
//! `5 * old + 64 MiB + working_bytes` bytes, whatever the size of new; the stream goes to a
//! writer as each chunk completes. Windows are limited to [`MAX_WINDOW`] bytes (`i32`
//! suffix-array indices; the differ's own positions are `usize`). [`apply`] holds one
//! chunk's sections and output (under 4 × 16 MiB; the encoder writes 16 MiB chunks).

mod apply;
mod compress;
mod encode;
mod format;
mod index;
mod matcher;

use std::io::Write;

pub use apply::{FileSource, OldSource, apply, read_header};
pub use compress::{PATCH_DICT_SIZE, write_7z};
pub use encode::{DiffError, OldWindow};
pub use format::{DeltaError, put_varint, read_varint, unzigzag, zigzag};
pub use index::{MAX_WINDOW, index_bytes};
pub use matcher::{MatchParams, SEGMENT};

/// Memory the differ needs beyond the old window and its index: one [`SEGMENT`] of new per
/// thread, plus the chunk being encoded (its three sections and their run-length coding).
pub const fn working_bytes(threads: usize) -> usize {
    (threads + 4) * SEGMENT
}

/// Codes `new` against the old window as a raw delta stream with default tuning.
pub fn diff(old: &OldWindow<'_>, new: &[u8]) -> Result<Vec<u8>, DiffError> {
    diff_with(old, new, MatchParams::default())
}

/// Codes `new` against the old window as a raw delta stream with the given tuning.
pub fn diff_with(
    old: &OldWindow<'_>,
    new: &[u8],
    params: MatchParams,
) -> Result<Vec<u8>, DiffError> {
    let read = |pos: u64, buf: &mut [u8]| {
        let start = pos as usize;
        buf.copy_from_slice(&new[start..start + buf.len()]);
        Ok(())
    };
    Differ::new(old.clone())?.diff_into(new.len() as u64, read, Vec::new(), params)
}

/// An old window with its suffix index: the expensive part of diffing, built once (and, by
/// `patch make`, on its own thread while the block map is made).
pub struct Differ<'a> {
    old: OldWindow<'a>,
    index: index::SuffixIndex<'a>,
}

impl<'a> Differ<'a> {
    /// Sorts the suffixes of the window; refuses windows above [`MAX_WINDOW`] bytes.
    pub fn new(old: OldWindow<'a>) -> Result<Self, DiffError> {
        if old.data().len() > MAX_WINDOW {
            return Err(DiffError::TooLarge(old.data().len()));
        }
        let index = index::SuffixIndex::new(old.data());
        Ok(Self { old, index })
    }

    /// Codes the `new_len` bytes of new, fetched segment by segment with `read_new(offset,
    /// buf)`, writing the raw delta stream to `out`. Memory beyond the window and its index
    /// is [`working_bytes`]. Deterministic: the same inputs and parameters give the same
    /// bytes whatever `params.threads` (new is scanned in fixed [`SEGMENT`]s, one batch of
    /// them per round, shared among the threads).
    pub fn diff_into<W: Write>(
        &self,
        new_len: u64,
        mut read_new: impl FnMut(u64, &mut [u8]) -> std::io::Result<()>,
        out: W,
        params: MatchParams,
    ) -> Result<W, DiffError> {
        let mut encoder = encode::Encoder::new(out, new_len)?;
        let batch_len = (params.threads.max(1) * SEGMENT) as u64;
        let mut batch = Vec::new();
        let mut at = 0u64;
        while at < new_len {
            let len = batch_len.min(new_len - at) as usize;
            batch.resize(len, 0);
            read_new(at, &mut batch)?;
            let covers = matcher::find_covers(&self.index, &batch, at as usize, params);
            encoder.push_segment(&self.old, &batch, &covers)?;
            at += len as u64;
        }
        Ok(encoder.finish()?)
    }
}
