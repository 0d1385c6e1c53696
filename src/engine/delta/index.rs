//! Suffix array over the old window, with a two- or three-byte bucket table and a
//! longest-match search that prefers, among equally long matches, the one nearest an expected
//! old position (so the delta of copy addresses stays small and compresses well).

/// Old windows at least this large get a three-byte bucket table (64 MiB, fewer binary
/// search steps, each a cache miss); smaller ones a two-byte table (256 KiB).
const LARGE_WINDOW: usize = 16 << 20;

/// How many equally long neighbours of a match are inspected to find the nearest one.
const NEAREST_PROBES: usize = 24;

/// Matches at least this long are not re-examined for a nearer candidate: their address
/// cost is negligible next to the bytes they cover.
const NEAREST_MAX_LEN: usize = 2048;

/// Largest old window the index accepts (the suffix sorter works with `i32` indices).
pub const MAX_WINDOW: usize = i32::MAX as usize;

/// Memory of a [`SuffixIndex`] beyond the old bytes it borrows: 4 bytes per old byte for
/// the suffix array plus the bucket table (256 KiB, or 64 MiB from 16 MiB of old on).
pub const fn index_bytes(old_len: usize) -> usize {
    old_len * 4 + ((1 << (8 * prefix_len(old_len))) + 1) * 4
}

/// Bytes of prefix the bucket table distinguishes for an old window of `old_len` bytes.
const fn prefix_len(old_len: usize) -> usize {
    if old_len >= LARGE_WINDOW { 3 } else { 2 }
}

/// Suffix array over an old window, ready for longest-match queries.
pub struct SuffixIndex<'a> {
    old: &'a [u8],
    sa: Vec<i32>,
    buckets: Vec<u32>,
    /// Prefix bytes the bucket table distinguishes (2 or 3).
    plen: usize,
}

/// Length of the common prefix of `a` and `b`, eight bytes at a time.
pub fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        let d = x ^ y;
        if d != 0 {
            return i + (d.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Suffix array of `old` (non-empty, at most [`MAX_WINDOW`] bytes) with libsais, the
/// fastest known construction; the pure-Rust divsufsort port is the fallback should libsais
/// refuse the input.
fn sort_suffixes(old: &[u8]) -> Vec<i32> {
    libsais::SuffixArrayConstruction::for_text(old)
        .in_owned_buffer32()
        .single_threaded()
        .run()
        .map(|sa| sa.into_vec())
        .unwrap_or_else(|_| divsufsort::sort(old).into_parts().1)
}

impl<'a> SuffixIndex<'a> {
    /// Sorts the suffixes of `old`. `old.len()` must not exceed [`MAX_WINDOW`]; the caller
    /// checks it.
    pub fn new(old: &'a [u8]) -> Self {
        let sa = if old.is_empty() {
            Vec::new()
        } else {
            sort_suffixes(old)
        };
        let plen = prefix_len(old.len());
        let buckets_len = 1usize << (8 * plen);
        // Suffixes shorter than the prefix sort before the longer ones sharing their bytes;
        // skipping them, each prefix's suffixes form one contiguous run, whose start we
        // record by scanning the array.
        let mut buckets = vec![0u32; buckets_len + 1];
        let mut next = 0usize;
        for (i, &p) in sa.iter().enumerate() {
            let Some(k) = Self::key(&old[p as usize..], plen) else {
                continue;
            };
            while next <= k {
                buckets[next] = i as u32;
                next += 1;
            }
        }
        while next <= buckets_len {
            buckets[next] = sa.len() as u32;
            next += 1;
        }
        Self {
            old,
            sa,
            buckets,
            plen,
        }
    }

    /// Bucket of a suffix or target: its first `plen` bytes, big-endian.
    fn key(s: &[u8], plen: usize) -> Option<usize> {
        let head = s.get(..plen)?;
        Some(head.iter().fold(0usize, |k, &b| (k << 8) | usize::from(b)))
    }

    /// The old window this index covers.
    pub fn old(&self) -> &'a [u8] {
        self.old
    }

    /// Range of suffix-array slots whose suffixes start with `target`'s first `plen`
    /// bytes; empty when `target` is shorter. Suffixes shorter than the prefix may sit
    /// inside a range; searches tolerate them.
    fn bucket(&self, target: &[u8]) -> (usize, usize) {
        match Self::key(target, self.plen) {
            Some(k) => (self.buckets[k] as usize, self.buckets[k + 1] as usize),
            None => (0, 0),
        }
    }

    /// Longest prefix of `target` found in the old window: `(length, suffix-array slot)`.
    /// Length 0 when no match reaches the bucket prefix (2 or 3 bytes). [`SuffixIndex::nearest`] turns the slot into
    /// the best old position once the caller decides to use the match.
    pub fn longest_match(&self, target: &[u8]) -> (usize, usize) {
        let (mut lo, mut hi) = self.bucket(target);
        if lo >= hi {
            return (0, 0);
        }
        let (mut l_lcp, mut r_lcp) = (0usize, 0usize);
        let (mut best_len, mut best_idx) = (0usize, lo);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let suffix = &self.old[self.sa[mid] as usize..];
            let k = l_lcp.min(r_lcp).min(suffix.len());
            let m = k + common_prefix(&suffix[k..], &target[k..]);
            if m > best_len {
                best_len = m;
                best_idx = mid;
            }
            let less = m < target.len() && (m == suffix.len() || suffix[m] < target[m]);
            if less {
                lo = mid + 1;
                l_lcp = m;
            } else {
                hi = mid;
                r_lcp = m;
            }
        }
        (best_len, best_idx)
    }

    /// The old position of a match found by [`SuffixIndex::longest_match`] at slot `idx`:
    /// among the suffix-array neighbours sharing its `len` bytes with `target`, the one
    /// closest to `prefer` (long matches keep the slot's own position).
    pub fn nearest(&self, target: &[u8], len: usize, idx: usize, prefer: usize) -> usize {
        let mut best = self.sa.get(idx).map_or(0, |&p| p as usize);
        if len < self.plen || len >= NEAREST_MAX_LEN || best == prefer {
            return best;
        }
        let (lo, hi) = self.bucket(target);
        let dist = |p: usize| p.abs_diff(prefer);
        let shares = |slot: usize| {
            let p = self.sa[slot] as usize;
            common_prefix(&self.old[p..], &target[..len]) >= len
        };
        let mut j = idx;
        for _ in 0..NEAREST_PROBES {
            if j <= lo || !shares(j - 1) {
                break;
            }
            j -= 1;
            let p = self.sa[j] as usize;
            if dist(p) < dist(best) {
                best = p;
            }
        }
        for j in (idx + 1..hi).take(NEAREST_PROBES) {
            if !shares(j) {
                break;
            }
            let p = self.sa[j] as usize;
            if dist(p) < dist(best) {
                best = p;
            }
        }
        best
    }
}
