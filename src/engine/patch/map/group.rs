//! Runs stored in groups: each group lists the runs' kinds, then their counts and old-block
//! deltas in separate lists, one per kind, so that every list holds values of one kind and
//! LZMA2 compresses each against its own (F-run counts are spread, `patch.data` counts are
//! mostly 1, kinds alternate).

use std::io::{self, Read, Write};

use crate::engine::delta::{decode_varint, put_varint, read_varint};

/// Most runs in one group: bounds a reader's buffers (under 3 MiB) whatever the map's size.
pub const GROUP_RUNS: usize = 1 << 16;

/// Longest varint, in bytes.
const MAX_VARINT: u64 = 10;

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
        let mut head = Vec::with_capacity(32);
        put_varint(&mut head, self.kinds.len() as u64);
        for list in &self.lists {
            put_varint(&mut head, list.len() as u64);
        }
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
    lists: [Vec<u8>; 4],
    next_run: usize,
    list_pos: [usize; 4],
}

impl GroupReader {
    /// True when every run of the current group was read.
    pub fn is_exhausted(&self) -> bool {
        self.next_run == self.kinds.len()
    }

    /// Reads the next group from `input`; the current one must be exhausted.
    pub fn load(&mut self, input: &mut impl Read) -> Result<(), String> {
        let runs = read_varint(input, "map group").map_err(|e| e.to_string())?;
        if runs == 0 || runs > GROUP_RUNS as u64 {
            return Err(format!("map group of {runs} runs"));
        }
        let mut lens = [0u64; 4];
        for len in &mut lens {
            *len = read_varint(input, "map group").map_err(|e| e.to_string())?;
            if *len > runs * MAX_VARINT {
                return Err(format!("map group list of {len} bytes for {runs} runs"));
            }
        }
        read_exact_vec(input, runs as usize, &mut self.kinds)?;
        for (list, len) in self.lists.iter_mut().zip(lens) {
            read_exact_vec(input, len as usize, list)?;
        }
        self.next_run = 0;
        self.list_pos = [0; 4];
        Ok(())
    }

    /// The next run of the group; at the group's last run, checks that its lists were used
    /// up exactly.
    pub fn next(&mut self) -> Result<CodedRun, String> {
        let kind = *self.kinds.get(self.next_run).ok_or("map group exhausted")?;
        if kind > KIND_OLD_MOVED {
            return Err(format!("bad run kind {kind}"));
        }
        self.next_run += 1;
        let count = self.take(count_list(kind))?;
        let delta = match kind {
            KIND_OLD_MOVED => Some(self.take(DELTAS)?),
            _ => None,
        };
        if self.is_exhausted()
            && self
                .list_pos
                .iter()
                .zip(&self.lists)
                .any(|(p, l)| *p != l.len())
        {
            return Err("map group lists hold unused bytes".into());
        }
        Ok((kind, count, delta))
    }

    fn take(&mut self, list: usize) -> Result<u64, String> {
        let rest = &self.lists[list][self.list_pos[list]..];
        let (v, used) = decode_varint(rest, "map group list").map_err(|e| e.to_string())?;
        self.list_pos[list] += used;
        Ok(v)
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
