//! Rebuilding new from a raw delta stream and random access to old, one chunk at a time.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;

use super::format::{
    Anchor, CopyCursor, DeltaError, DiffOp, OLDEST_VERSION, VERSION, chunk_len, copy_len, read_rle,
    read_varint, split_chunk_code, unzigzag,
};
use super::refs::RefMap;

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

/// A control record with its copy resolved: `lit` literal bytes, then `copy` bytes from
/// old offset `pos` plus difference bytes.
#[derive(Debug, Clone, Copy)]
struct Record {
    lit: u32,
    copy: u32,
    pos: u64,
}

/// Reusable buffers of one chunk.
#[derive(Default)]
struct ChunkBuffers {
    records: Vec<Record>,
    lists: Vec<u8>,
    diff: Vec<u8>,
    lit: Vec<u8>,
    old: OldReads,
    out: Vec<u8>,
}

/// Old bytes between two copies that are read rather than split into two reads: below this
/// a second positioned read costs more than copying the gap.
const MERGE_GAP: u64 = 4 << 10;

/// The old bytes of a chunk's copies, fetched in few large reads instead of one per copy
/// (a stream of short copies has millions): the copies sorted by old offset, neighbours at
/// most [`MERGE_GAP`] apart read as one span. The gaps read are at most the chunk's length,
/// so the staging holds at most twice the chunk.
#[derive(Default)]
struct OldReads {
    /// Indices of the records with copies, by old offset.
    order: Vec<u32>,
    /// Old spans to read, `(start, end)`, back to back in `staging`.
    spans: Vec<(u64, u64)>,
    /// Where each record's copy starts in `staging`.
    at: Vec<usize>,
    staging: Vec<u8>,
}

impl OldReads {
    /// Reads the old bytes of every copy in `records` (a chunk of `chunk_len` new bytes).
    fn fetch<O: OldSource + ?Sized>(
        &mut self,
        records: &[Record],
        old: &O,
        chunk_len: u64,
    ) -> io::Result<()> {
        self.order.clear();
        self.order
            .extend((0..records.len() as u32).filter(|&i| records[i as usize].copy > 0));
        self.order
            .sort_unstable_by_key(|&i| records[i as usize].pos);
        self.spans.clear();
        self.at.clear();
        self.at.resize(records.len(), 0);
        let (mut gap_left, mut span_base, mut staged) = (chunk_len, 0u64, 0u64);
        for &i in &self.order {
            let record = &records[i as usize];
            let (start, end) = (record.pos, record.pos + u64::from(record.copy));
            match self.spans.last_mut() {
                Some(span) if start <= span.1 => span.1 = span.1.max(end),
                Some(span) if start - span.1 <= MERGE_GAP.min(gap_left) => {
                    gap_left -= start - span.1;
                    span.1 = end;
                }
                _ => {
                    span_base = staged;
                    self.spans.push((start, end));
                }
            }
            let span = self.spans[self.spans.len() - 1];
            staged = span_base + (span.1 - span.0);
            self.at[i as usize] = (span_base + (start - span.0)) as usize;
        }
        self.staging.resize(staged as usize, 0);
        let mut at = 0;
        for &(start, end) in &self.spans {
            let len = (end - start) as usize;
            old.read_exact_at(start, &mut self.staging[at..at + len])?;
            at += len;
        }
        Ok(())
    }

    /// The old bytes of record `i`'s copy of `len` bytes.
    fn copy_of(&self, i: usize, len: usize) -> &[u8] {
        &self.staging[self.at[i]..self.at[i] + len]
    }
}

/// Reads the stream's version byte, refusing versions not read here.
pub fn read_version<R: Read + ?Sized>(delta: &mut R) -> Result<u8, DeltaError> {
    let mut version = [0u8; 1];
    delta.read_exact(&mut version).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => DeltaError::Truncated("header"),
        _ => DeltaError::Io(e),
    })?;
    if !(OLDEST_VERSION..=VERSION).contains(&version[0]) {
        return Err(DeltaError::BadVersion(version[0]));
    }
    Ok(version[0])
}

/// Applies the raw delta stream `delta`, which produces `new_len` bytes, to `old`, writing
/// them to `out`; `new_len` and `anchors` (ascending) must be the ones the stream was made
/// with (`patch.json` and `map.7z` give them). Memory stays within a few chunk buffers (at most 16 MiB of new bytes
/// each, and a record per new byte at worst) whatever the sizes involved; anchors are
/// pulled as the output reaches them.
pub fn apply<R, O, W>(
    delta: R,
    new_len: u64,
    old: &O,
    mut out: W,
    anchors: impl IntoIterator<Item = Anchor>,
) -> Result<(), DeltaError>
where
    R: Read,
    O: OldSource + ?Sized,
    W: Write,
{
    let mut delta = BufReader::with_capacity(64 << 10, delta);
    let version = read_version(&mut delta)?;
    let mut written = 0u64;
    let mut copies = CopyCursor::new(anchors.into_iter());
    let mut bufs = ChunkBuffers::default();
    while written < new_len {
        let chunk_new = chunk_len(new_len, written);
        let code = read_varint(&mut delta, "chunk header")?;
        let (op, refs) = split_chunk_code(code, version)?;
        let refs = match refs {
            true => RefMap::read(&mut delta, chunk_new)?,
            false => RefMap::default(),
        };
        let chunk = written..written + chunk_new;
        let diff_len = read_records(
            &mut delta,
            chunk,
            old.size(),
            &mut copies,
            &mut bufs.records,
        )?;
        read_rle(&mut delta, diff_len, &mut bufs.lists, &mut bufs.diff)?;
        read_section(
            &mut delta,
            chunk_new - diff_len,
            &mut bufs.lit,
            "literal section",
        )?;
        run_chunk(&mut bufs, old, op, &refs, written)?;
        out.write_all(&bufs.out)?;
        written += chunk_new;
    }
    let mut probe = [0u8; 1];
    if delta.read(&mut probe)? != 0 {
        return Err(DeltaError::TrailingData);
    }
    out.flush()?;
    Ok(())
}

/// Reads the control records of the chunk producing new offsets `chunk` into `records`,
/// resolving each copy's length and old offset, and returns the chunk's difference bytes
/// (the sum of its copies). The records end where they have produced the whole chunk.
fn read_records<R: Read, I: Iterator<Item = Anchor>>(
    r: &mut R,
    chunk: Range<u64>,
    old_size: u64,
    copies: &mut CopyCursor<I>,
    records: &mut Vec<Record>,
) -> Result<u64, DeltaError> {
    let what = "control section";
    records.clear();
    let (mut at, mut diff_len) = (chunk.start, 0u64);
    while at < chunk.end {
        let lit = read_varint(r, what)?;
        let code = read_varint(r, what)?;
        let left = chunk.end - at;
        if lit > left {
            return Err(DeltaError::BadRecord(format!(
                "record of {lit} literal bytes overruns its chunk"
            )));
        }
        at += lit;
        let (copy, pos) = if code == 0 {
            if lit == 0 {
                return Err(DeltaError::BadRecord("empty record".into()));
            }
            (0, 0)
        } else {
            let (base, span) = copies.start_copy(at, chunk.end);
            let copy = copy_len(code, span);
            if copy == 0 {
                return Err(DeltaError::BadRecord(
                    "copy of 0 bytes (copy code 1 at the chunk's end)".into(),
                ));
            }
            if copy > chunk.end - at {
                return Err(DeltaError::BadRecord(format!(
                    "record copying {copy} bytes overruns its chunk"
                )));
            }
            // Offsets are coded modulo 2^64 (an anchor may predict any value); only the
            // copy's place in old matters.
            let pos = base.wrapping_add(unzigzag(read_varint(r, what)?) as u64);
            if pos.checked_add(copy).is_none_or(|end| end > old_size) {
                return Err(DeltaError::OldOutOfRange {
                    pos,
                    len: copy,
                    old_len: old_size,
                });
            }
            copies.copied(pos + copy);
            (copy, pos)
        };
        at += copy;
        diff_len += copy;
        records.push(Record {
            lit: lit as u32,
            copy: copy as u32,
            pos,
        });
    }
    Ok(diff_len)
}

/// Executes the records of the chunk starting at new offset `chunk_start` into `bufs.out`
/// (its sections were read to fit them exactly), each copy's old bytes first predicted by
/// the chunk's reference map.
fn run_chunk<O: OldSource + ?Sized>(
    bufs: &mut ChunkBuffers,
    old: &O,
    op: DiffOp,
    refs: &RefMap,
    chunk_start: u64,
) -> Result<(), DeltaError> {
    let chunk_len = (bufs.lit.len() + bufs.diff.len()) as u64;
    bufs.old.fetch(&bufs.records, old, chunk_len)?;
    let (mut lit, mut diff) = (&bufs.lit[..], &bufs.diff[..]);
    let out = &mut bufs.out;
    out.clear();
    for (i, record) in bufs.records.iter().enumerate() {
        let (lit_len, copy_len) = (record.lit as usize, record.copy as usize);
        out.extend_from_slice(&lit[..lit_len]);
        lit = &lit[lit_len..];
        if copy_len > 0 {
            let start = out.len();
            out.extend_from_slice(bufs.old.copy_of(i, copy_len));
            if !refs.is_empty() {
                refs.predict_copy(&mut out[start..], record.pos, chunk_start + start as u64);
            }
            op.apply(&mut out[start..], &diff[..copy_len]);
            diff = &diff[copy_len..];
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Old bytes that name their own offset, so a misplaced read shows.
    fn old_bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn copy(pos: u64, copy: u32) -> Record {
        Record { lit: 0, copy, pos }
    }

    #[test]
    fn merged_reads_give_every_copy_its_own_bytes() -> io::Result<()> {
        let old = old_bytes(64 << 10);
        let records = [
            copy(30_000, 100),
            Record {
                lit: 5,
                copy: 0,
                pos: 0,
            },
            copy(10, 20),
            copy(20, 40),    // overlaps the one before
            copy(1_000, 8),  // within MERGE_GAP: same span
            copy(60_000, 1), // far: a span of its own
            copy(10, 20),    // the same bytes twice
        ];
        let mut reads = OldReads::default();
        reads.fetch(&records, &old[..], 1 << 20)?;
        assert_eq!(
            reads.spans,
            [(10, 1_008), (30_000, 30_100), (60_000, 60_001)]
        );
        for (i, r) in records.iter().enumerate().filter(|(_, r)| r.copy > 0) {
            let want = &old[r.pos as usize..r.pos as usize + r.copy as usize];
            assert_eq!(reads.copy_of(i, r.copy as usize), want, "record {i}");
        }
        Ok(())
    }

    #[test]
    fn gaps_read_stay_within_the_chunk_length() -> io::Result<()> {
        let old = old_bytes(1 << 20);
        // 100 one-byte copies 1 KiB apart: merging them all would read 99 KiB of gaps.
        let records: Vec<Record> = (0..100).map(|i| copy(i * 1024, 1)).collect();
        let mut reads = OldReads::default();
        reads.fetch(&records, &old[..], 10 * 1024)?;
        assert!(
            reads.staging.len() <= 100 + 10 * 1024,
            "{}",
            reads.staging.len()
        );
        assert!(reads.spans.len() > 1);
        for (i, r) in records.iter().enumerate() {
            assert_eq!(reads.copy_of(i, 1), [old[r.pos as usize]]);
        }
        Ok(())
    }
}
