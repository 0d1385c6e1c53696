//! Rebuilding new from a raw delta stream and random access to old, one chunk at a time.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;

use super::format::{
    Anchor, ChunkHeader, CopyCursor, Cursor, DeltaError, MAGIC, decode_rle, read_varint, unzigzag,
};

/// Random access to the old data a delta stream copies from.
pub trait OldSource {
    /// Total size of the old data in bytes.
    fn size(&self) -> u64;
    /// Fills `buf` with the old bytes starting at `pos`; the caller guarantees the range
    /// lies within [`OldSource::size`].
    fn read_exact_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<()>;
}

impl OldSource for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_exact_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(pos).map_err(|_| io::ErrorKind::InvalidInput)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// An old file read with positioned reads (no seeking, so it can be shared).
#[derive(Debug)]
pub struct FileSource {
    file: File,
    size: u64,
}

impl FileSource {
    /// Wraps `file`, taking its current size as the old data's size.
    pub fn new(file: File) -> io::Result<Self> {
        let size = file.metadata()?.len();
        Ok(Self { file, size })
    }
}

impl OldSource for FileSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<()> {
        FileExt::read_exact_at(&self.file, buf, pos)
    }
}

/// Reads exactly `len` bytes into `buf` (cleared first). The buffer grows only as bytes
/// actually arrive, so a lying length cannot make it allocate more than the stream holds.
fn read_section<R: Read>(
    r: &mut R,
    len: u64,
    buf: &mut Vec<u8>,
    what: &'static str,
) -> Result<(), DeltaError> {
    buf.clear();
    let got = r.by_ref().take(len).read_to_end(buf)?;
    if got as u64 != len {
        return Err(DeltaError::Truncated(what));
    }
    Ok(())
}

/// Reusable buffers of one chunk.
#[derive(Default)]
struct ChunkBuffers {
    ctrl: Vec<u8>,
    rle: Vec<u8>,
    diff: Vec<u8>,
    lit: Vec<u8>,
    out: Vec<u8>,
}

/// Reads the stream's magic and returns the number of bytes it produces.
pub fn read_header<R: Read + ?Sized>(delta: &mut R) -> Result<u64, DeltaError> {
    let mut magic = [0u8; MAGIC.len()];
    delta.read_exact(&mut magic).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => DeltaError::Truncated("header"),
        _ => DeltaError::Io(e),
    })?;
    if magic != MAGIC {
        return Err(DeltaError::BadMagic);
    }
    read_varint(delta, "header")
}

/// Applies the raw delta stream `delta` to `old`, writing the rebuilt new data to `out`;
/// `anchors` (ascending) must be the ones the stream was made with. Returns the number of
/// bytes written. Memory stays within a few chunk buffers (at most [`MAX_CHUNK_NEW`] new
/// bytes each) whatever the sizes involved; anchors are pulled as the output reaches them.
pub fn apply<R, O, W>(
    delta: R,
    old: &O,
    mut out: W,
    anchors: impl IntoIterator<Item = Anchor>,
) -> Result<u64, DeltaError>
where
    R: Read,
    O: OldSource + ?Sized,
    W: Write,
{
    let mut delta = delta;
    let new_len = read_header(&mut delta)?;
    let mut written = 0u64;
    let mut copies = CopyCursor::new(anchors.into_iter());
    let mut bufs = ChunkBuffers::default();
    while written < new_len {
        let head = ChunkHeader::read(&mut delta)?;
        if head.chunk_new > new_len - written {
            return Err(DeltaError::BadChunk(format!(
                "chunk of {} bytes with {} bytes left to produce",
                head.chunk_new,
                new_len - written
            )));
        }
        read_section(&mut delta, head.ctrl_len, &mut bufs.ctrl, "control section")?;
        read_section(
            &mut delta,
            head.rle_len,
            &mut bufs.rle,
            "difference section",
        )?;
        decode_rle(&bufs.rle, head.diff_len as usize, &mut bufs.diff)?;
        read_section(&mut delta, head.lit_len(), &mut bufs.lit, "literal section")?;
        run_chunk(&mut bufs, old, written, &head, &mut copies)?;
        out.write_all(&bufs.out)?;
        written += head.chunk_new;
    }
    let mut probe = [0u8; 1];
    if delta.read(&mut probe)? != 0 {
        return Err(DeltaError::TrailingData);
    }
    out.flush()?;
    Ok(written)
}

/// Executes the control records of the chunk `head` starting at new offset `chunk_start`
/// into `bufs.out`.
fn run_chunk<O: OldSource + ?Sized, I: Iterator<Item = Anchor>>(
    bufs: &mut ChunkBuffers,
    old: &O,
    chunk_start: u64,
    head: &ChunkHeader,
    copies: &mut CopyCursor<I>,
) -> Result<(), DeltaError> {
    let chunk_new = head.chunk_new;
    let mut ctrl = Cursor::new(&bufs.ctrl, "control section");
    let mut diff = Cursor::new(&bufs.diff, "difference section");
    let mut lit = Cursor::new(&bufs.lit, "literal section");
    let out = &mut bufs.out;
    out.clear();
    while !ctrl.is_empty() {
        let lit_len = ctrl.varint()?;
        let copy_len = ctrl.varint()?;
        let left = chunk_new - out.len() as u64;
        if lit_len == 0 && copy_len == 0 {
            return Err(DeltaError::BadRecord("empty record".into()));
        }
        if lit_len > left || copy_len > left - lit_len {
            return Err(DeltaError::BadRecord(format!(
                "record of {lit_len} literal + {copy_len} copied bytes overruns its chunk"
            )));
        }
        let lit_bytes = lit
            .take(lit_len as usize)
            .map_err(|_| DeltaError::BadRecord("literal section exhausted".into()))?;
        out.extend_from_slice(lit_bytes);
        if copy_len == 0 {
            continue;
        }
        let delta = unzigzag(ctrl.varint()?);
        let base = copies.base(chunk_start + out.len() as u64);
        // Offsets are coded modulo 2^64 (an anchor may predict any value); only the copy's
        // place in old matters.
        let pos = base.wrapping_add(delta as u64);
        let in_range = pos
            .checked_add(copy_len)
            .is_some_and(|end| end <= old.size());
        if !in_range {
            return Err(DeltaError::OldOutOfRange {
                pos,
                len: copy_len,
                old_len: old.size(),
            });
        }
        let diff_bytes = diff
            .take(copy_len as usize)
            .map_err(|_| DeltaError::BadRecord("difference section exhausted".into()))?;
        let start = out.len();
        out.resize(start + copy_len as usize, 0);
        old.read_exact_at(pos, &mut out[start..])?;
        head.op.apply(&mut out[start..], diff_bytes);
        copies.copied(pos + copy_len);
    }
    if out.len() as u64 != chunk_new || !diff.is_empty() || !lit.is_empty() {
        return Err(DeltaError::BadRecord(format!(
            "chunk records produce {} of {chunk_new} bytes or leave section bytes unused",
            out.len()
        )));
    }
    Ok(())
}
