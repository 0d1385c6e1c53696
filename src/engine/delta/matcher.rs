//! Finding covers: stretches of new that are coded as "old bytes at some position plus a
//! bytewise difference". The scan is bsdiff's (Colin Percival, "Naive differences of
//! executable code"): exact suffix-array matches are anchors, and each anchor's alignment
//! is extended forwards and backwards while more than half of the bytes agree, so code whose
//! embedded addresses all moved by a constant becomes one long cover with a mostly-zero
//! difference. Address choice prefers the candidate nearest the running alignment.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::index::SuffixIndex;

/// A stretch of new coded against old: `new[new_pos..new_pos + len]` is
/// `old[old_pos..old_pos + len]` plus a bytewise difference. Positions are in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cover {
    /// Start in the new data.
    pub new_pos: usize,
    /// Start in the old window.
    pub old_pos: usize,
    /// Length in bytes.
    pub len: usize,
}

/// Tuning of the cover search.
#[derive(Debug, Clone, Copy)]
pub struct MatchParams {
    /// An exact match must beat the running alignment by more than this many agreeing
    /// bytes before a new cover starts there: the break-even of a control record against
    /// the bytes it saves after compression.
    pub min_gain: usize,
    /// The same for a match that starts with text (see [`is_text`]): edits of text are
    /// small and scattered, so a new cover there pays for its control record only after
    /// more agreeing bytes than in binary data, where the reference maps make even short
    /// covers of moved code cheap.
    pub min_gain_text: usize,
    /// How many agreeing bytes one disagreeing byte cancels when extending an alignment
    /// (bsdiff uses 1): a lone nonzero difference byte costs several compressed bytes.
    pub mismatch_cost: isize,
    /// Threads scanning segments of new in parallel; the output does not depend on it.
    pub threads: usize,
}

impl Default for MatchParams {
    fn default() -> Self {
        Self {
            min_gain: 8,
            min_gain_text: 32,
            mismatch_cost: 2,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Bytes of a match looked at by [`is_text`].
const TEXT_PROBE: usize = 32;

/// Whether a match is text: its first [`TEXT_PROBE`] bytes (all of a shorter one) are
/// printable ASCII, tab, line feed or carriage return.
fn is_text(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(TEXT_PROBE)]
        .iter()
        .all(|&b| matches!(b, b'\t' | b'\n' | b'\r' | 0x20..=0x7E))
}

/// True when `old[o]` exists and equals `b`, `o` being a signed alignment result.
fn agrees(old: &[u8], o: isize, b: u8) -> bool {
    o >= 0 && (o as usize) < old.len() && old[o as usize] == b
}

/// Longest stretch of new scanned as one piece. Fixed (not derived from the thread count)
/// so that the output does not depend on the machine; each boundary costs one cover break.
pub const SEGMENT: usize = 16 << 20;

/// A stretch of new scanned on its own: covers never cross the boundaries between pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Start in the new data.
    pub start: usize,
    /// End (exclusive) in the new data.
    pub end: usize,
    /// Old window position the piece's first byte is first assumed to align with.
    pub guess: usize,
}

/// Covers of `new` against the indexed old window, sorted by `new_pos` (relative to `new`),
/// not overlapping: each of `pieces` (ascending, together covering `new`) scanned on its
/// own, on up to `params.threads` threads.
pub fn find_covers(
    index: &SuffixIndex<'_>,
    new: &[u8],
    pieces: &[Piece],
    params: MatchParams,
) -> Vec<Cover> {
    let threads = params.threads.clamp(1, pieces.len().max(1));
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(piece) = pieces.get(i) else {
                return done;
            };
            done.push((i, scan_piece(index, new, piece, params)));
        }
    };
    let mut results: Vec<(usize, Vec<Cover>)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for h in helpers {
            match h.join() {
                Ok(part) => all.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    results.sort_unstable_by_key(|r| r.0);
    results.into_iter().flat_map(|r| r.1).collect()
}

/// Covers of `new[piece.start..piece.end]`: bsdiff's scan, with matches cut at the piece's
/// end, starting from the piece's guessed alignment.
fn scan_piece(
    index: &SuffixIndex<'_>,
    new: &[u8],
    piece: &Piece,
    params: MatchParams,
) -> Vec<Cover> {
    let old = index.old();
    let (start, n) = (piece.start, piece.end);
    let mut covers = Vec::new();
    let (mut scan, mut len, mut pos) = (start, 0usize, 0usize);
    let (mut last_scan, mut last_pos) = (start, piece.guess.min(old.len()));
    let mut last_offset = last_pos as isize - start as isize;
    while scan < n {
        let mut old_score = 0usize;
        scan += len;
        let mut scsc = scan;
        while scan < n {
            let slot;
            (len, slot) = index.longest_match(&new[scan..n]);
            while scsc < scan + len {
                if agrees(old, scsc as isize + last_offset, new[scsc]) {
                    old_score += 1;
                }
                scsc += 1;
            }
            let min_gain = if is_text(&new[scan..scan + len]) {
                params.min_gain_text
            } else {
                params.min_gain
            };
            if (len == old_score && len != 0) || len > old_score + min_gain {
                let prefer = (scan as isize + last_offset).max(0) as usize;
                pos = index.nearest(&new[scan..n], len, slot, prefer);
                break;
            }
            if agrees(old, scan as isize + last_offset, new[scan]) {
                old_score = old_score.saturating_sub(1);
            }
            scan += 1;
        }
        if len != old_score || scan == n {
            let k = params.mismatch_cost;
            let mut lenf = extend_forward(old, new, last_scan, last_pos, scan, k);
            let mut lenb = if scan < n {
                extend_backward(old, new, last_scan, scan, pos, k)
            } else {
                0
            };
            if last_scan + lenf > scan - lenb {
                let overlap = last_scan + lenf - (scan - lenb);
                let split = split_overlap(
                    old,
                    new,
                    (last_scan + lenf, last_pos + lenf),
                    (scan - lenb, pos - lenb),
                    overlap,
                );
                lenf = lenf + split - overlap;
                lenb -= split;
            }
            if lenf > 0 {
                covers.push(Cover {
                    new_pos: last_scan,
                    old_pos: last_pos,
                    len: lenf,
                });
            }
            last_scan = scan - lenb;
            last_pos = pos - lenb;
            last_offset = pos as isize - scan as isize;
        }
    }
    covers
}

/// How far the alignment `new[scan..] ~ old[pos..]` should run forwards (up to `end`):
/// the length maximising `agreeing - k * disagreeing`.
fn extend_forward(old: &[u8], new: &[u8], scan: usize, pos: usize, end: usize, k: isize) -> usize {
    let limit = (end - scan).min(old.len().saturating_sub(pos));
    let (mut s, mut best_score, mut best_len) = (0isize, 0isize, 0usize);
    for i in 0..limit {
        s += if old[pos + i] == new[scan + i] { 1 } else { -k };
        let score = s;
        if score > best_score {
            best_score = score;
            best_len = i + 1;
        }
    }
    best_len
}

/// How far the alignment ending at `new[scan]`, `old[pos]` should run backwards, no further
/// than `floor` in new.
fn extend_backward(
    old: &[u8],
    new: &[u8],
    floor: usize,
    scan: usize,
    pos: usize,
    k: isize,
) -> usize {
    let limit = (scan - floor).min(pos);
    let (mut s, mut best_score, mut best_len) = (0isize, 0isize, 0usize);
    for i in 1..=limit {
        s += if old[pos - i] == new[scan - i] { 1 } else { -k };
        let score = s;
        if score > best_score {
            best_score = score;
            best_len = i;
        }
    }
    best_len
}

/// Where to cut an `overlap`-byte stretch claimed both by the forward extension ending at
/// `fwd_end` (new, old ends) and the backward one starting at `bwd_start`: the number of
/// bytes to keep in the forward cover.
fn split_overlap(
    old: &[u8],
    new: &[u8],
    fwd_end: (usize, usize),
    bwd_start: (usize, usize),
    overlap: usize,
) -> usize {
    let (mut s, mut best, mut keep) = (0isize, 0isize, 0usize);
    for i in 0..overlap {
        let (fn_, fo) = (fwd_end.0 - overlap + i, fwd_end.1 - overlap + i);
        if new[fn_] == old[fo] {
            s += 1;
        }
        if new[bwd_start.0 + i] == old[bwd_start.1 + i] {
            s -= 1;
        }
        if s > best {
            best = s;
            keep = i + 1;
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::is_text;

    #[test]
    fn text_is_printable_ascii_and_line_breaks_in_the_first_bytes() {
        assert!(is_text(
            b"export function add(a, b) {\n\treturn a + b;\r\n}"
        ));
        assert!(!is_text(b"\x48\x8b\x05\x10\x00\x00\x00 then text"));
        assert!(!is_text("caf\u{e9} au lait".as_bytes()));
        // Only the first 32 bytes count.
        let late = [&[b'a'; 32][..], &[0u8; 8]].concat();
        assert!(is_text(&late));
    }
}
