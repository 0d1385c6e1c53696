//! Runs stored in groups: each group lists the runs' kinds, then their counts and old-block
//! deltas in separate lists, one per kind, so that every list holds values of one kind and
//! LZMA2 compresses each against its own (F-run counts are spread, `patch.data` counts are
//! mostly 1, kinds alternate).

use std::io::{self, Read, Write};

use crate::engine::delta::{put_varint, read_varint};

/// Most runs in one group: bounds a reader's buffers (under 2 MiB) whatever the map's size.
pub const GROUP_RUNS: usize = 1 << 16;

/// A run's kind: F blocks where the map expects them.
pub const KIND_OLD: u8 = 0;
/// A run's kind: the next `patch.data` blocks.
pub const KIND_DATA: u8 = 1;
/// A run's kind: zero blocks.
pub const KIND_ZERO: u8 = 2;
/// A run's kind: F blocks elsewhere than expected (a delta follows in its own list).
pub const KIND_OLD_MOVED: u8 = 3;

/// Which list holds the count of a run of `kind`; deltas go to list [`DELTAS`].
fn count_list(kind: u8) -> usize {
    match kind {
        KIND_DATA => 1,
        KIND_ZERO => 2,
        _ => 0,
    }
}

/// The list of old-block deltas (kind 3 runs).
const DELTAS: usize = 3;

/// One decoded run: kind, block count and, for kind 3, the stored delta.
pub type CodedRun = (u8, u64, Option<u64>);

/// Runs collected for the next group.
#[derive(Debug, Default)]
pub struct GroupWriter {
    kinds: Vec<u8>,
    lists: [Vec<u8>; 4],
}

impl GroupWriter {
    /// Runs collected so far.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Adds a run; `delta` must be present exactly for kind 3.
    pub fn push(&mut self, (kind, count, delta): CodedRun) {
        self.kinds.push(kind);
        put_varint(&mut self.lists[count_list(kind)], count);
        if let Some(delta) = delta {
            put_varint(&mut self.lists[DELTAS], delta);
        }
    }

    /// Writes the collected runs as one group and starts the next; nothing when empty.
    pub fn flush_to(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.kinds.is_empty() {
            return Ok(());
        }
        let mut head = Vec::with_capacity(4);
        put_varint(&mut head, self.kinds.len() as u64);
        out.write_all(&head)?;
        out.write_all(&self.kinds)?;
        for list in &mut self.lists {
            out.write_all(list)?;
            list.clear();
        }
        self.kinds.clear();
        Ok(())
    }
}

/// The group being read and how far.
#[derive(Debug, Default)]
pub struct GroupReader {
    kinds: Vec<u8>,
    lists: [Vec<u64>; 4],
    next_run: usize,
    list_pos: [usize; 4],
}

impl GroupReader {
    /// True when every run of the current group was read.
    pub fn is_exhausted(&self) -> bool {
        self.next_run == self.kinds.len()
    }

    /// Reads the next group from `input`; the current one must be exhausted. The kinds say
    /// how many values each list holds, so the lists need no lengths.
    pub fn load(&mut self, input: &mut impl Read) -> Result<(), String> {
        let runs = read_varint(input, "map group").map_err(|e| e.to_string())?;
        if runs == 0 || runs > GROUP_RUNS as u64 {
            return Err(format!("map group of {runs} runs"));
        }
        read_exact_vec(input, runs as usize, &mut self.kinds)?;
        let mut values = [0usize; 4];
        for &kind in &self.kinds {
            if kind > KIND_OLD_MOVED {
                return Err(format!("bad run kind {kind}"));
            }
            values[count_list(kind)] += 1;
            if kind == KIND_OLD_MOVED {
                values[DELTAS] += 1;
            }
        }
        for (list, n) in self.lists.iter_mut().zip(values) {
            list.clear();
            for _ in 0..n {
                list.push(read_varint(input, "map group list").map_err(|e| e.to_string())?);
            }
        }
        self.next_run = 0;
        self.list_pos = [0; 4];
        Ok(())
    }

    /// The next run of the group.
    pub fn next(&mut self) -> Result<CodedRun, String> {
        let kind = *self.kinds.get(self.next_run).ok_or("map group exhausted")?;
        self.next_run += 1;
        let count = self.take(count_list(kind));
        let delta = (kind == KIND_OLD_MOVED).then(|| self.take(DELTAS));
        Ok((kind, count, delta))
    }

    /// The next value of `list`; [`GroupReader::load`] read as many as the kinds use.
    fn take(&mut self, list: usize) -> u64 {
        let v = self.lists[list][self.list_pos[list]];
        self.list_pos[list] += 1;
        v
    }
}

/// Reads exactly `len` bytes into `buf`, growing it only as bytes arrive.
fn read_exact_vec(input: &mut impl Read, len: usize, buf: &mut Vec<u8>) -> Result<(), String> {
    buf.clear();
    let got = input
        .take(len as u64)
        .read_to_end(buf)
        .map_err(|e| format!("map cut short: {e}"))?;
    if got != len {
        return Err("map cut short".into());
    }
    Ok(())
}
