//! An image's index turned around for a launcher: for every chunk of `img.dxf`, which blocks
//! of which files it holds. Ranges arrive by image position, and a deduplicated block serves
//! several files, so this inverse of the extents is what places fetched bytes in the tree.

use std::collections::HashSet;
use std::path::Path;

use crate::engine::chunks::{CHUNK_SIZE, ChunkTable};
use crate::engine::image::{BLOCK_SIZE, IMG_JSON, ImageMeta, IndexEntry, read_index, read_json};
use crate::engine::tar::EntryKind;

use super::error::ClientError;
use super::state::STATE_DIR;

/// Where a chunk's blocks go: `count` blocks of the file from `file_block`, taken from the
/// chunk's blocks from `image_block` on (or, `repeat`, all from that one block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Index of the file in [`Layout::entries`].
    pub entry: u32,
    /// First file block written.
    pub file_block: u64,
    /// First image block read.
    pub image_block: u64,
    /// Blocks written.
    pub count: u32,
    /// Every file block is the same image block.
    pub repeat: bool,
}

/// An image's entries and the inverse of their extents, chunk by chunk.
pub struct Layout {
    /// The image's `img.json`.
    pub meta: ImageMeta,
    /// The index's entries, in index order.
    pub entries: Vec<IndexEntry>,
    /// Chunk size and, for a version-2 image, each chunk's hash.
    pub chunks: ChunkGeometry,
    /// Placements sorted by chunk; chunk `c`'s are `placements[starts[c]..starts[c + 1]]`.
    placements: Vec<Placement>,
    starts: Vec<usize>,
}

/// How `img.dxf` is cut into chunks, the unit of fetching and checking.
#[derive(Debug, Clone)]
pub struct ChunkGeometry {
    /// Bytes per chunk.
    pub size: u64,
    /// Bytes of `img.dxf`.
    pub len: u64,
    /// Hashes of a version-2 image; a version-1 image is checked by file MD5s only.
    pub hashes: Option<ChunkTable>,
}

impl ChunkGeometry {
    /// Number of chunks.
    pub fn count(&self) -> u64 {
        self.len.div_ceil(self.size)
    }

    /// The bytes of chunk `c`.
    pub fn range(&self, c: u64) -> std::ops::Range<u64> {
        let start = c * self.size;
        start..(start + self.size).min(self.len)
    }

    /// True when `bytes` are chunk `c` as the index states (always, without hashes).
    pub fn accepts(&self, c: u64, bytes: &[u8]) -> bool {
        self.hashes.as_ref().is_none_or(|t| t.matches(c, bytes))
    }
}

impl Layout {
    /// Reads the image whose `img.json` and `img.idx.7z` are in `dir`, refusing an index whose
    /// paths a launcher must not write (the state dir, or below a file or link).
    pub fn read(dir: &Path) -> Result<Self, ClientError> {
        let meta: ImageMeta = read_json(dir, IMG_JSON)?;
        let mut entries = Vec::new();
        let (_, hashes) = read_index(dir, &meta, |entry| {
            entries.push(entry);
            Ok(())
        })?;
        check_paths(&entries)?;
        let chunks = ChunkGeometry {
            size: hashes.as_ref().map_or(CHUNK_SIZE, |t| t.chunk_size),
            len: meta.dxf_size,
            hashes,
        };
        let (placements, starts) = invert(&entries, &chunks);
        Ok(Self {
            meta,
            entries,
            chunks,
            placements,
            starts,
        })
    }

    /// Where chunk `c`'s blocks go.
    pub fn placements(&self, c: u64) -> &[Placement] {
        let c = c as usize;
        match (self.starts.get(c), self.starts.get(c + 1)) {
            (Some(&a), Some(&b)) => &self.placements[a..b],
            _ => &[],
        }
    }

    /// A file (index into [`Layout::entries`]) and file block holding image block `block`: the
    /// first place the index puts it.
    pub fn locate(&self, block: u64) -> Option<(u32, u64)> {
        let chunk = block * BLOCK_SIZE / self.chunks.size;
        self.placements(chunk).iter().find_map(|p| {
            if p.repeat {
                (p.image_block == block).then_some((p.entry, p.file_block))
            } else {
                let end = p.image_block + u64::from(p.count);
                (p.image_block..end)
                    .contains(&block)
                    .then(|| (p.entry, p.file_block + block - p.image_block))
            }
        })
    }

    /// The image block runs `(first, count)` holding bytes `offset..offset + len` of `entry`
    /// (an index into [`Layout::entries`]), in file order; holes hold none.
    pub fn image_runs(&self, entry: usize, offset: u64, len: u64) -> Vec<(u64, u64)> {
        let Some(e) = self.entries.get(entry) else {
            return Vec::new();
        };
        let (first, end) = (offset / BLOCK_SIZE, (offset + len).div_ceil(BLOCK_SIZE));
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for x in &e.extents {
            let (a, b) = (x.file_block.max(first), (x.file_block + x.count).min(end));
            if a >= b {
                continue;
            }
            let (block, count) = if x.repeat {
                (x.image_block, 1)
            } else {
                (x.image_block_of(a), b - a)
            };
            match runs.last_mut() {
                Some((start, n)) if *start + *n == block => *n += count,
                _ => runs.push((block, count)),
            }
        }
        runs
    }

    /// The chunks holding blocks of file bytes `offset..offset + len` of `entry`, ascending;
    /// all of the file with `len` = its size.
    pub fn chunks_of(&self, entry: usize, offset: u64, len: u64) -> Vec<u64> {
        let blocks_per_chunk = self.chunks.size / BLOCK_SIZE;
        let mut chunks: Vec<u64> = self
            .image_runs(entry, offset, len)
            .into_iter()
            .flat_map(|(first, count)| {
                first / blocks_per_chunk..=(first + count - 1) / blocks_per_chunk
            })
            .collect();
        chunks.sort_unstable();
        chunks.dedup();
        chunks
    }
}

/// Refuses paths that would put bytes outside the tree or in the state dir: `.rockit` itself,
/// anything below an entry that is not a directory (a link made first would lead out), and
/// hard links to anything but a regular file of the build (a link to a file outside would be
/// written through when the tree is repaired).
fn check_paths(entries: &[IndexEntry]) -> Result<(), ClientError> {
    let not_dirs: HashSet<&str> = entries
        .iter()
        .filter(|e| e.kind != EntryKind::Directory)
        .map(|e| e.path.as_str())
        .collect();
    let files: HashSet<&str> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Regular)
        .map(|e| e.path.as_str())
        .collect();
    for e in entries {
        let top = e.path.split('/').next().unwrap_or_default();
        let below_file = e
            .path
            .match_indices('/')
            .any(|(at, _)| not_dirs.contains(&e.path[..at]));
        let stray_link = e.kind == EntryKind::HardLink
            && !e.link_target.as_deref().is_some_and(|t| files.contains(t));
        if top == STATE_DIR || below_file || stray_link {
            return Err(ClientError::Input(format!(
                "the build has a path a launcher cannot install: '{}'",
                e.path
            )));
        }
    }
    Ok(())
}

/// Every extent of every file cut at chunk boundaries and sorted by chunk.
fn invert(entries: &[IndexEntry], chunks: &ChunkGeometry) -> (Vec<Placement>, Vec<usize>) {
    let blocks_per_chunk = chunks.size / BLOCK_SIZE;
    let mut keyed: Vec<(u64, Placement)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        for x in &e.extents {
            if x.repeat {
                let mut done = 0;
                while done < x.count {
                    let count = (x.count - done).min(u64::from(u32::MAX));
                    let placement = Placement {
                        entry: i as u32,
                        file_block: x.file_block + done,
                        image_block: x.image_block,
                        count: count as u32,
                        repeat: true,
                    };
                    keyed.push((x.image_block / blocks_per_chunk, placement));
                    done += count;
                }
                continue;
            }
            let mut done = 0;
            while done < x.count {
                let image_block = x.image_block + done;
                let chunk = image_block / blocks_per_chunk;
                let room = (chunk + 1) * blocks_per_chunk - image_block;
                let count = room.min(x.count - done);
                let placement = Placement {
                    entry: i as u32,
                    file_block: x.file_block + done,
                    image_block,
                    count: count as u32,
                    repeat: false,
                };
                keyed.push((chunk, placement));
                done += count;
            }
        }
    }
    keyed.sort_by_key(|&(chunk, p)| (chunk, p.image_block));
    let mut starts = Vec::with_capacity(chunks.count() as usize + 1);
    let mut next = 0;
    for c in 0..=chunks.count() {
        while next < keyed.len() && keyed[next].0 < c {
            next += 1;
        }
        starts.push(next);
    }
    (keyed.into_iter().map(|(_, p)| p).collect(), starts)
}
