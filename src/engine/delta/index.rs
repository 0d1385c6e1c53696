//! Suffix array over the old window, with a two-byte bucket table and a longest-match search
//! that prefers, among equally long matches, the one nearest an expected old position (so the
//! delta of copy addresses stays small and compresses well).

/// Number of entries of the bucket table: one per two-byte prefix, plus the end.
const BUCKETS: usize = 1 << 16;

/// How many equally long neighbours of a match are inspected to find the nearest one.
const NEAREST_PROBES: usize = 24;

/// Matches at least this long are not re-examined for a nearer candidate: their address
/// cost is negligible next to the bytes they cover.
const NEAREST_MAX_LEN: usize = 2048;

/// Largest old window the index accepts (the suffix sorter works with `i32` indices).
pub const MAX_WINDOW: usize = i32::MAX as usize;

/// Memory of a [`SuffixIndex`] beyond the old bytes it borrows: 4 bytes per old byte for
/// the suffix array plus the fixed bucket table.
pub const fn index_bytes(old_len: usize) -> usize {
    old_len * 4 + (BUCKETS + 1) * 4
}

/// Suffix array over an old window, ready for longest-match queries.
pub struct SuffixIndex<'a> {
    old: &'a [u8],
    sa: Vec<i32>,
    buckets: Vec<u32>,
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

impl<'a> SuffixIndex<'a> {
    /// Sorts the suffixes of `old`. `old.len()` must not exceed [`MAX_WINDOW`]; the caller
    /// checks it.
    pub fn new(old: &'a [u8]) -> Self {
        let sa = if old.is_empty() {
            Vec::new()
        } else {
            divsufsort::sort(old).into_parts().1
        };
        let mut counts = vec![0u32; BUCKETS + 1];
        for &p in &sa {
            let p = p as usize;
            if p + 1 < old.len() {
                counts[Self::key(old[p], old[p + 1]) + 1] += 1;
            }
        }
        // Suffixes of length 1 sort before every longer suffix starting with the same byte,
        // so the two-byte buckets are contiguous runs once those are skipped; we record where
        // each run starts by scanning the array itself.
        let mut buckets = vec![0u32; BUCKETS + 1];
        let mut next = 0usize;
        for (i, &p) in sa.iter().enumerate() {
            let p = p as usize;
            if p + 1 >= old.len() {
                continue;
            }
            let k = Self::key(old[p], old[p + 1]);
            while next <= k {
                buckets[next] = i as u32;
                next += 1;
            }
        }
        while next <= BUCKETS {
            buckets[next] = sa.len() as u32;
            next += 1;
        }
        Self { old, sa, buckets }
    }

    fn key(a: u8, b: u8) -> usize {
        (usize::from(a) << 8) | usize::from(b)
    }

    /// The old window this index covers.
    pub fn old(&self) -> &'a [u8] {
        self.old
    }

    /// Range of suffix-array slots whose suffixes start with `a b`. The single-byte suffix
    /// at the very end of the window may sit inside the range; searches tolerate it.
    fn bucket(&self, a: u8, b: u8) -> (usize, usize) {
        let k = Self::key(a, b);
        (self.buckets[k] as usize, self.buckets[k + 1] as usize)
    }

    /// Longest prefix of `target` found in the old window: `(length, old position)`.
    /// Among matches of the same length near the first one found, the one closest to
    /// `prefer` wins. Returns length 0 when not even two bytes match.
    pub fn longest_match(&self, target: &[u8], prefer: usize) -> (usize, usize) {
        if target.len() < 2 || self.old.len() < 2 {
            return (0, 0);
        }
        let (mut lo, mut hi) = self.bucket(target[0], target[1]);
        if lo >= hi {
            return (0, 0);
        }
        let (bucket_lo, bucket_hi) = (lo, hi);
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
        let best_pos = self.sa[best_idx] as usize;
        if best_len >= NEAREST_MAX_LEN || best_pos == prefer {
            return (best_len, best_pos);
        }
        (
            best_len,
            self.nearest(target, best_len, best_idx, prefer, bucket_lo, bucket_hi),
        )
    }

    /// Among the suffix-array neighbours of slot `idx` sharing `len` bytes with `target`,
    /// the old position closest to `prefer`.
    fn nearest(
        &self,
        target: &[u8],
        len: usize,
        idx: usize,
        prefer: usize,
        lo: usize,
        hi: usize,
    ) -> usize {
        let dist = |p: usize| p.abs_diff(prefer);
        let mut best = self.sa[idx] as usize;
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
        let mut j = idx + 1;
        for _ in 0..NEAREST_PROBES {
            if j >= hi || !shares(j) {
                break;
            }
            let p = self.sa[j] as usize;
            if dist(p) < dist(best) {
                best = p;
            }
            j += 1;
        }
        best
    }
}
