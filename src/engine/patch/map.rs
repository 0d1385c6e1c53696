//! The block map stored as `map` inside `map.7z`: for every block of the new image, where its
//! bytes come from, as runs (byte layout in docs/FORMAT.md).

use std::io::{self, Read, Write};

use crate::engine::image::{BLOCK_SIZE, FORMAT_VERSION};

/// First bytes of the map.
pub const MAGIC: &[u8; 8] = b"RKTMAP\0\0";

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
}

impl<W: Write> MapWriter<W> {
    /// Starts a map for a new image of `block_count` blocks.
    pub fn new(mut out: W, block_count: u64) -> io::Result<Self> {
        out.write_all(MAGIC)?;
        out.write_all(&FORMAT_VERSION.to_le_bytes())?;
        out.write_all(&(BLOCK_SIZE as u32).to_le_bytes())?;
        out.write_all(&block_count.to_le_bytes())?;
        Ok(Self {
            out,
            current: None,
            runs: 0,
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
        Ok((self.out, self.runs))
    }

    fn emit(&mut self) -> io::Result<()> {
        let Some(run) = self.current.take() else {
            return Ok(());
        };
        let (kind, start) = match run.first {
            Source::Old(b) => (0u8, b),
            Source::Data(b) => (1, b),
            Source::Zero => (2, 0),
        };
        self.out.write_all(&[kind])?;
        self.out.write_all(&start.to_le_bytes())?;
        self.out.write_all(&run.count.to_le_bytes())?;
        self.runs += 1;
        Ok(())
    }
}

/// Reads a map run by run, checking every run against the sizes of its sources.
pub struct MapReader<R> {
    input: R,
    block_count: u64,
    covered: u64,
}

impl<R: Read> MapReader<R> {
    /// Reads the header.
    pub fn new(mut input: R) -> Result<Self, String> {
        let mut raw = [0u8; 24];
        input.read_exact(&mut raw).map_err(short)?;
        if &raw[..8] != MAGIC || raw[8..12] != FORMAT_VERSION.to_le_bytes() {
            return Err("not a ROCKIT block map (bad magic or version)".into());
        }
        if raw[12..16] != (BLOCK_SIZE as u32).to_le_bytes() {
            return Err("unsupported block size".into());
        }
        let block_count = u64::from_le_bytes(raw[16..24].try_into().map_err(|_| "header")?);
        Ok(Self {
            input,
            block_count,
            covered: 0,
        })
    }

    /// Blocks of the new image the map describes.
    pub fn block_count(&self) -> u64 {
        self.block_count
    }

    /// The next run; `None` once all blocks are covered. Runs must stay inside `old_blocks`
    /// and `data_blocks`.
    pub fn next_run(&mut self, old_blocks: u64, data_blocks: u64) -> Result<Option<Run>, String> {
        if self.covered == self.block_count {
            let mut probe = [0u8; 1];
            return match self.input.read(&mut probe).map_err(short)? {
                0 => Ok(None),
                _ => Err("data after the last run".into()),
            };
        }
        let mut raw = [0u8; 17];
        self.input.read_exact(&mut raw).map_err(short)?;
        let start = u64::from_le_bytes(raw[1..9].try_into().map_err(|_| "run")?);
        let count = u64::from_le_bytes(raw[9..17].try_into().map_err(|_| "run")?);
        let (first, limit) = match raw[0] {
            0 => (Source::Old(start), old_blocks),
            1 => (Source::Data(start), data_blocks),
            2 if start == 0 => (Source::Zero, u64::MAX),
            _ => return Err(format!("bad run kind {} / start {start}", raw[0])),
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
        Ok(Some(Run { first, count }))
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
        ];
        let mut writer = MapWriter::new(Vec::new(), sources.len() as u64)?;
        for s in sources {
            writer.push(s)?;
        }
        let (bytes, runs) = writer.finish()?;
        assert_eq!(runs, 4);
        let mut reader = MapReader::new(&bytes[..])?;
        let mut back = Vec::new();
        while let Some(run) = reader.next_run(10, 2)? {
            back.extend((0..run.count).map(|i| run.source_at(i)));
        }
        assert_eq!(back, sources);
        let mut reader = MapReader::new(&bytes[..])?;
        assert!(reader.next_run(6, 2).is_err());
        Ok(())
    }
}
