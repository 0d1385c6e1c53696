//! From image blocks back to file content: for every image block, one file block that holds
//! it. Any one will do — every file block an image block stands for has its bytes — so an
//! order made of them rebuilds the same image, and reads as the build's files.

use crate::engine::image::{IndexEntry, OrderRun};

/// Image blocks `[start, end)` held by file blocks from `file_block` of entry `entry` (the
/// same file block for all when `repeat`).
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: u64,
    end: u64,
    entry: usize,
    file_block: u64,
    repeat: bool,
}

/// Disjoint pieces sorted by image block, covering every block some file holds.
pub struct Cover<'a> {
    entries: &'a [IndexEntry],
    pieces: Vec<Piece>,
}

impl<'a> Cover<'a> {
    /// The cover of an image with these index entries.
    pub fn new(entries: &'a [IndexEntry]) -> Self {
        let mut all: Vec<Piece> = entries
            .iter()
            .enumerate()
            .flat_map(|(entry, e)| {
                e.extents.iter().map(move |x| Piece {
                    start: x.image_block,
                    end: x.image_block + if x.repeat { 1 } else { x.count },
                    entry,
                    file_block: x.file_block,
                    repeat: x.repeat,
                })
            })
            .collect();
        all.sort_by_key(|p| (p.start, p.entry));
        let mut pieces: Vec<Piece> = Vec::with_capacity(all.len());
        let mut covered = 0;
        for piece in all {
            if piece.end <= covered {
                continue;
            }
            let skip = covered.saturating_sub(piece.start);
            pieces.push(Piece {
                start: piece.start + skip,
                file_block: piece.file_block + if piece.repeat { 0 } else { skip },
                ..piece
            });
            covered = piece.end;
        }
        Self { entries, pieces }
    }

    /// Appends to `runs` the file runs holding image blocks `[start, end)`, in image-block
    /// order, extending the last run when a file run continues it.
    pub fn file_runs(&self, (start, end): (u64, u64), runs: &mut Vec<OrderRun>) {
        let first = self.pieces.partition_point(|p| p.end <= start);
        for piece in &self.pieces[first..] {
            if piece.start >= end {
                break;
            }
            let from = piece.start.max(start);
            let to = piece.end.min(end);
            let (file_block, count) = if piece.repeat {
                (piece.file_block, 1)
            } else {
                (piece.file_block + (from - piece.start), to - from)
            };
            let path = &self.entries[piece.entry].path;
            match runs.last_mut() {
                Some(last)
                    if last.path == *path && last.first_block + last.block_count == file_block =>
                {
                    last.block_count += count;
                }
                _ => runs.push(OrderRun {
                    line: runs.len() + 1,
                    path: path.clone(),
                    first_block: file_block,
                    block_count: count,
                }),
            }
        }
    }
}
