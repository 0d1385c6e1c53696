//! Constants, errors and varint coding shared by the encoder and `apply`.

use std::io;
use std::iter::Peekable;

/// First byte of every raw delta stream: its format version. The stream travels inside
/// `patch.7z`, whose name and `patch.json` already say what it is, so no magic precedes it.
/// Version 6 added reference maps (chunk code bit [`REFS_FLAG`]).
pub const VERSION: u8 = 6;

/// The oldest stream version still read: version 5, the same without reference maps.
pub const OLDEST_VERSION: u8 = 5;

/// Chunk-code bit (version 6 on) saying a reference map follows the code.
const REFS_FLAG: u64 = 2;

/// A chunk's first varint: its difference op, plus [`REFS_FLAG`] when a reference map
/// follows.
pub fn chunk_code(op: DiffOp, refs: bool) -> u64 {
    op.code() | if refs { REFS_FLAG } else { 0 }
}

/// Splits a chunk code read from a stream of `version` into its op and whether a reference
/// map follows.
pub fn split_chunk_code(code: u64, version: u8) -> Result<(DiffOp, bool), DeltaError> {
    let refs = version >= 6 && code & REFS_FLAG != 0;
    let op = DiffOp::from_code(if refs { code & !REFS_FLAG } else { code })?;
    Ok((op, refs))
}

/// How a chunk's difference bytes combine with the old bytes they are copied onto. Code
/// moved by a constant shifts addresses arithmetically (`Add`); flags toggled and bits
/// flipped in data differ bitwise (`Xor`). Both leave a zero wherever old and new agree, so
/// the choice changes only the nonzero difference bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffOp {
    /// `new = old + diff (mod 256)`.
    Add,
    /// `new = old XOR diff`.
    Xor,
}

impl DiffOp {
    /// The op's code in a chunk header.
    pub fn code(self) -> u64 {
        match self {
            DiffOp::Add => 0,
            DiffOp::Xor => 1,
        }
    }

    /// The op a chunk header's code names.
    pub fn from_code(code: u64) -> Result<Self, DeltaError> {
        match code {
            0 => Ok(DiffOp::Add),
            1 => Ok(DiffOp::Xor),
            other => Err(DeltaError::BadChunk(format!(
                "unknown difference op {other}"
            ))),
        }
    }

    /// Turns `old` bytes into new ones, in place, with the difference bytes `diff`.
    pub fn apply(self, old: &mut [u8], diff: &[u8]) {
        match self {
            DiffOp::Add => old
                .iter_mut()
                .zip(diff)
                .for_each(|(o, d)| *o = o.wrapping_add(*d)),
            DiffOp::Xor => old.iter_mut().zip(diff).for_each(|(o, d)| *o ^= *d),
        }
    }

    /// The op whose nonzero difference bytes have the lower order-0 entropy, given the
    /// counts of each byte value under `Add` and under `Xor` (ties go to `Add`). Both have
    /// the same number of nonzero bytes, so the lower entropy is the larger `Σ c·log2 c`.
    pub fn cheaper(add_counts: &[u64; 256], xor_counts: &[u64; 256]) -> Self {
        let concentration = |counts: &[u64; 256]| -> f64 {
            counts[1..]
                .iter()
                .map(|&c| c as f64 * (c.max(1) as f64).log2())
                .sum()
        };
        if concentration(xor_counts) > concentration(add_counts) {
            DiffOp::Xor
        } else {
            DiffOp::Add
        }
    }
}

/// New bytes of every chunk but the last, which holds the rest: small enough to bound
/// `apply` memory (it buffers one chunk), large enough that the three sections of a chunk
/// stay long, homogeneous runs for LZMA2. Fixed, so chunk sizes need no coding.
pub const CHUNK_NEW: u64 = 16 << 20;

/// New bytes of the chunk starting at new offset `produced` of a stream of `new_len`.
pub fn chunk_len(new_len: u64, produced: u64) -> u64 {
    (new_len - produced).min(CHUNK_NEW)
}

/// A record's copy length as coded: 0 for no copy, 1 for a copy of exactly `span` bytes
/// (up to the next anchor or the end of the chunk: a whole `patch.data` run predicted by
/// the map, which then costs no length), `len + 1` otherwise.
pub fn copy_code(len: u64, span: u64) -> u64 {
    match len {
        0 => 0,
        l if l == span => 1,
        l => l + 1,
    }
}

/// Inverse of [`copy_code`].
pub fn copy_len(code: u64, span: u64) -> u64 {
    match code {
        0 => 0,
        1 => span,
        c => c - 1,
    }
}

/// A prediction, known to encoder and decoder alike before the stream is read, of where in
/// old the new bytes from `new_pos` on come from. `patch.7z` takes one from the block map at
/// the start of every run of `patch.data` blocks: the old block the map's previous runs would
/// have continued with, which is where a file changed in place used to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// Offset in new where the prediction starts.
    pub new_pos: u64,
    /// Old offset predicted for `new_pos`.
    pub old_pos: u64,
}

/// What a copy record's old offset is coded against: the end of the previous copy, unless
/// an anchor was reached since that copy (its `new_pos` at or before the record's start), in
/// which case the last such anchor's prediction for the record's start. Encoder and decoder
/// drive it identically, pulling anchors from `I` as the coding reaches them.
#[derive(Debug)]
pub struct CopyCursor<I: Iterator<Item = Anchor>> {
    last_old_end: u64,
    reached: Option<Anchor>,
    anchors: Peekable<I>,
}

impl<I: Iterator<Item = Anchor>> CopyCursor<I> {
    /// A cursor at the start of new, with its anchors in ascending `new_pos` order.
    pub fn new(anchors: I) -> Self {
        Self {
            last_old_end: 0,
            reached: None,
            anchors: anchors.peekable(),
        }
    }

    /// Reaches every anchor left and takes `anchors` as the next ones: for a coder that
    /// learns its anchors piece by piece, each piece ending before the next one's anchors.
    pub fn refill(&mut self, anchors: I) {
        for anchor in self.anchors.by_ref() {
            self.reached = Some(anchor);
        }
        self.anchors = anchors.peekable();
    }

    /// For a copy record starting at new offset `new_pos` in a chunk ending at `chunk_end`:
    /// the old offset it is coded against, and its *span*, the bytes up to the next anchor
    /// or the chunk's end, whichever comes first.
    pub fn start_copy(&mut self, new_pos: u64, chunk_end: u64) -> (u64, u64) {
        while let Some(anchor) = self.anchors.next_if(|a| a.new_pos <= new_pos) {
            self.reached = Some(anchor);
        }
        let base = match self.reached.take() {
            Some(a) => a.old_pos.wrapping_add(new_pos.wrapping_sub(a.new_pos)),
            None => self.last_old_end,
        };
        let end = self
            .anchors
            .peek()
            .map_or(chunk_end, |a| a.new_pos.min(chunk_end));
        (base, end.saturating_sub(new_pos))
    }

    /// Records that the copy just coded ended at old offset `end`.
    pub fn copied(&mut self, end: u64) {
        self.last_old_end = end;
    }
}

/// Appends `diff` run-length coded: `count gaps runs raw`, where token `i` of `count` is
/// the pair (`gaps[i]` zero bytes, then `runs[i]` bytes of `raw`), both lists varints and
/// `raw` all the nonzero stretches back to back. Long zero runs cost a varint instead of
/// many LZMA2 match symbols, and keeping gap lengths, run lengths and difference bytes in
/// separate lists lets each compress against its own kind (run lengths are nearly constant,
/// gap lengths are not).
pub fn put_rle(out: &mut Vec<u8>, diff: &[u8]) {
    let (mut gaps, mut runs, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    let (mut at, mut count) = (0, 0);
    while at < diff.len() {
        count += 1;
        let zeros = diff[at..].iter().take_while(|&&b| b == 0).count();
        let raw_start = at + zeros;
        let raw_len = diff[raw_start..].iter().take_while(|&&b| b != 0).count();
        put_varint(&mut gaps, zeros as u64);
        put_varint(&mut runs, raw_len as u64);
        raw.extend_from_slice(&diff[raw_start..raw_start + raw_len]);
        at = raw_start + raw_len;
    }
    put_varint(out, count);
    out.extend_from_slice(&gaps);
    out.extend_from_slice(&runs);
    out.extend_from_slice(&raw);
}

/// Reads the run-length coded difference section of a chunk whose copies take `diff_len`
/// difference bytes from `r`, decoding it into `out` (cleared first); `lists` is scratch
/// for its token lists. The section delimits itself: its token count, the two lists of that
/// many varints, then as many raw bytes as the run lengths add up to. A reader therefore
/// takes in no more than the tokens can use: they may not cover more than `diff_len` bytes.
pub fn read_rle<R: io::Read + ?Sized>(
    r: &mut R,
    diff_len: u64,
    lists: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), DeltaError> {
    out.clear();
    lists.clear();
    if diff_len == 0 {
        return Ok(());
    }
    let what = "difference section";
    let count = read_varint(r, what)?;
    if count == 0 || count > diff_len {
        return Err(DeltaError::BadChunk(format!(
            "{count} difference tokens for {diff_len} difference bytes"
        )));
    }
    let (mut covered, mut raw_len) = (0u64, 0u64);
    for i in 0..2 * count {
        let v = read_varint(r, what)?;
        covered = covered.saturating_add(v);
        if i >= count {
            raw_len += v;
        }
        if covered > diff_len {
            return Err(DeltaError::BadChunk(format!(
                "difference tokens cover more than the chunk's {diff_len} difference bytes"
            )));
        }
        put_varint(lists, v);
    }
    let raw_start = lists.len();
    if io::Read::read_to_end(&mut io::Read::take(&mut *r, raw_len), lists)? as u64 != raw_len {
        return Err(DeltaError::Truncated(what));
    }
    let (codes, raw) = lists.split_at(raw_start);
    let (mut gaps, mut runs) = (Cursor::new(codes, what), Cursor::new(codes, what));
    for _ in 0..count {
        runs.varint()?;
    }
    let mut raw = Cursor::new(raw, what);
    for _ in 0..count {
        let (zeros, run) = (gaps.varint()?, runs.varint()?);
        if zeros + run == 0 {
            return Err(DeltaError::BadChunk("empty difference token".into()));
        }
        out.resize(out.len() + zeros as usize, 0);
        out.extend_from_slice(raw.take(run as usize)?);
    }
    if covered != diff_len {
        return Err(DeltaError::BadChunk(format!(
            "difference section decodes to {covered} of {diff_len} bytes"
        )));
    }
    Ok(())
}

/// Why a raw delta stream could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    /// The stream does not start with a version read here (not a delta stream, or another
    /// version).
    #[error(
        "not a rockit delta stream of version {OLDEST_VERSION} to {VERSION} (first byte {0:#04x})"
    )]
    BadVersion(u8),
    /// The stream ended before the field or section named.
    #[error("delta stream truncated while reading {0}")]
    Truncated(&'static str),
    /// A varint is longer than 10 bytes or overflows 64 bits.
    #[error("malformed varint in {0}")]
    BadVarint(&'static str),
    /// A chunk header announces impossible lengths.
    #[error("corrupt chunk header: {0}")]
    BadChunk(String),
    /// A control record is inconsistent with its chunk.
    #[error("corrupt control record: {0}")]
    BadRecord(String),
    /// A copy refers to bytes outside the old data.
    #[error("copy of {len} bytes at old offset {pos} is outside the old data ({old_len} bytes)")]
    OldOutOfRange {
        /// Absolute old offset the copy starts at.
        pos: u64,
        /// Copy length.
        len: u64,
        /// Size of the old data.
        old_len: u64,
    },
    /// Bytes follow the last chunk.
    #[error("trailing bytes after the end of the delta stream")]
    TrailingData,
    /// Reading the stream or the old data, or writing the output, failed (the error says
    /// which; the caller names the file).
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Maps a signed value to unsigned so that small magnitudes stay small (zigzag).
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A cursor over an in-memory section that decodes varints with precise errors.
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor over `data`; `what` names the section in errors.
    pub fn new(data: &'a [u8], what: &'static str) -> Self {
        Self { data, pos: 0, what }
    }

    /// Decodes one varint.
    pub fn varint(&mut self) -> Result<u64, DeltaError> {
        let (v, used) = decode_varint(&self.data[self.pos..], self.what)?;
        self.pos += used;
        Ok(v)
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DeltaError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(DeltaError::Truncated(self.what))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
}

/// Decodes a varint from the start of `data`, returning it and the bytes used.
pub fn decode_varint(data: &[u8], what: &'static str) -> Result<(u64, usize), DeltaError> {
    let mut v = 0u64;
    for (i, &b) in data.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && b > 1 {
            return Err(DeltaError::BadVarint(what));
        }
        v |= part << (7 * i);
        if b & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    if data.len() < 10 {
        Err(DeltaError::Truncated(what))
    } else {
        Err(DeltaError::BadVarint(what))
    }
}

/// Reads one varint from a byte stream.
pub fn read_varint<R: io::Read + ?Sized>(r: &mut R, what: &'static str) -> Result<u64, DeltaError> {
    let mut v = 0u64;
    for i in 0..10 {
        let mut b = [0u8; 1];
        if let Err(e) = r.read_exact(&mut b) {
            return Err(match e.kind() {
                io::ErrorKind::UnexpectedEof => DeltaError::Truncated(what),
                _ => DeltaError::Io(e),
            });
        }
        let b = b[0];
        if i == 9 && b > 1 {
            return Err(DeltaError::BadVarint(what));
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(DeltaError::BadVarint(what))
}
