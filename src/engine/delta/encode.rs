//! Writing covers out as the raw delta stream (layout in the module doc of `delta`).

use std::io::{self, Write};

use super::format::{
    Anchor, CHUNK_NEW, CopyCursor, DiffOp, VERSION, chunk_code, copy_code, put_rle, put_varint,
    zigzag,
};
use super::matcher::Cover;
use super::refs::ChunkFields;

/// An old window: bytes in memory plus where each stretch of them lives in the old file,
/// so that copies can name absolute old-file offsets even when the window concatenates
/// several regions.
#[derive(Debug, Clone)]
pub struct OldWindow<'a> {
    data: &'a [u8],
    /// `(window start, file offset)` of each region, window starts ascending from 0.
    regions: Vec<(usize, u64)>,
}

/// Why the differ could not code new against an old window.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The region lengths do not add up to the window's length.
    #[error("regions cover {covered} bytes but the window holds {len}")]
    LengthMismatch {
        /// Sum of region lengths.
        covered: u64,
        /// Window length.
        len: usize,
    },
    /// A part of the stream was to end off a [`super::SEGMENT`] boundary.
    #[error("a part of the delta stream ends at {0}, not at a segment boundary")]
    Unaligned(u64),
    /// The stream was finished before all of new was coded.
    #[error("the delta stream was finished after {coded} of {len} bytes")]
    Unfinished {
        /// Bytes coded.
        coded: u64,
        /// Bytes of new.
        len: u64,
    },
    /// The window is larger than the suffix sorter supports.
    #[error("old window of {0} bytes exceeds the {max} byte limit", max = super::index::MAX_WINDOW)]
    TooLarge(usize),
    /// Reading new data or writing the stream failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

impl<'a> OldWindow<'a> {
    /// A window holding one region that starts at `file_offset` in the old file.
    pub fn contiguous(data: &'a [u8], file_offset: u64) -> Self {
        Self {
            data,
            regions: vec![(0, file_offset)],
        }
    }

    /// A window concatenating regions `(file offset, length)`, in the order given.
    pub fn from_regions(data: &'a [u8], regions: &[(u64, u64)]) -> Result<Self, DiffError> {
        let covered: u64 = regions.iter().map(|r| r.1).sum();
        if covered != data.len() as u64 {
            return Err(DiffError::LengthMismatch {
                covered,
                len: data.len(),
            });
        }
        let mut start = 0usize;
        let mut out = Vec::with_capacity(regions.len());
        for &(offset, len) in regions.iter().filter(|r| r.1 > 0) {
            out.push((start, offset));
            start += len as usize;
        }
        if out.is_empty() {
            out.push((0, 0));
        }
        Ok(Self { data, regions: out })
    }

    /// The window's bytes.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The window position holding old-file offset `file_offset`, if the window holds it.
    pub fn window_pos(&self, file_offset: u64) -> Option<usize> {
        self.regions
            .iter()
            .enumerate()
            .find_map(|(i, &(start, offset))| {
                let end = self.regions.get(i + 1).map_or(self.data.len(), |n| n.0);
                let into = usize::try_from(file_offset.checked_sub(offset)?).ok()?;
                (into < end - start).then_some(start + into)
            })
    }

    /// Region index holding window position `pos`.
    fn region_of(&self, pos: usize) -> usize {
        self.regions
            .partition_point(|r| r.0 <= pos)
            .saturating_sub(1)
    }

    /// Splits a window range into `(file offset, length)` pieces, one per region touched.
    fn file_pieces(&self, pos: usize, len: usize, out: &mut Vec<(u64, usize)>) {
        out.clear();
        let (mut pos, mut left) = (pos, len);
        let mut r = self.region_of(pos);
        while left > 0 {
            let (start, offset) = self.regions[r];
            let end = self.regions.get(r + 1).map_or(self.data.len(), |n| n.0);
            let take = left.min(end - pos);
            out.push((offset + (pos - start) as u64, take));
            pos += take;
            left -= take;
            r += 1;
        }
    }
}

/// Builds the chunked stream: control records, difference bytes and literals of each chunk
/// kept in separate sections, each finished chunk written to `out`.
struct StreamWriter<W: Write> {
    out: W,
    ctrl: Vec<u8>,
    /// The chunk's difference bytes under [`DiffOp::Add`] ...
    diff: Vec<u8>,
    /// ... and under [`DiffOp::Xor`]; the chunk keeps the cheaper.
    diff_xor: Vec<u8>,
    lit: Vec<u8>,
    /// Scratch for a chunk's header and run-length coded differences.
    scratch: Vec<u8>,
    /// Literal bytes in `lit` not yet announced by a control record.
    pending_lit: usize,
    /// New offset of the next byte pushed.
    new_at: u64,
    /// Bytes the stream produces.
    new_len: u64,
    /// Bytes written to `out` so far.
    written: u64,
    /// `(start, end)` offsets in the stream of the literal sections written so far.
    literals: Vec<(u64, u64)>,
    /// What copy offsets are coded against.
    copies: CopyCursor<std::vec::IntoIter<Anchor>>,
    /// The reference fields of the chunk's copies, for its reference map.
    fields: ChunkFields,
}

impl<W: Write> StreamWriter<W> {
    fn chunk_used(&self) -> usize {
        self.diff.len() + self.lit.len()
    }

    fn room(&self) -> usize {
        CHUNK_NEW as usize - self.chunk_used()
    }

    fn push_literal(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let take = bytes.len().min(self.room());
            self.lit.extend_from_slice(&bytes[..take]);
            self.pending_lit += take;
            self.new_at += take as u64;
            bytes = &bytes[take..];
            if self.room() == 0 {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn push_copy(&mut self, new: &[u8], old: &[u8], file_offset: u64) -> io::Result<()> {
        let (mut new, mut old, mut file_offset) = (new, old, file_offset);
        while !new.is_empty() {
            let take = new.len().min(self.room());
            let chunk_end = (self.new_at + self.room() as u64).min(self.new_len);
            let (base, span) = self.copies.start_copy(self.new_at, chunk_end);
            put_varint(&mut self.ctrl, self.pending_lit as u64);
            put_varint(&mut self.ctrl, copy_code(take as u64, span));
            put_varint(
                &mut self.ctrl,
                zigzag(file_offset.wrapping_sub(base) as i64),
            );
            self.pending_lit = 0;
            let (new_at, diff_at) = (self.new_at, self.diff.len());
            self.fields
                .scan_copy(&old[..take], &new[..take], file_offset, new_at, diff_at);
            let pairs = new[..take].iter().zip(&old[..take]);
            self.diff
                .extend(pairs.clone().map(|(n, o)| n.wrapping_sub(*o)));
            self.diff_xor.extend(pairs.map(|(n, o)| n ^ o));
            self.copies.copied(file_offset + take as u64);
            self.new_at += take as u64;
            file_offset += take as u64;
            new = &new[take..];
            old = &old[take..];
            if self.room() == 0 {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.chunk_used() == 0 {
            return Ok(());
        }
        if self.pending_lit > 0 {
            put_varint(&mut self.ctrl, self.pending_lit as u64);
            put_varint(&mut self.ctrl, 0);
            self.pending_lit = 0;
        }
        let refs = self.fields.finish(&mut self.diff, &mut self.diff_xor);
        let op = DiffOp::cheaper(&byte_counts(&self.diff), &byte_counts(&self.diff_xor));
        let diff = match op {
            DiffOp::Add => &self.diff,
            DiffOp::Xor => &self.diff_xor,
        };
        let mut rle = std::mem::take(&mut self.scratch);
        rle.clear();
        if !diff.is_empty() {
            put_rle(&mut rle, diff);
        }
        let mut head = Vec::with_capacity(1);
        put_varint(&mut head, chunk_code(op, !refs.is_empty()));
        if !refs.is_empty() {
            refs.put(&mut head);
        }
        for section in [&head, &self.ctrl, &rle] {
            self.out.write_all(section)?;
            self.written += section.len() as u64;
        }
        if !self.lit.is_empty() {
            let end = self.written + self.lit.len() as u64;
            self.literals.push((self.written, end));
            self.out.write_all(&self.lit)?;
            self.written = end;
        }
        self.ctrl.clear();
        self.diff.clear();
        self.diff_xor.clear();
        self.lit.clear();
        self.scratch = rle;
        Ok(())
    }
}

/// How often each byte value occurs in `bytes`.
fn byte_counts(bytes: &[u8]) -> [u64; 256] {
    let mut counts = [0u64; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    counts
}

/// A finished raw delta stream: where it was written, and where in it the literal sections
/// are (what may not compress, for [`super::write_7z`]).
#[derive(Debug)]
pub struct RawStream<W> {
    /// The sink the stream was written to.
    pub out: W,
    /// `(start, end)` byte offsets in the stream of each nonempty literal section.
    pub literals: Vec<(u64, u64)>,
}

/// Writes a raw delta stream to `out` segment by segment, so that neither the new data nor
/// the stream has to be held whole.
pub struct Encoder<W: Write> {
    w: StreamWriter<W>,
    pieces: Vec<(u64, usize)>,
}

impl<W: Write> Encoder<W> {
    /// Starts a stream that will produce `new_len` bytes (a figure the decoder must be given).
    pub fn new(mut out: W, new_len: u64) -> io::Result<Self> {
        out.write_all(&[VERSION])?;
        Ok(Self {
            w: StreamWriter {
                out,
                ctrl: Vec::new(),
                diff: Vec::new(),
                diff_xor: Vec::new(),
                lit: Vec::new(),
                scratch: Vec::new(),
                pending_lit: 0,
                new_at: 0,
                new_len,
                written: 1,
                literals: Vec::new(),
                copies: CopyCursor::new(Vec::new().into_iter()),
                fields: ChunkFields::default(),
            },
            pieces: Vec::new(),
        })
    }

    /// Appends the next `segment` of new, coded by `covers` (sorted, non-overlapping,
    /// positions relative to the segment and within `old`), with the anchors that fall in
    /// the segment (ascending, absolute new offsets).
    pub fn push_segment(
        &mut self,
        old: &OldWindow<'_>,
        segment: &[u8],
        covers: &[Cover],
        anchors: Vec<Anchor>,
    ) -> io::Result<()> {
        self.w.copies.refill(anchors.into_iter());
        let mut at = 0usize;
        for c in covers {
            self.w.push_literal(&segment[at..c.new_pos])?;
            old.file_pieces(c.old_pos, c.len, &mut self.pieces);
            let (mut n, mut o) = (c.new_pos, c.old_pos);
            for &(file_offset, len) in &self.pieces {
                self.w
                    .push_copy(&segment[n..n + len], &old.data[o..o + len], file_offset)?;
                n += len;
                o += len;
            }
            at = c.new_pos + c.len;
        }
        self.w.push_literal(&segment[at..])
    }

    /// Writes the last chunk and returns the stream.
    pub fn finish(mut self) -> io::Result<RawStream<W>> {
        self.w.flush()?;
        self.w.out.flush()?;
        Ok(RawStream {
            out: self.w.out,
            literals: self.w.literals,
        })
    }
}
