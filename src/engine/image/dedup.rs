//! The table of stored blocks by content hash, capped so memory stays bounded.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Most distinct blocks remembered: 7/8 of 2^21, so the table never grows past 2^21 buckets
/// (about 34 MiB). Blocks stored after the table is full are still written, just not offered
/// for reuse; which blocks those are depends only on the input, so output stays deterministic.
pub const DEDUP_CAPACITY: usize = (1 << 21) / 8 * 7;

/// Keys are already uniform 64-bit hashes: use them as they are.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Content hash → first image block with that hash.
#[derive(Default)]
pub struct DedupTable {
    map: HashMap<u64, u64, BuildHasherDefault<IdentityHasher>>,
}

impl DedupTable {
    /// The image block stored first with this hash, if remembered.
    pub fn get(&self, hash: u64) -> Option<u64> {
        self.map.get(&hash).copied()
    }

    /// True once the table holds [`DEDUP_CAPACITY`] blocks; it stays full.
    pub fn is_full(&self) -> bool {
        self.map.len() >= DEDUP_CAPACITY
    }

    /// Remembers `block` for `hash` unless the hash is known or the table is full.
    pub fn remember(&mut self, hash: u64, block: u64) {
        if self.map.len() < DEDUP_CAPACITY {
            self.map.entry(hash).or_insert(block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_block_wins() {
        let mut t = DedupTable::default();
        t.remember(5, 1);
        t.remember(5, 2);
        assert_eq!(t.get(5), Some(1));
        assert_eq!(t.get(6), None);
    }
}
