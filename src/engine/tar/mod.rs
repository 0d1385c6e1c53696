//! A streaming tar reader that lists entries and where their bytes are, without reading data.
//!
//! Handles ustar, pax extended headers (path, linkpath, size, GNU sparse 0.0/0.1/1.0), GNU long
//! names and links (`L`/`K`) and GNU old sparse (`S`) entries. Device files, FIFOs and unknown
//! entry types are skipped with a [`Warning`]. Data is skipped by seeking, so listing a 50 GB tar
//! reads only its headers.

mod compressed;
mod detect;
mod header;
mod pack;
mod path;
mod pax;
mod sparse;

use std::io::{BufReader, Read, Seek, SeekFrom};

pub use compressed::decompress;
pub use detect::detect;
pub use pack::{TarPlan, TarStream};
pub use path::{ancestors, normalize};
pub use sparse::Segment;

use crate::engine::error::{DetectedType, EngineError, Result};
use header::{BLOCK, Header, cstr, padded};
use pax::PaxAttrs;

/// Largest pax header, long name or sparse map the reader accepts (they are held in memory).
const MAX_META: u64 = 1 << 20;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    /// A directory.
    Directory,
    /// A regular file (possibly sparse).
    Regular,
    /// A symbolic link; its target is kept verbatim.
    Symlink,
    /// A hard link to a regular file of the same archive.
    HardLink,
}

/// One entry of the archive, with its data located but not read.
#[derive(Debug, Clone)]
pub struct TarEntry {
    /// Normalized relative path (`a/b/c`).
    pub path: String,
    /// Entry kind.
    pub kind: EntryKind,
    /// Permission bits (`0o7777` mask).
    pub mode: u32,
    /// Size of the expanded file (0 for non-regular entries).
    pub size: u64,
    /// Symlink target (verbatim) or hard-link target (normalized path).
    pub link_target: Option<String>,
    /// Where the file's bytes are in the archive; gaps are holes.
    pub segments: Box<[Segment]>,
}

/// Something in the input that was skipped rather than refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// The entry concerned.
    pub filename: String,
    /// What was done and why.
    pub reason: String,
}

/// Names and links collected from `L`/`K`/`x` headers for the entry that follows them.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: PaxAttrs,
}

/// Reads the entries of a seekable tar one by one.
pub struct TarReader<R: Read + Seek> {
    input: BufReader<R>,
    name: String,
    len: u64,
    cursor: u64,
    next_header: u64,
    last_entry: String,
    warnings: Vec<Warning>,
}

impl<R: Read + Seek> TarReader<R> {
    /// Opens `input` (named `name` in errors); refuses anything that is not a tar with
    /// [`EngineError::FileReadFailed`].
    pub fn new(mut input: R, name: &str) -> Result<Self> {
        let io = |source| EngineError::Io {
            filename: name.to_string(),
            source,
        };
        let len = input.seek(SeekFrom::End(0)).map_err(io)?;
        input.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut head = Vec::with_capacity(BLOCK as usize);
        (&mut input)
            .take(BLOCK)
            .read_to_end(&mut head)
            .map_err(io)?;
        let detected = detect(&head);
        if detected != DetectedType::Tar {
            return Err(EngineError::FileReadFailed {
                filename: name.to_string(),
                type_expected: "tar",
                type_detected: detected,
            });
        }
        input.seek(SeekFrom::Start(0)).map_err(io)?;
        Ok(Self {
            input: BufReader::with_capacity(64 * 1024, input),
            name: name.to_string(),
            len,
            cursor: 0,
            next_header: 0,
            last_entry: "start of archive".to_string(),
            warnings: Vec::new(),
        })
    }

    /// The warnings collected so far.
    pub fn into_warnings(self) -> Vec<Warning> {
        self.warnings
    }

    /// The next file, directory or link; `None` at the end-of-archive marker.
    pub fn next_entry(&mut self) -> Result<Option<TarEntry>> {
        let mut pending = Pending::default();
        loop {
            let offset = self.next_header;
            let Some(header) = self.read_header(offset)? else {
                return Ok(None);
            };
            let header_size = header
                .size()
                .ok_or_else(|| self.malformed(offset, "bad size field"))?;
            let data_start = offset + BLOCK;
            self.next_header = data_start + padded(header_size);
            if self.absorb_meta(&header, offset, header_size, &mut pending)? {
                continue;
            }
            let size = pending.pax.size.unwrap_or(header_size);
            self.next_header = data_start + padded(size);
            let raw_name = pending
                .pax
                .sparse_name
                .take()
                .or(pending.pax.path.take())
                .or(pending.long_name.take())
                .unwrap_or_else(|| header.name());
            let display = String::from_utf8_lossy(&raw_name).into_owned();
            self.check_within(offset, &display, data_start, size)?;
            let Some(kind) = self.kind_of(&header, &display) else {
                pending = Pending::default();
                continue;
            };
            let unsafe_path = |reason: &str| EngineError::UnsafePath {
                filename: display.clone(),
                reason: reason.to_string(),
            };
            let path = match path::normalize(&raw_name).map_err(unsafe_path)? {
                Some(path) => path,
                None if kind == EntryKind::Directory => {
                    pending = Pending::default();
                    continue;
                }
                None => return Err(unsafe_path("empty name")),
            };
            let mode = header
                .mode()
                .ok_or_else(|| self.malformed(offset, "bad mode field"))?;
            let raw_link = pending
                .pax
                .linkpath
                .take()
                .or(pending.long_link.take())
                .unwrap_or_else(|| header.linkname());
            let link_target = link_target(kind, raw_link).map_err(|r| unsafe_path(&r))?;
            let (size, segments) = if kind == EntryKind::Regular {
                self.locate_data(&header, &pending.pax, offset, &display, size)?
            } else {
                (0, Vec::new())
            };
            self.last_entry = path.clone();
            return Ok(Some(TarEntry {
                path,
                kind,
                mode,
                size,
                link_target,
                segments: segments.into_boxed_slice(),
            }));
        }
    }

    /// Takes in a metadata header (pax `x`/`g`, GNU long name `L` or link `K`) for the entry
    /// that follows; returns false for headers of real entries.
    fn absorb_meta(
        &mut self,
        header: &Header,
        offset: u64,
        size: u64,
        pending: &mut Pending,
    ) -> Result<bool> {
        match header.typeflag() {
            b'x' => {
                let data = self.read_meta(offset, size)?;
                pax::parse_records(&data, &mut pending.pax)
                    .map_err(|reason| self.malformed(offset, &reason))?;
            }
            b'g' => {
                self.read_meta(offset, size)?;
            }
            b'L' => pending.long_name = Some(cstr(&self.read_meta(offset, size)?).to_vec()),
            b'K' => pending.long_link = Some(cstr(&self.read_meta(offset, size)?).to_vec()),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Maps a type flag to a kept kind, or records a warning and returns `None`.
    fn kind_of(&mut self, header: &Header, display: &str) -> Option<EntryKind> {
        let reason = match header.typeflag() {
            b'0' | b'\0' | b'7' | b'S' => return Some(EntryKind::Regular),
            b'1' => return Some(EntryKind::HardLink),
            b'2' => return Some(EntryKind::Symlink),
            b'5' | b'D' => return Some(EntryKind::Directory),
            b'3' | b'4' => "device file skipped".to_string(),
            b'6' => "FIFO skipped".to_string(),
            other => format!("unsupported entry type '{}' skipped", other.escape_ascii()),
        };
        self.warnings.push(Warning {
            filename: display.to_string(),
            reason,
        });
        None
    }

    /// Finds a regular file's data: one segment, or the segments of a GNU sparse map.
    /// Returns the expanded size and the segments.
    fn locate_data(
        &mut self,
        header: &Header,
        pax: &PaxAttrs,
        offset: u64,
        display: &str,
        size: u64,
    ) -> Result<(u64, Vec<Segment>)> {
        let data_start = offset + BLOCK;
        let name = self.name.clone();
        let bad_map = |reason: &str| malformed(&name, offset, &format!("{display}: {reason}"));
        if header.typeflag() == b'S' {
            let real = header
                .gnu_real_size()
                .ok_or_else(|| bad_map("bad realsize"))?;
            let (slots, mut extended) = header.gnu_sparse_slots();
            let mut pairs = Vec::new();
            sparse::parse_gnu_slots(slots, &mut pairs).map_err(bad_map)?;
            let mut at = data_start;
            while extended {
                let block = self.read_exact_at(at, BLOCK, offset, display)?;
                sparse::parse_gnu_slots(&block[..504], &mut pairs).map_err(bad_map)?;
                extended = block[504] != 0;
                at += BLOCK;
            }
            self.check_within(offset, display, at, size)?;
            self.next_header = at + padded(size);
            let segments = sparse::segments(&pairs, real, at, size).map_err(bad_map)?;
            return Ok((real, segments));
        }
        if !pax.is_sparse() {
            let segment = Segment {
                offset: 0,
                len: size,
                archive_offset: data_start,
            };
            return Ok((size, if size > 0 { vec![segment] } else { Vec::new() }));
        }
        let real = pax
            .sparse_real_size
            .ok_or_else(|| bad_map("sparse file without a real size"))?;
        if !pax.is_sparse_1_0() {
            let segments = sparse::segments(&pax.sparse_map, real, data_start, size);
            return Ok((real, segments.map_err(bad_map)?));
        }
        let mut text = Vec::new();
        let (pairs, used) = loop {
            if text.len() as u64 >= size.min(MAX_META) {
                return Err(bad_map("sparse map does not end"));
            }
            let at = data_start + text.len() as u64;
            text.extend(self.read_exact_at(at, BLOCK, offset, display)?);
            if let Some(found) = sparse::parse_v1_map(&text).map_err(bad_map)? {
                break found;
            }
        };
        let map_len = padded(used as u64);
        let stored = size
            .checked_sub(map_len)
            .ok_or_else(|| bad_map("sparse map larger than the entry"))?;
        let segments = sparse::segments(&pairs, real, data_start + map_len, stored);
        Ok((real, segments.map_err(bad_map)?))
    }

    /// Reads the header at `offset`; `None` at an end-of-archive zero block.
    fn read_header(&mut self, offset: u64) -> Result<Option<Header>> {
        if offset >= self.len {
            return Err(self.truncated(
                "header",
                offset,
                "archive ends without end-of-archive marker",
            ));
        }
        let block = self.read_exact_at(offset, BLOCK, offset, "header")?;
        let mut raw = [0u8; BLOCK as usize];
        raw.copy_from_slice(&block);
        let header = Header(raw);
        if header.is_zero() {
            return Ok(None);
        }
        if !header.checksum_ok() {
            return Err(EngineError::TarChecksum {
                filename: self.name.clone(),
                offset,
                after: self.last_entry.clone(),
            });
        }
        Ok(Some(header))
    }

    /// Reads the data of a metadata entry (pax header, long name), bounded by [`MAX_META`].
    fn read_meta(&mut self, offset: u64, size: u64) -> Result<Vec<u8>> {
        if size > MAX_META {
            return Err(self.malformed(offset, "metadata entry larger than 1 MiB"));
        }
        self.read_exact_at(offset + BLOCK, size, offset, "metadata entry")
    }

    /// Reads `len` bytes at `at`; a short archive is reported against `entry` at `offset`.
    fn read_exact_at(&mut self, at: u64, len: u64, offset: u64, entry: &str) -> Result<Vec<u8>> {
        self.check_within(offset, entry, at, len)?;
        let io = |source| EngineError::Io {
            filename: self.name.clone(),
            source,
        };
        let delta = i64::try_from(at).map_err(|_| self.malformed(offset, "offset too large"))?
            - i64::try_from(self.cursor).map_err(|_| self.malformed(offset, "offset too large"))?;
        self.input.seek_relative(delta).map_err(io)?;
        let mut buf = vec![0u8; len as usize];
        self.input.read_exact(&mut buf).map_err(io)?;
        self.cursor = at + len;
        Ok(buf)
    }

    /// Fails with a truncation error unless `[at, at + len)` lies inside the archive.
    fn check_within(&self, offset: u64, entry: &str, at: u64, len: u64) -> Result<()> {
        match at.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(self.truncated(
                entry,
                offset,
                &format!(
                    "needs {len} bytes at offset {at}, the file has {}",
                    self.len
                ),
            )),
        }
    }

    fn truncated(&self, entry: &str, offset: u64, reason: &str) -> EngineError {
        EngineError::TarTruncated {
            filename: self.name.clone(),
            entry: entry.to_string(),
            offset,
            reason: reason.to_string(),
        }
    }

    fn malformed(&self, offset: u64, reason: &str) -> EngineError {
        malformed(&self.name, offset, reason)
    }
}

/// A link's target: symlinks keep it verbatim (UTF-8), hard links get a normalized path.
fn link_target(kind: EntryKind, raw: Vec<u8>) -> Result<Option<String>, String> {
    match kind {
        EntryKind::Symlink => String::from_utf8(raw)
            .map(Some)
            .map_err(|_| "link target is not valid UTF-8".to_string()),
        EntryKind::HardLink => match path::normalize(&raw) {
            Ok(Some(target)) => Ok(Some(target)),
            Ok(None) => Err("hard link target: empty name".into()),
            Err(reason) => Err(format!("hard link target: {reason}")),
        },
        EntryKind::Directory | EntryKind::Regular => Ok(None),
    }
}

fn malformed(archive: &str, offset: u64, reason: &str) -> EngineError {
    EngineError::TarMalformed {
        filename: archive.to_string(),
        offset,
        reason: reason.to_string(),
    }
}

impl TarEntry {
    /// Fills `buf` with the expanded file's bytes from `offset` on: stored segments are read
    /// from `archive`, holes and anything past the end of the file read as zeros.
    pub fn read_at(
        &self,
        archive: &std::fs::File,
        offset: u64,
        buf: &mut [u8],
    ) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let end = offset + buf.len() as u64;
        let mut filled = offset;
        let first = self
            .segments
            .partition_point(|s| s.offset + s.len <= offset);
        for segment in self.segments[first..].iter().take_while(|s| s.offset < end) {
            let from = segment.offset.max(offset);
            let to = (segment.offset + segment.len).min(end);
            buf[(filled - offset) as usize..(from - offset) as usize].fill(0);
            let dest = &mut buf[(from - offset) as usize..(to - offset) as usize];
            archive.read_exact_at(dest, segment.archive_offset + (from - segment.offset))?;
            filled = to;
        }
        buf[(filled - offset) as usize..].fill(0);
        Ok(())
    }
}
