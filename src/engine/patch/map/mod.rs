//! The block map stored as `map` inside `map.7z`: for every block of the new image, where its
//! bytes come from, as runs (byte layout in docs/FORMAT.md).

mod group;

use std::io::{self, BufReader, Read, Write};

use crate::engine::delta::{Anchor, unzigzag, zigzag};
use crate::engine::image::BLOCK_SIZE;
use group::{GROUP_RUNS, GroupReader, GroupWriter, KIND_DATA, KIND_OLD, KIND_OLD_MOVED, KIND_ZERO};

/// Version of the map layout: the map's first byte. The map travels inside `map.7z`,
/// whose name and `patch.json` already say what it is, so no magic precedes it.
pub const MAP_VERSION: u8 = 5;

/// Where one block of the new image comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// This block of the old image.
    Old(u64),
    /// This block of `patch.data`.
    Data(u64),
    /// All zeros.
    Zero,
}

/// Consecutive new-image blocks whose sources advance together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// Source of the run's first block.
    pub first: Source,
    /// Blocks in the run (≥ 1).
    pub count: u64,
}

impl Run {
    /// The source of the run's block `i`.
    pub fn source_at(&self, i: u64) -> Source {
        match self.first {
            Source::Old(b) => Source::Old(b + i),
            Source::Data(b) => Source::Data(b + i),
            Source::Zero => Source::Zero,
        }
    }

    /// True when `next` is the source of the block after this run.
    fn continues_with(&self, next: Source) -> bool {
        self.source_at(self.count) == next
    }
}

/// Writes the map header then runs, merging consecutive blocks into runs.
pub struct MapWriter<W: Write> {
    out: W,
    current: Option<Run>,
    runs: u64,
    cursor: Cursor,
    group: GroupWriter,
}

/// What the runs so far imply for the next run: the F block that would continue them and
/// the next unused `patch.data` block. Runs are coded against it, so a map whose F runs
/// continue where the previous ones left off costs a byte or two per run.
#[derive(Debug, Default, Clone, Copy)]
struct Cursor {
    expected_old: u64,
    next_data: u64,
}

impl Cursor {
    fn advance(&mut self, run: &Run) {
        match run.first {
            Source::Old(b) => self.expected_old = b + run.count,
            Source::Data(b) => {
                self.next_data = b + run.count;
                self.expected_old += run.count;
            }
            Source::Zero => self.expected_old += run.count,
        }
    }
}

impl<W: Write> MapWriter<W> {
    /// Starts a map (its size and block size are `patch.json`'s to say).
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&[MAP_VERSION])?;
        Ok(Self {
            out,
            current: None,
            runs: 0,
            cursor: Cursor::default(),
            group: GroupWriter::default(),
        })
    }

    /// Appends the next block's source.
    pub fn push(&mut self, source: Source) -> io::Result<()> {
        match &mut self.current {
            Some(run) if run.continues_with(source) => run.count += 1,
            _ => {
                self.emit()?;
                self.current = Some(Run {
                    first: source,
                    count: 1,
                });
            }
        }
        Ok(())
    }

    /// Writes the last run; returns the writer and the number of runs.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        self.emit()?;
        self.group.flush_to(&mut self.out)?;
        Ok((self.out, self.runs))
    }

    fn emit(&mut self) -> io::Result<()> {
        let Some(run) = self.current.take() else {
            return Ok(());
        };
        let mut old_delta = None;
        let kind = match run.first {
            Source::Old(b) if b == self.cursor.expected_old => KIND_OLD,
            Source::Old(b) => {
                // Nonzero, so its zigzag code is at least 1 and is stored minus one.
                old_delta = Some(zigzag(b.wrapping_sub(self.cursor.expected_old) as i64) - 1);
                KIND_OLD_MOVED
            }
            Source::Data(b) if b == self.cursor.next_data => KIND_DATA,
            Source::Data(b) => {
                let expected = self.cursor.next_data;
                return Err(io::Error::other(format!(
                    "patch.data block {b} out of order (expected {expected})"
                )));
            }
            Source::Zero => KIND_ZERO,
        };
        self.group.push((kind, run.count, old_delta));
        if self.group.len() == GROUP_RUNS {
            self.group.flush_to(&mut self.out)?;
        }
        self.cursor.advance(&run);
        self.runs += 1;
        Ok(())
    }
}

/// Reads a map run by run, checking every run against the sizes of its sources.
pub struct MapReader<R> {
    /// Buffered: lists are read a varint at a time.
    input: BufReader<R>,
    block_count: u64,
    covered: u64,
    cursor: Cursor,
    group: GroupReader,
}

impl<R: Read> MapReader<R> {
    /// Reads the header of a map of a new image of `block_count` blocks (`patch.json`'s
    /// figure: the map must cover exactly that many).
    pub fn new(input: R, block_count: u64) -> Result<Self, String> {
        let mut input = BufReader::with_capacity(64 << 10, input);
        let mut version = [0u8; 1];
        input.read_exact(&mut version).map_err(short)?;
        if version[0] != MAP_VERSION {
            return Err(format!(
                "not a ROCKIT block map of version {MAP_VERSION} (first byte {:#04x})",
                version[0]
            ));
        }
        Ok(Self {
            input,
            block_count,
            covered: 0,
            cursor: Cursor::default(),
            group: GroupReader::default(),
        })
    }

    /// The rest of the map read as the bulk delta stream's anchors; runs must stay inside
    /// `old_blocks` and `data_blocks`.
    pub fn anchors(&mut self, old_blocks: u64, data_blocks: u64) -> MapAnchors<'_, R> {
        MapAnchors {
            map: self,
            old_blocks,
            data_blocks,
            defect: None,
        }
    }

    /// The next run; `None` once all blocks are covered. Runs must stay inside `old_blocks`
    /// and `data_blocks`.
    pub fn next_run(&mut self, old_blocks: u64, data_blocks: u64) -> Result<Option<Run>, String> {
        if self.covered == self.block_count {
            let mut probe = [0u8; 1];
            return match self.input.read(&mut probe).map_err(short)? {
                0 if self.group.is_exhausted() => Ok(None),
                _ => Err("data after the last run".into()),
            };
        }
        if self.group.is_exhausted() {
            self.group.load(&mut self.input)?;
        }
        let (kind, count, old_delta) = self.group.next()?;
        let expected = self.cursor.expected_old;
        let (first, start, limit) = match (kind, old_delta) {
            (KIND_DATA, _) => {
                let start = self.cursor.next_data;
                (Source::Data(start), start, data_blocks)
            }
            (KIND_ZERO, _) => (Source::Zero, 0, u64::MAX),
            (_, Some(coded)) => {
                let delta = coded
                    .checked_add(1)
                    .map(unzigzag)
                    .ok_or("old block delta out of range")?;
                let start = expected.wrapping_add(delta as u64);
                (Source::Old(start), start, old_blocks)
            }
            (_, None) => (Source::Old(expected), expected, old_blocks),
        };
        let fits = count > 0
            && start.checked_add(count).is_some_and(|end| end <= limit)
            && self
                .covered
                .checked_add(count)
                .is_some_and(|end| end <= self.block_count);
        if !fits {
            return Err(format!("run {first:?} × {count} out of range"));
        }
        self.covered += count;
        let run = Run { first, count };
        self.cursor.advance(&run);
        Ok(Some(run))
    }
}

/// The anchors of the bulk delta stream, read off a map: at the start of every run of
/// `patch.data` blocks, the old block the runs before it would have continued with. Stops at
/// the first defect of the map, which [`MapAnchors::finish`] then reports.
pub struct MapAnchors<'m, R> {
    map: &'m mut MapReader<R>,
    old_blocks: u64,
    data_blocks: u64,
    defect: Option<String>,
}

impl<R: Read> MapAnchors<'_, R> {
    /// The map's first defect met while reading anchors, if any.
    pub fn finish(self) -> Result<(), String> {
        self.defect.map_or(Ok(()), Err)
    }
}

impl<R: Read> Iterator for MapAnchors<'_, R> {
    type Item = Anchor;

    fn next(&mut self) -> Option<Anchor> {
        let block = BLOCK_SIZE;
        loop {
            let expected_old = self.map.cursor.expected_old;
            match self.map.next_run(self.old_blocks, self.data_blocks) {
                Ok(Some(Run {
                    first: Source::Data(b),
                    ..
                })) => {
                    return Some(Anchor {
                        new_pos: b * block,
                        old_pos: expected_old.wrapping_mul(block),
                    });
                }
                Ok(Some(_)) => {}
                Ok(None) => return None,
                Err(defect) => {
                    self.defect = Some(defect);
                    return None;
                }
            }
        }
    }
}

fn short(e: io::Error) -> String {
    format!("map cut short: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_and_round_trip() -> Result<(), Box<dyn std::error::Error>> {
        let sources = [
            Source::Old(5),
            Source::Old(6),
            Source::Data(0),
            Source::Data(1),
            Source::Zero,
            Source::Zero,
            Source::Old(2),
            Source::Data(2),
            Source::Old(4),
        ];
        let mut writer = MapWriter::new(Vec::new())?;
        for s in sources {
            writer.push(s)?;
        }
        let (bytes, runs) = writer.finish()?;
        assert_eq!(runs, 6);
        let mut reader = MapReader::new(&bytes[..], sources.len() as u64)?;
        let mut back = Vec::new();
        while let Some(run) = reader.next_run(10, 3)? {
            back.extend((0..run.count).map(|i| run.source_at(i)));
        }
        assert_eq!(back, sources);
        let mut reader = MapReader::new(&bytes[..], sources.len() as u64)?;
        assert!(reader.next_run(6, 3).is_err());
        Ok(())
    }

    /// The map of docs/FORMAT.md's worked patch example, byte for byte.
    #[test]
    fn worked_example_bytes() -> Result<(), Box<dyn std::error::Error>> {
        let mut writer = MapWriter::new(Vec::new())?;
        for source in [
            Source::Old(0),
            Source::Data(0),
            Source::Old(2),
            Source::Data(1),
        ] {
            writer.push(source)?;
        }
        let (bytes, _) = writer.finish()?;
        let expected = [5, 4, 0, 1, 0, 1, 1, 1, 1, 1];
        assert_eq!(bytes, expected);
        let mut reader = MapReader::new(&bytes[..], 4)?;
        let anchors: Vec<Anchor> = reader.anchors(3, 2).collect();
        let anchor = |new_pos, old_pos| Anchor { new_pos, old_pos };
        assert_eq!(anchors, [anchor(0, 4096), anchor(4096, 12288)]);
        Ok(())
    }

    #[test]
    fn maps_longer_than_a_group_round_trip() -> Result<(), Box<dyn std::error::Error>> {
        // Alternating F blocks (every other one moved) and patch.data blocks: one run each.
        let blocks = 3 * GROUP_RUNS as u64 + 7;
        let source = |i: u64| match i % 4 {
            0 => Source::Old(i),
            1 | 3 => Source::Data(i / 2),
            _ => Source::Old(i / 3),
        };
        let mut writer = MapWriter::new(Vec::new())?;
        for i in 0..blocks {
            writer.push(source(i))?;
        }
        let (mut bytes, runs) = writer.finish()?;
        assert_eq!(runs, blocks);
        let mut reader = MapReader::new(&bytes[..], blocks)?;
        let mut i = 0;
        while let Some(run) = reader.next_run(blocks, blocks / 2)? {
            assert_eq!((run.first, run.count), (source(i), 1));
            i += 1;
        }
        assert_eq!(i, blocks);
        // A byte added to the end is refused.
        bytes.push(0);
        let mut reader = MapReader::new(&bytes[..], blocks)?;
        let outcome = std::iter::from_fn(|| reader.next_run(blocks, blocks / 2).transpose())
            .find(Result::is_err);
        assert!(outcome.is_some(), "trailing byte accepted");
        Ok(())
    }
}
