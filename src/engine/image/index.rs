//! The binary index stored as `img.idx` inside `img.idx.7z` (byte layout in docs/FORMAT.md).
//!
//! Encoded lazily through [`IndexStream`] and decoded one entry at a time by [`IndexReader`], so
//! neither side holds the serialized index in memory.

use std::io::{self, Read};

use super::BLOCK_SIZE;
use crate::engine::chunks::{ChunkHash, ChunkTable};
use crate::engine::tar::{EntryKind, normalize};

/// First bytes of the index.
pub const MAGIC: &[u8; 8] = b"RKTIDX\0\0";
/// Version of the image format written by this engine: 2 adds the chunk hashes of `img.dxf`
/// after the entries.
pub const FORMAT_VERSION: u32 = 2;
/// Largest chunk a version-2 index may describe.
const MAX_CHUNK_SIZE: u32 = 16 << 20;
/// Longest path or link target the index may hold.
const MAX_NAME: u32 = 64 * 1024;

/// A run of file blocks and the image blocks that hold them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// First file block (file offset / 4096).
    pub file_block: u64,
    /// Image block of the first file block.
    pub image_block: u64,
    /// Number of file blocks in the run (≥ 1).
    pub count: u64,
    /// False: image blocks advance with file blocks. True: every block of the run is the same
    /// image block (a block repeated inside a file).
    pub repeat: bool,
}

impl Extent {
    /// The image block holding file block `file_block` of this extent.
    pub fn image_block_of(&self, file_block: u64) -> u64 {
        if self.repeat {
            self.image_block
        } else {
            self.image_block + (file_block - self.file_block)
        }
    }
}

/// Appends a file block's placement, merging it into the last extent when it continues it.
/// Blocks must come in increasing file-block order.
pub fn push_block(extents: &mut Vec<Extent>, file_block: u64, image_block: u64) {
    if let Some(last) = extents.last_mut()
        && last.file_block + last.count == file_block
    {
        if !last.repeat && last.image_block + last.count == image_block {
            last.count += 1;
            return;
        }
        if last.image_block == image_block && (last.repeat || last.count == 1) {
            last.repeat = true;
            last.count += 1;
            return;
        }
    }
    extents.push(Extent {
        file_block,
        image_block,
        count: 1,
        repeat: false,
    });
}

/// The index's fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexHeader {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Bytes per block (4096).
    pub block_size: u32,
    /// Blocks in `img.dxf`.
    pub block_count: u64,
    /// Entries that follow.
    pub entry_count: u64,
}

/// One file, directory or link of the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Normalized relative path.
    pub path: String,
    /// Entry kind.
    pub kind: EntryKind,
    /// Permission bits.
    pub mode: u32,
    /// File size in bytes (0 unless regular).
    pub size: u64,
    /// MD5 of the file's bytes (zeros unless regular).
    pub md5: [u8; 16],
    /// Symlink or hard-link target.
    pub link_target: Option<String>,
    /// Where the file's non-zero blocks are; uncovered file blocks are zeros.
    pub extents: Vec<Extent>,
}

fn kind_code(kind: EntryKind) -> u8 {
    match kind {
        EntryKind::Directory => 0,
        EntryKind::Regular => 1,
        EntryKind::Symlink => 2,
        EntryKind::HardLink => 3,
    }
}

/// Bytes of an entry's fixed fields: kind, mode, size, MD5, the two name lengths and the
/// extent count.
const ENTRY_FIXED_LEN: usize = 1 + 4 + 8 + 16 + 4 + 4 + 8;
/// Bytes of one extent: file block, image block, count, repeat flag.
const EXTENT_LEN: usize = 8 + 8 + 8 + 1;

/// Bytes of an entry whose path and link target have these lengths, with `extents`
/// extents, as [`IndexStream`] writes it: lets a writer size its compressor before the
/// extents are known.
pub fn entry_len(path_len: usize, link_len: usize, extents: usize) -> u64 {
    (ENTRY_FIXED_LEN + path_len + link_len + EXTENT_LEN * extents) as u64
}

fn encode_header(h: &IndexHeader, out: &mut Vec<u8>) {
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&h.format_version.to_le_bytes());
    out.extend_from_slice(&h.block_size.to_le_bytes());
    out.extend_from_slice(&h.block_count.to_le_bytes());
    out.extend_from_slice(&h.entry_count.to_le_bytes());
}

fn encode_entry(e: &IndexEntry, out: &mut Vec<u8>) {
    let target = e.link_target.as_deref().unwrap_or("");
    out.push(kind_code(e.kind));
    out.extend_from_slice(&e.mode.to_le_bytes());
    out.extend_from_slice(&e.size.to_le_bytes());
    out.extend_from_slice(&e.md5);
    for name in [e.path.as_str(), target] {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
    }
    out.extend_from_slice(&(e.extents.len() as u64).to_le_bytes());
    for x in &e.extents {
        out.extend_from_slice(&x.file_block.to_le_bytes());
        out.extend_from_slice(&x.image_block.to_le_bytes());
        out.extend_from_slice(&x.count.to_le_bytes());
        out.push(u8::from(x.repeat));
    }
}

/// Bytes of the chunk table after the entries, without its hashes: chunk size and count.
const TRAILER_FIXED_LEN: u64 = 4 + 8;

/// Bytes of the chunk table of an image of `block_count` blocks, as [`IndexStream`] writes
/// it.
pub fn trailer_len(block_count: u64) -> u64 {
    let chunks = ChunkTable::count_for(block_count * BLOCK_SIZE, crate::engine::chunks::CHUNK_SIZE);
    TRAILER_FIXED_LEN + 32 * chunks
}

fn encode_trailer(table: &ChunkTable, out: &mut Vec<u8>) {
    out.extend_from_slice(&(table.chunk_size as u32).to_le_bytes());
    out.extend_from_slice(&table.count().to_le_bytes());
    for hash in &table.hashes {
        out.extend_from_slice(hash);
    }
}

/// Serializes a header, entries and the chunk table on demand as a byte stream.
pub struct IndexStream<I, T> {
    entries: I,
    trailer: Option<T>,
    buf: Vec<u8>,
    pos: usize,
}

impl<I, T> IndexStream<I, T>
where
    I: Iterator<Item = io::Result<IndexEntry>>,
    T: FnOnce() -> io::Result<ChunkTable>,
{
    /// A stream of `header` followed by `entries` (which must number `header.entry_count`),
    /// then the chunk table `trailer` gives once the entries are out (the image's hashes are
    /// known only when it is written); an entry or table that is an error fails the read.
    pub fn new(header: &IndexHeader, entries: I, trailer: T) -> Self {
        let mut buf = Vec::with_capacity(64 * 1024);
        encode_header(header, &mut buf);
        Self {
            entries,
            trailer: Some(trailer),
            buf,
            pos: 0,
        }
    }
}

impl<I, T> Read for IndexStream<I, T>
where
    I: Iterator<Item = io::Result<IndexEntry>>,
    T: FnOnce() -> io::Result<ChunkTable>,
{
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            match self.entries.next() {
                Some(entry) => encode_entry(&entry?, &mut self.buf),
                None => match self.trailer.take() {
                    Some(trailer) => encode_trailer(&trailer()?, &mut self.buf),
                    None => return Ok(0),
                },
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Decodes and checks an index entry by entry. Errors are descriptions of the defect.
pub struct IndexReader<R> {
    input: R,
    header: IndexHeader,
    remaining: u64,
    chunks: Option<ChunkTable>,
}

impl<R: Read> IndexReader<R> {
    /// Reads and checks the header.
    pub fn new(mut input: R) -> Result<Self, String> {
        let mut raw = [0u8; 32];
        input.read_exact(&mut raw).map_err(short)?;
        if &raw[..8] != MAGIC {
            return Err("not a ROCKIT index (bad magic)".into());
        }
        let header = IndexHeader {
            format_version: le32(&raw[8..12]),
            block_size: le32(&raw[12..16]),
            block_count: le64(&raw[16..24]),
            entry_count: le64(&raw[24..32]),
        };
        if let Some(problem) = super::meta::version_problem(header.format_version, FORMAT_VERSION) {
            return Err(problem);
        }
        if u64::from(header.block_size) != BLOCK_SIZE {
            return Err(format!("unsupported block size {}", header.block_size));
        }
        Ok(Self {
            input,
            header,
            remaining: header.entry_count,
            chunks: None,
        })
    }

    /// The chunk hashes of `img.dxf`, once every entry was read; `None` for a version-1
    /// index, which has none.
    pub fn chunks(&self) -> Option<&ChunkTable> {
        self.chunks.as_ref()
    }

    /// Reads the chunk table that ends a version-2 index, checked to describe `img.dxf` of
    /// the header's block count.
    fn read_trailer(&mut self) -> Result<ChunkTable, String> {
        let mut fixed = [0u8; TRAILER_FIXED_LEN as usize];
        self.input.read_exact(&mut fixed).map_err(short)?;
        let chunk_size = le32(&fixed[0..4]);
        let count = le64(&fixed[4..12]);
        let len = self.header.block_count * BLOCK_SIZE;
        if chunk_size == 0
            || chunk_size > MAX_CHUNK_SIZE
            || !u64::from(chunk_size).is_multiple_of(BLOCK_SIZE)
            || count != ChunkTable::count_for(len, u64::from(chunk_size))
        {
            return Err(format!(
                "chunk table of {count} chunks of {chunk_size} bytes does not fit the image"
            ));
        }
        let mut raw = Vec::new();
        let got = (&mut self.input)
            .take(32 * count)
            .read_to_end(&mut raw)
            .map_err(short)?;
        if got as u64 != 32 * count {
            return Err("index cut short in the chunk table".into());
        }
        let hashes = raw
            .chunks_exact(32)
            .map(|h| {
                let mut hash: ChunkHash = [0; 32];
                hash.copy_from_slice(h);
                hash
            })
            .collect();
        Ok(ChunkTable {
            chunk_size: u64::from(chunk_size),
            len,
            hashes,
        })
    }

    /// The index header.
    pub fn header(&self) -> &IndexHeader {
        &self.header
    }

    /// The next entry, checked for a safe path and extents inside the file and the image.
    pub fn next_entry(&mut self) -> Result<Option<IndexEntry>, String> {
        if self.remaining == 0 {
            if self.header.format_version >= 2 && self.chunks.is_none() {
                self.chunks = Some(self.read_trailer()?);
            }
            let mut probe = [0u8; 1];
            return match self.input.read(&mut probe).map_err(short)? {
                0 => Ok(None),
                _ => Err("data after the last entry".into()),
            };
        }
        self.remaining -= 1;
        let mut fixed = [0u8; 29];
        self.input.read_exact(&mut fixed).map_err(short)?;
        let kind = match fixed[0] {
            0 => EntryKind::Directory,
            1 => EntryKind::Regular,
            2 => EntryKind::Symlink,
            3 => EntryKind::HardLink,
            other => return Err(format!("unknown entry kind {other}")),
        };
        let mut md5 = [0u8; 16];
        md5.copy_from_slice(&fixed[13..29]);
        let path = self.read_name()?;
        if normalize(path.as_bytes()).ok().flatten().as_deref() != Some(path.as_str()) {
            return Err(format!("unsafe path '{path}'"));
        }
        let target = self.read_name()?;
        let entry = IndexEntry {
            extents: self.read_extents(&path, kind, le64(&fixed[5..13]))?,
            path,
            kind,
            mode: le32(&fixed[1..5]),
            size: le64(&fixed[5..13]),
            md5,
            link_target: matches!(kind, EntryKind::Symlink | EntryKind::HardLink).then_some(target),
        };
        Ok(Some(entry))
    }

    fn read_name(&mut self) -> Result<String, String> {
        let mut len = [0u8; 4];
        self.input.read_exact(&mut len).map_err(short)?;
        let len = u32::from_le_bytes(len);
        if len > MAX_NAME {
            return Err(format!("name of {len} bytes"));
        }
        let mut raw = vec![0u8; len as usize];
        self.input.read_exact(&mut raw).map_err(short)?;
        String::from_utf8(raw).map_err(|_| "name is not UTF-8".to_string())
    }

    fn read_extents(
        &mut self,
        path: &str,
        kind: EntryKind,
        size: u64,
    ) -> Result<Vec<Extent>, String> {
        let mut count = [0u8; 8];
        self.input.read_exact(&mut count).map_err(short)?;
        let count = u64::from_le_bytes(count);
        let file_blocks = if kind == EntryKind::Regular {
            size.div_ceil(BLOCK_SIZE)
        } else {
            0
        };
        if count > file_blocks {
            return Err(format!(
                "'{path}': {count} extents for {file_blocks} blocks"
            ));
        }
        let mut extents = Vec::with_capacity(count as usize);
        let mut next_free = 0;
        for _ in 0..count {
            let mut raw = [0u8; 25];
            self.input.read_exact(&mut raw).map_err(short)?;
            let x = Extent {
                file_block: le64(&raw[0..8]),
                image_block: le64(&raw[8..16]),
                count: le64(&raw[16..24]),
                repeat: raw[24] == 1,
            };
            let file_end = x.file_block.checked_add(x.count);
            let image_end = x
                .image_block
                .checked_add(if x.repeat { 1 } else { x.count });
            let fits = x.count > 0
                && raw[24] <= 1
                && x.file_block >= next_free
                && file_end.is_some_and(|end| end <= file_blocks)
                && image_end.is_some_and(|end| end <= self.header.block_count);
            if !fits {
                return Err(format!("'{path}': extent {x:?} out of range"));
            }
            next_free = x.file_block + x.count;
            extents.push(x);
        }
        Ok(extents)
    }
}

fn short(e: io::Error) -> String {
    format!("index cut short: {e}")
}

fn le32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    u32::from_le_bytes(a)
}

fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extents_merge_runs_and_repeats() -> Result<(), Box<dyn std::error::Error>> {
        let mut x = Vec::new();
        for (fb, ib) in [(0, 5), (1, 6), (2, 9), (3, 9), (4, 9), (6, 1)] {
            push_block(&mut x, fb, ib);
        }
        assert_eq!(x.len(), 3);
        assert_eq!((x[0].count, x[0].repeat), (2, false));
        assert_eq!(
            (x[1].count, x[1].repeat, x[1].image_block_of(4)),
            (3, true, 9)
        );
        Ok(())
    }

    #[test]
    fn round_trip() -> Result<(), Box<dyn std::error::Error>> {
        let header = IndexHeader {
            format_version: FORMAT_VERSION,
            block_size: 4096,
            block_count: 3,
            entry_count: 2,
        };
        let entries = vec![
            IndexEntry {
                path: "a/b".into(),
                kind: EntryKind::Regular,
                mode: 0o644,
                size: 5000,
                md5: [7; 16],
                link_target: None,
                extents: vec![Extent {
                    file_block: 0,
                    image_block: 1,
                    count: 2,
                    repeat: false,
                }],
            },
            IndexEntry {
                path: "l".into(),
                kind: EntryKind::Symlink,
                mode: 0o777,
                size: 0,
                md5: [0; 16],
                link_target: Some("../x".into()),
                extents: Vec::new(),
            },
        ];
        let table = ChunkTable {
            chunk_size: crate::engine::chunks::CHUNK_SIZE,
            len: 3 * 4096,
            hashes: vec![[9; 32]],
        };
        let mut bytes = Vec::new();
        let trailer = || Ok(table.clone());
        IndexStream::new(&header, entries.clone().into_iter().map(Ok), trailer)
            .read_to_end(&mut bytes)?;
        let entry_bytes: u64 = entries
            .iter()
            .map(|e| {
                let link = e.link_target.as_deref().map_or(0, str::len);
                entry_len(e.path.len(), link, e.extents.len())
            })
            .sum();
        assert_eq!(bytes.len() as u64, 32 + entry_bytes + trailer_len(3));
        let mut reader = IndexReader::new(&bytes[..])?;
        assert_eq!(reader.header(), &header);
        assert_eq!(reader.next_entry()?.as_ref(), Some(&entries[0]));
        assert_eq!(reader.next_entry()?.as_ref(), Some(&entries[1]));
        assert_eq!(reader.chunks(), None);
        assert_eq!(reader.next_entry()?, None);
        assert_eq!(reader.chunks(), Some(&table));
        assert!(IndexReader::new(&bytes[..20]).is_err());
        let cut = &bytes[..bytes.len() - 1];
        let mut reader = IndexReader::new(cut)?;
        while reader.next_entry().is_ok_and(|e| e.is_some()) {}
        assert!(reader.next_entry().is_err());
        Ok(())
    }
}
