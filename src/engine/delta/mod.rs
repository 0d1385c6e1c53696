//! Byte-level differ for the bulk patch: new data coded against random access to old data.
//!
//! [`diff`] finds *covers* with a suffix array over the old window (bsdiff-style approximate
//! matches: old bytes plus a mostly-zero bytewise difference) and writes a **raw delta
//! stream**, meant to be compressed afterwards with LZMA2 ([`write_7z`]). [`apply`] rebuilds
//! new from the stream and an [`OldSource`], streaming, with bounded memory.
//!
//! # Raw delta stream
//!
//! Specified byte for byte in docs/FORMAT.md ("The raw delta stream"): a version byte, then
//! chunks of 16 MiB of new (the last holds the rest; the new length comes from
//! `patch.json`, not from the stream), each holding its
//! control records, its run-length coded difference bytes (gap lengths, run lengths and
//! nonzero bytes as three lists) and its literal bytes as separate sections. A record
//! appends literals, then copies old bytes plus difference bytes from an old offset coded
//! relative to the end of the previous copy or to the map's prediction. Every section
//! delimits itself, so no lengths are coded beyond what the records need. A chunk of machine
//! code may carry a reference map (module `refs`): how far the targets of its x86-64 relative
//! references moved, so that the decoder predicts them and moved code costs no difference.
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
mod refs;

use std::io::Write;

pub use apply::{FileSource, OldSource, apply, read_version};
pub use compress::{PATCH_DICT_SIZE, write_7z};
pub use encode::{DiffError, OldWindow, RawStream};
pub use format::{
    Anchor, CHUNK_NEW, DeltaError, decode_varint, put_varint, read_varint, unzigzag, zigzag,
};

// A copy's span (up to the next anchor or its chunk's end) must be known when it is coded,
// and the encoder learns anchors one batch of segments at a time: chunk ends must fall on
// segment boundaries, so that no anchor of a later batch can end a copy's span.
const _: () = assert!((SEGMENT as u64).is_multiple_of(format::CHUNK_NEW));
pub use index::{MAX_WINDOW, index_bytes};
pub use matcher::{MatchParams, SEGMENT};

/// Memory the differ needs beyond the old window and its index: one [`SEGMENT`] of new per
/// thread, plus the chunk being encoded (its three sections, the difference bytes under both
/// ops and their run-length coding, and its reference fields).
pub const fn working_bytes(threads: usize) -> usize {
    (threads + 5) * SEGMENT + refs::ChunkFields::MAX_BYTES
}

/// Codes `new` against the old window as a raw delta stream with default tuning.
pub fn diff(
    old: &OldWindow<'_>,
    new: &[u8],
    anchors: &[Anchor],
) -> Result<RawStream<Vec<u8>>, DiffError> {
    diff_with(old, new, anchors, MatchParams::default())
}

/// Codes `new` against the old window as a raw delta stream with the given tuning.
pub fn diff_with(
    old: &OldWindow<'_>,
    new: &[u8],
    anchors: &[Anchor],
    params: MatchParams,
) -> Result<RawStream<Vec<u8>>, DiffError> {
    let read = |pos: u64, buf: &mut [u8]| {
        let start = pos as usize;
        buf.copy_from_slice(&new[start..start + buf.len()]);
        Ok(())
    };
    let anchors = anchors.iter().copied();
    Differ::new(old.clone())?.diff_into(new.len() as u64, read, anchors, Vec::new(), params)
}

/// A raw delta stream being written, part by part, by one or more [`Differ`]s.
pub struct StreamCoder<W: Write, I: Iterator<Item = Anchor>> {
    encoder: encode::Encoder<W>,
    anchors: std::iter::Peekable<I>,
    /// The last anchor reached, which predicts where the next piece aligns.
    last_anchor: Option<Anchor>,
    /// New bytes coded so far.
    at: u64,
    new_len: u64,
}

impl<W: Write, I: Iterator<Item = Anchor>> StreamCoder<W, I> {
    /// Starts the stream of `new_len` new bytes, anchored by `anchors` (ascending).
    pub fn new(
        out: W,
        new_len: u64,
        anchors: impl IntoIterator<Item = Anchor, IntoIter = I>,
    ) -> Result<Self, DiffError> {
        Ok(Self {
            encoder: encode::Encoder::new(out, new_len)?,
            anchors: anchors.into_iter().peekable(),
            last_anchor: None,
            at: 0,
            new_len,
        })
    }

    /// Ends the stream, which must have coded all of new.
    pub fn finish(self) -> Result<RawStream<W>, DiffError> {
        if self.at != self.new_len {
            return Err(DiffError::Unfinished {
                coded: self.at,
                len: self.new_len,
            });
        }
        Ok(self.encoder.finish()?)
    }
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
    /// buf)`, writing the raw delta stream to `out`. `anchors` (ascending `new_pos`) are
    /// predictions that [`apply`] must be given too: the scan restarts at each one, aligned
    /// as it predicts, and the first copy after it is coded against it. Memory beyond the
    /// window and its index is [`working_bytes`] plus the anchors of one batch. Deterministic:
    /// the same inputs and parameters give the same bytes whatever `params.threads` (new is
    /// scanned in pieces cut at fixed [`SEGMENT`] multiples and at anchors, one batch of
    /// segments per round, shared among the threads).
    pub fn diff_into<W: Write, I: Iterator<Item = Anchor>>(
        &self,
        new_len: u64,
        read_new: impl FnMut(u64, &mut [u8]) -> std::io::Result<()>,
        anchors: impl IntoIterator<Item = Anchor, IntoIter = I>,
        out: W,
        params: MatchParams,
    ) -> Result<RawStream<W>, DiffError> {
        let mut coder = StreamCoder::new(out, new_len, anchors)?;
        self.code_until(&mut coder, new_len, read_new, params)?;
        coder.finish()
    }

    /// Codes new from where `coder` stands up to offset `end` against this window: a part
    /// of a stream whose other parts other windows code (`patch make` when the old image
    /// does not fit its budget). `end` must be a multiple of [`SEGMENT`] or the stream's
    /// end, so that the output is the same whichever windows code which parts.
    pub fn code_until<W: Write, I: Iterator<Item = Anchor>>(
        &self,
        coder: &mut StreamCoder<W, I>,
        end: u64,
        mut read_new: impl FnMut(u64, &mut [u8]) -> std::io::Result<()>,
        params: MatchParams,
    ) -> Result<(), DiffError> {
        let end = end.min(coder.new_len);
        if end < coder.new_len && !end.is_multiple_of(SEGMENT as u64) {
            return Err(DiffError::Unaligned(end));
        }
        let batch_len = (params.threads.max(1) * SEGMENT) as u64;
        let (mut batch, mut batch_anchors, mut pieces) = (Vec::new(), Vec::new(), Vec::new());
        while coder.at < end {
            let at = coder.at;
            let len = batch_len.min(end - at) as usize;
            batch.resize(len, 0);
            read_new(at, &mut batch)?;
            let batch_end = at + len as u64;
            batch_anchors.clear();
            batch_anchors.extend(std::iter::from_fn(|| {
                coder.anchors.next_if(|a| a.new_pos < batch_end)
            }));
            self.cut_pieces(at, len, &batch_anchors, &mut coder.last_anchor, &mut pieces);
            let covers = matcher::find_covers(&self.index, &batch, &pieces, params);
            let anchors = std::mem::take(&mut batch_anchors);
            coder
                .encoder
                .push_segment(&self.old, &batch, &covers, anchors)?;
            coder.at = batch_end;
        }
        Ok(())
    }

    /// Cuts the batch of `len` new bytes at offset `at` into pieces at [`SEGMENT`] multiples
    /// and at its anchors, each piece guessed to align as the last anchor before it predicts
    /// (or, with none, with the old window position equal to its own new offset).
    fn cut_pieces(
        &self,
        at: u64,
        len: usize,
        anchors: &[Anchor],
        last_anchor: &mut Option<Anchor>,
        pieces: &mut Vec<matcher::Piece>,
    ) {
        let mut starts: Vec<usize> = (0..len).step_by(SEGMENT).collect();
        starts.extend(anchors.iter().map(|a| (a.new_pos.max(at) - at) as usize));
        starts.sort_unstable();
        starts.dedup();
        pieces.clear();
        let mut next_anchor = anchors.iter().peekable();
        for (i, &start) in starts.iter().enumerate() {
            let new_pos = at + start as u64;
            while let Some(a) = next_anchor.next_if(|a| a.new_pos <= new_pos) {
                *last_anchor = Some(*a);
            }
            let predicted = last_anchor.and_then(|a| {
                self.old
                    .window_pos(a.old_pos.wrapping_add(new_pos - a.new_pos))
            });
            pieces.push(matcher::Piece {
                start,
                end: starts.get(i + 1).copied().unwrap_or(len),
                guess: predicted.unwrap_or(new_pos as usize),
            });
        }
    }
}
