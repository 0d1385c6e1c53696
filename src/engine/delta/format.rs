//! Constants, errors and varint coding shared by the encoder and `apply`.

use std::io;
use std::iter::Peekable;

/// First bytes of every raw delta stream: "RKDL" + format version 4.
pub const MAGIC: [u8; 5] = *b"RKDL\x04";

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

/// Largest number of new bytes one chunk may produce. `apply` buffers one chunk, so this
/// bounds its memory whatever the stream claims.
pub const MAX_CHUNK_NEW: u64 = 16 << 20;

/// New bytes per chunk written by the encoder: small enough to bound `apply` memory, large
/// enough that the three sections of a chunk stay long, homogeneous runs for LZMA2.
pub const ENCODER_CHUNK_NEW: usize = 16 << 20;

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

    /// The old offset a copy record starting at new offset `new_pos` is coded against.
    pub fn base(&mut self, new_pos: u64) -> u64 {
        while let Some(anchor) = self.anchors.next_if(|a| a.new_pos <= new_pos) {
            self.reached = Some(anchor);
        }
        match self.reached.take() {
            Some(a) => a.old_pos.wrapping_add(new_pos.wrapping_sub(a.new_pos)),
            None => self.last_old_end,
        }
    }

    /// Records that the copy just coded ended at old offset `end`.
    pub fn copied(&mut self, end: u64) {
        self.last_old_end = end;
    }
}

/// The header of a chunk: what it produces, its section lengths and its difference op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    /// New bytes the chunk produces.
    pub chunk_new: u64,
    /// Bytes of the control section.
    pub ctrl_len: u64,
    /// Difference bytes the run-length coded section decodes to.
    pub diff_len: u64,
    /// Bytes of the run-length coded difference section.
    pub rle_len: u64,
    /// How the difference bytes combine with old ones.
    pub op: DiffOp,
}

impl ChunkHeader {
    /// Bytes of the literal section, which follows the other two.
    pub fn lit_len(&self) -> u64 {
        self.chunk_new - self.diff_len
    }

    /// Appends the header's five varints.
    pub fn put(&self, out: &mut Vec<u8>) {
        for v in [
            self.chunk_new,
            self.ctrl_len,
            self.diff_len,
            self.rle_len,
            self.op.code(),
        ] {
            put_varint(out, v);
        }
    }

    /// Reads a header, refusing lengths no chunk can have: an empty chunk or one above
    /// [`MAX_CHUNK_NEW`], and sections longer than such a chunk needs, so that a reader
    /// allocates nothing a lying header asks for.
    pub fn read<R: io::Read + ?Sized>(r: &mut R) -> Result<Self, DeltaError> {
        let mut field = || read_varint(r, "chunk header");
        let (chunk_new, ctrl_len, diff_len, rle_len) = (field()?, field()?, field()?, field()?);
        let op = DiffOp::from_code(field()?)?;
        if chunk_new == 0 || chunk_new > MAX_CHUNK_NEW {
            return Err(DeltaError::BadChunk(format!(
                "chunk of {chunk_new} bytes (1 to {MAX_CHUNK_NEW} allowed)"
            )));
        }
        if ctrl_len > max_ctrl_len(chunk_new)
            || diff_len > chunk_new
            || rle_len > max_rle_len(diff_len)
        {
            return Err(DeltaError::BadChunk(format!(
                "sections ({ctrl_len} control, {diff_len} difference in {rle_len}) too long \
                 for a {chunk_new}-byte chunk"
            )));
        }
        Ok(Self {
            chunk_new,
            ctrl_len,
            diff_len,
            rle_len,
            op,
        })
    }
}

/// Largest encoded control record: two chunk-bounded varints (4 bytes) and one 10-byte one.
const MAX_RECORD_BYTES: u64 = 18;

/// Largest control section a chunk producing `chunk_new` bytes can need: every record
/// produces at least one byte.
pub fn max_ctrl_len(chunk_new: u64) -> u64 {
    chunk_new.saturating_mul(MAX_RECORD_BYTES)
}

/// Largest run-length coded difference section for `diff_len` difference bytes: a token
/// of two varints (at most 4 bytes each for chunk-sized values) produces at least one byte,
/// plus the two varints giving the lengths of the gap and run lists.
pub fn max_rle_len(diff_len: u64) -> u64 {
    diff_len.saturating_mul(9).saturating_add(20)
}

/// Appends `diff` run-length coded: `gaps_len runs_len gaps runs raw`, where token `i` is
/// the pair (`gaps[i]` zero bytes, then `runs[i]` bytes of `raw`), both lists varints and
/// `raw` all the nonzero stretches back to back. Long zero runs cost a varint instead of
/// many LZMA2 match symbols, and keeping gap lengths, run lengths and difference bytes in
/// separate lists lets each compress against its own kind (run lengths are nearly constant,
/// gap lengths are not).
pub fn put_rle(out: &mut Vec<u8>, diff: &[u8]) {
    let (mut gaps, mut runs, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    let mut at = 0;
    while at < diff.len() {
        let zeros = diff[at..].iter().take_while(|&&b| b == 0).count();
        let raw_start = at + zeros;
        let raw_len = diff[raw_start..].iter().take_while(|&&b| b != 0).count();
        put_varint(&mut gaps, zeros as u64);
        put_varint(&mut runs, raw_len as u64);
        raw.extend_from_slice(&diff[raw_start..raw_start + raw_len]);
        at = raw_start + raw_len;
    }
    put_varint(out, gaps.len() as u64);
    put_varint(out, runs.len() as u64);
    out.extend_from_slice(&gaps);
    out.extend_from_slice(&runs);
    out.extend_from_slice(&raw);
}

/// Decodes a run-length coded difference section into `out` (cleared first), which must
/// come to exactly `diff_len` bytes.
pub fn decode_rle(rle: &[u8], diff_len: usize, out: &mut Vec<u8>) -> Result<(), DeltaError> {
    out.clear();
    if rle.is_empty() && diff_len == 0 {
        return Ok(());
    }
    let what = "difference section";
    let mut head = Cursor::new(rle, what);
    let gaps_len = head.varint()?;
    let runs_len = head.varint()?;
    let mut gaps = Cursor::new(
        head.take(usize::try_from(gaps_len).unwrap_or(usize::MAX))?,
        what,
    );
    let mut runs = Cursor::new(
        head.take(usize::try_from(runs_len).unwrap_or(usize::MAX))?,
        what,
    );
    let mut raw = Cursor::new(head.rest(), what);
    while !gaps.is_empty() {
        let zeros = gaps.varint()?;
        let raw_len = runs.varint()?;
        let left = (diff_len - out.len()) as u64;
        if zeros + raw_len == 0 || zeros > left || raw_len > left - zeros {
            return Err(DeltaError::BadChunk(format!(
                "difference token of {zeros} zero and {raw_len} raw bytes overruns {left} bytes"
            )));
        }
        out.resize(out.len() + zeros as usize, 0);
        out.extend_from_slice(raw.take(raw_len as usize)?);
    }
    if out.len() != diff_len || !raw.is_empty() || !runs.is_empty() {
        return Err(DeltaError::BadChunk(format!(
            "difference section decodes to {} of {diff_len} bytes or has unused bytes",
            out.len()
        )));
    }
    Ok(())
}

/// Why a raw delta stream could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    /// The stream does not start with [`MAGIC`] (not a delta stream, or another version).
    #[error("not a rockit delta stream (bad magic or unsupported version)")]
    BadMagic,
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
    /// Reading the old data or writing the output failed.
    #[error("i/o error: {0}")]
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

    /// True when every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Decodes one varint.
    pub fn varint(&mut self) -> Result<u64, DeltaError> {
        let (v, used) = decode_varint(&self.data[self.pos..], self.what)?;
        self.pos += used;
        Ok(v)
    }

    /// The bytes not consumed yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos.min(self.data.len())..]
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
