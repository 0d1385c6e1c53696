//! Chunk hashes: the SHA-256 of every 256 KiB of a file that launchers fetch by ranges
//! (`img.dxf`, `patch.data`), so each range is checked as it arrives and a bad one is fetched
//! again on its own, instead of learning of it from a whole-file MD5 at the end.

use sha2::{Digest, Sha256};

/// Bytes per chunk: 64 blocks. Small enough that a launcher fetching one read's blocks with
/// priority waits for little more than it needs; large enough that the hashes cost 1/8192 of
/// the data.
pub const CHUNK_SIZE: u64 = 256 * 1024;

/// The SHA-256 of one chunk.
pub type ChunkHash = [u8; 32];

/// The SHA-256 of `bytes`.
pub fn chunk_hash(bytes: &[u8]) -> ChunkHash {
    Sha256::digest(bytes).into()
}

/// The hashes of every chunk of a file of `len` bytes: chunk `i` is bytes
/// `[chunk_size·i, min(chunk_size·(i+1), len))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkTable {
    /// Bytes per chunk (a multiple of 4096).
    pub chunk_size: u64,
    /// Bytes of the file the table describes.
    pub len: u64,
    /// One hash per chunk, in file order.
    pub hashes: Vec<ChunkHash>,
}

impl ChunkTable {
    /// Number of chunks of a file of `len` bytes.
    pub fn count_for(len: u64, chunk_size: u64) -> u64 {
        len.div_ceil(chunk_size)
    }

    /// Number of chunks.
    pub fn count(&self) -> u64 {
        self.hashes.len() as u64
    }

    /// The byte range of chunk `i`.
    pub fn range(&self, i: u64) -> std::ops::Range<u64> {
        let start = i * self.chunk_size;
        start..(start + self.chunk_size).min(self.len)
    }

    /// True when `bytes` are chunk `i`'s.
    pub fn matches(&self, i: u64, bytes: &[u8]) -> bool {
        self.hashes
            .get(i as usize)
            .is_some_and(|h| *h == chunk_hash(bytes))
    }

    /// The hashes as lowercase hex, as `patch.json` lists them.
    pub fn to_hex(&self) -> Vec<String> {
        self.hashes.iter().map(hex::encode).collect()
    }

    /// The table of a file of `len` bytes from hex hashes; `None` when a hash is not 64 hex
    /// digits or their number does not fit `len`.
    pub fn from_hex(chunk_size: u64, len: u64, hashes: &[String]) -> Option<Self> {
        let hashes: Vec<ChunkHash> = hashes
            .iter()
            .map(|h| hex::decode(h).ok()?.try_into().ok())
            .collect::<Option<_>>()?;
        let table = Self {
            chunk_size,
            len,
            hashes,
        };
        table.is_consistent().then_some(table)
    }

    /// True when the chunk size is a positive multiple of 4096 and there is one hash per
    /// chunk of `len` bytes.
    pub fn is_consistent(&self) -> bool {
        self.chunk_size > 0
            && self.chunk_size.is_multiple_of(4096)
            && self.count() == Self::count_for(self.len, self.chunk_size)
    }
}

/// The first chunk whose hash in `stated` differs from `actual`'s (or that one of them
/// lacks).
pub fn first_difference(stated: &ChunkTable, actual: &ChunkTable) -> Option<u64> {
    let longest = stated.count().max(actual.count());
    (0..longest).find(|&i| stated.hashes.get(i as usize) != actual.hashes.get(i as usize))
}

/// Hashes a stream chunk by chunk as its bytes come, in any pieces.
pub struct ChunkHasher {
    sha: Sha256,
    filled: u64,
    len: u64,
    hashes: Vec<ChunkHash>,
}

impl Default for ChunkHasher {
    fn default() -> Self {
        Self {
            sha: Sha256::new(),
            filled: 0,
            len: 0,
            hashes: Vec::new(),
        }
    }
}

impl ChunkHasher {
    /// Hashes the next bytes of the stream.
    pub fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let take = ((CHUNK_SIZE - self.filled) as usize).min(bytes.len());
            self.sha.update(&bytes[..take]);
            self.filled += take as u64;
            self.len += take as u64;
            bytes = &bytes[take..];
            if self.filled == CHUNK_SIZE {
                self.hashes.push(self.sha.finalize_reset().into());
                self.filled = 0;
            }
        }
    }

    /// The table of the whole stream.
    pub fn finish(mut self) -> ChunkTable {
        if self.filled > 0 {
            self.hashes.push(self.sha.finalize().into());
        }
        ChunkTable {
            chunk_size: CHUNK_SIZE,
            len: self.len,
            hashes: self.hashes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_of_any_size_give_the_hashes_of_whole_chunks() {
        let data: Vec<u8> = (0..(CHUNK_SIZE * 2 + 5000))
            .map(|i| (i * 7) as u8)
            .collect();
        let mut hasher = ChunkHasher::default();
        for piece in data.chunks(100_003) {
            hasher.update(piece);
        }
        let table = hasher.finish();
        assert_eq!(table.count(), 3);
        assert!(table.is_consistent());
        for i in 0..3 {
            let r = table.range(i);
            assert!(table.matches(i, &data[r.start as usize..r.end as usize]));
        }
        assert!(!table.matches(2, &data[1..5001]));
        let hex = table.to_hex();
        assert_eq!(
            ChunkTable::from_hex(CHUNK_SIZE, table.len, &hex),
            Some(table)
        );
        assert_eq!(ChunkTable::from_hex(CHUNK_SIZE, 10, &hex), None);
    }
}
