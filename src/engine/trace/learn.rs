//! Training: the traces of one image become an access order for the build.
//!
//! 1. Each trace gives, for every block it read, where in the session it was first read: its
//!    position, the distinct blocks read before it, as a share of the session's distinct
//!    blocks (of those read before launch for a block read before launch). Positions, not
//!    milliseconds: a slower machine or a stalled read moves every time after it, not the
//!    order.
//! 2. Outliers are set aside: a session (of three or more with a launch) whose blocks read
//!    before launch share, with the others, a median Jaccard similarity below
//!    `outlier_share` × the sessions' typical (median) one — a different level, a broken
//!    machine, a truncated trace.
//! 3. The preload: every block read before launch by at least `preload_quorum` of the sessions
//!    used (at least one), in the median of its positions. Then the blocks the sessions read
//!    later, in the median of their positions. The rest of the image follows in file order
//!    when the image is rebuilt.
//! 4. The blocks are named by the file blocks that hold them ([`Cover`]): the order is an
//!    access-order file, readable and usable with `image build --order` on the build's tar.

use std::collections::BTreeMap;

use super::Trace;
use super::cover::Cover;
use crate::engine::image::{AccessOrder, IndexEntry};

/// The knobs of training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingSettings {
    /// A session whose median similarity to the others is below this share of the typical
    /// session's is an outlier (0 keeps every session).
    pub outlier_share: f64,
    /// Share of the sessions used that must read a block before launch for it to be in the
    /// preload; 0 means any one of them.
    pub preload_quorum: f64,
}

impl Default for TrainingSettings {
    fn default() -> Self {
        Self {
            outlier_share: 0.5,
            preload_quorum: 0.0,
        }
    }
}

/// What training learned.
#[derive(Debug, Clone)]
pub struct Learned {
    /// The access order: the preload's runs, a `launch` line, the runs read later.
    pub order: AccessOrder,
    /// The traces the order was made from (indexes into the input).
    pub used: Vec<usize>,
    /// The traces set aside as outliers.
    pub outliers: Vec<usize>,
    /// How many of the traces used say when the game launched.
    pub launched: usize,
}

/// A stretch of image blocks `[start, end)` a session first read together.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: u64,
    end: u64,
    /// Distinct blocks the session read before this read.
    position: u64,
    before_launch: bool,
}

/// One trace as first reads.
struct Session {
    /// Disjoint, sorted by block.
    pieces: Vec<Piece>,
    /// Distinct blocks read, and of those read before launch.
    total: u64,
    before_launch: u64,
    launched: bool,
}

impl Session {
    fn of(trace: &Trace) -> Self {
        let mut seen: BTreeMap<u64, u64> = BTreeMap::new();
        let mut pieces = Vec::new();
        let mut total = 0;
        let mut before_launch = 0;
        for &[t, first, count] in &trace.reads {
            let early = trace.launch_ms.is_some_and(|launch| t < launch);
            let position = total;
            for (start, end) in unseen(&seen, first, first.saturating_add(count)) {
                pieces.push(Piece {
                    start,
                    end,
                    position,
                    before_launch: early,
                });
                total += end - start;
                if early {
                    before_launch += end - start;
                }
            }
            insert(&mut seen, first, first.saturating_add(count));
        }
        pieces.sort_by_key(|p| p.start);
        Self {
            pieces,
            total,
            before_launch,
            launched: trace.launch_ms.is_some(),
        }
    }

    /// The blocks read before launch, as sorted disjoint ranges.
    fn early(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.pieces
            .iter()
            .filter(|p| p.before_launch)
            .map(|p| (p.start, p.end))
    }
}

/// The parts of `[start, end)` not in `seen` (disjoint ranges keyed by start).
fn unseen(seen: &BTreeMap<u64, u64>, start: u64, end: u64) -> Vec<(u64, u64)> {
    let mut parts = Vec::new();
    let mut at = start;
    let before = seen.range(..=start).next_back().map(|(&s, &e)| (s, e));
    for (s, e) in before
        .into_iter()
        .chain(seen.range(start + 1..end).map(|(&s, &e)| (s, e)))
    {
        if e <= at {
            continue;
        }
        if s > at {
            parts.push((at, s.min(end)));
        }
        at = at.max(e);
        if at >= end {
            break;
        }
    }
    if at < end {
        parts.push((at, end));
    }
    parts
}

/// Adds `[start, end)` to `seen`, merging what it touches.
fn insert(seen: &mut BTreeMap<u64, u64>, mut start: u64, mut end: u64) {
    if let Some((&s, &e)) = seen.range(..=start).next_back()
        && e >= start
    {
        start = s;
        end = end.max(e);
    }
    let touched: Vec<u64> = seen.range(start..=end).map(|(&s, _)| s).collect();
    for s in touched {
        if let Some(e) = seen.remove(&s) {
            end = end.max(e);
        }
    }
    seen.insert(start, end);
}

/// Blocks in both sorted disjoint range lists.
fn overlap(a: &[(u64, u64)], b: &[(u64, u64)]) -> u64 {
    let (mut i, mut j, mut shared) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        let (start, end) = (a[i].0.max(b[j].0), a[i].1.min(b[j].1));
        shared += end.saturating_sub(start);
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    shared
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The sessions among `launched` whose early blocks are unlike the others'.
fn outliers(sessions: &[Session], launched: &[usize], share: f64) -> Vec<usize> {
    if launched.len() < 3 || share <= 0.0 {
        return Vec::new();
    }
    let early: Vec<Vec<(u64, u64)>> = launched
        .iter()
        .map(|&i| sessions[i].early().collect())
        .collect();
    let sizes: Vec<u64> = launched
        .iter()
        .map(|&i| sessions[i].before_launch)
        .collect();
    let similarity = |a: usize, b: usize| {
        let shared = overlap(&early[a], &early[b]);
        let union = sizes[a] + sizes[b] - shared;
        if union == 0 {
            1.0
        } else {
            shared as f64 / union as f64
        }
    };
    let medians: Vec<f64> = (0..launched.len())
        .map(|a| {
            let mut all: Vec<f64> = (0..launched.len())
                .filter(|&b| b != a)
                .map(|b| similarity(a, b))
                .collect();
            median(&mut all)
        })
        .collect();
    let typical = median(&mut medians.clone());
    launched
        .iter()
        .zip(&medians)
        .filter(|(_, m)| **m < share * typical)
        .map(|(&i, _)| i)
        .collect()
}

/// Learns an access order from `traces` of the image whose index holds `entries`. The traces
/// must have been checked against that image.
pub fn learn(traces: &[Trace], entries: &[IndexEntry], settings: &TrainingSettings) -> Learned {
    let sessions: Vec<Session> = traces.iter().map(Session::of).collect();
    let launched: Vec<usize> = (0..sessions.len())
        .filter(|&i| sessions[i].launched)
        .collect();
    let outliers = outliers(&sessions, &launched, settings.outlier_share);
    let used: Vec<usize> = (0..sessions.len())
        .filter(|i| !outliers.contains(i))
        .collect();
    let launched_used = used.iter().filter(|&&i| sessions[i].launched).count();
    let quorum = ((settings.preload_quorum * launched_used as f64).ceil() as usize).max(1);
    let (mut early, mut late) = rank(&sessions, &used, quorum);
    early.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    late.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));

    let cover = Cover::new(entries);
    let mut runs = Vec::new();
    for &(_, start, end) in &early {
        cover.file_runs((start, end), &mut runs);
    }
    let mut later = Vec::new();
    for &(_, start, end) in &late {
        cover.file_runs((start, end), &mut later);
    }
    let preload_runs = runs.len();
    runs.extend(later);
    for (i, run) in runs.iter_mut().enumerate() {
        run.line = i + 1;
    }
    Learned {
        order: AccessOrder {
            filename: "traces".into(),
            runs,
            launch: Some(preload_runs),
        },
        used,
        outliers,
        launched: launched_used,
    }
}

/// Stretches of image blocks `(median position, start, end)`.
type Ranked = Vec<(f64, u64, u64)>;

/// Splits the blocks the `used` sessions read into stretches read by the same sessions;
/// returns those in the preload (read before launch by `quorum` sessions) and the others,
/// each as `(median position, start, end)`.
fn rank(sessions: &[Session], used: &[usize], quorum: usize) -> (Ranked, Ranked) {
    let mut bounds: Vec<u64> = used
        .iter()
        .flat_map(|&i| sessions[i].pieces.iter().flat_map(|p| [p.start, p.end]))
        .collect();
    bounds.sort_unstable();
    bounds.dedup();
    let mut next = vec![0usize; used.len()];
    let (mut early, mut late) = (Vec::new(), Vec::new());
    let (mut early_keys, mut all_keys) = (Vec::new(), Vec::new());
    for pair in bounds.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        early_keys.clear();
        all_keys.clear();
        for (k, &i) in used.iter().enumerate() {
            let session = &sessions[i];
            while next[k] < session.pieces.len() && session.pieces[next[k]].end <= start {
                next[k] += 1;
            }
            let Some(piece) = session.pieces.get(next[k]).filter(|p| p.start <= start) else {
                continue;
            };
            all_keys.push(piece.position as f64 / session.total.max(1) as f64);
            if piece.before_launch {
                early_keys.push(piece.position as f64 / session.before_launch.max(1) as f64);
            }
        }
        if early_keys.len() >= quorum {
            early.push((median(&mut early_keys), start, end));
        } else if !all_keys.is_empty() {
            late.push((median(&mut all_keys), start, end));
        }
    }
    (early, late)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unseen_and_insert_keep_disjoint_ranges() {
        let mut seen = BTreeMap::new();
        insert(&mut seen, 10, 20);
        insert(&mut seen, 30, 40);
        assert_eq!(unseen(&seen, 5, 45), vec![(5, 10), (20, 30), (40, 45)]);
        assert_eq!(unseen(&seen, 12, 18), vec![]);
        insert(&mut seen, 15, 35);
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![(10, 40)]);
    }

    fn session(reads: &[[u64; 3]], launch: u64) -> Trace {
        Trace {
            dxf_name: "d".into(),
            block_size: 4096,
            launch_ms: Some(launch),
            reads: reads.to_vec(),
        }
    }

    fn one_file(blocks: u64) -> Vec<IndexEntry> {
        vec![IndexEntry {
            path: "data.pak".into(),
            kind: crate::engine::tar::EntryKind::Regular,
            mode: 0o644,
            size: blocks * 4096,
            md5: [0; 16],
            link_target: None,
            extents: vec![crate::engine::image::Extent {
                file_block: 0,
                image_block: 0,
                count: blocks,
                repeat: false,
            }],
        }]
    }

    fn runs(order: &AccessOrder) -> Vec<(u64, u64)> {
        order
            .runs
            .iter()
            .map(|r| (r.first_block, r.block_count))
            .collect()
    }

    #[test]
    fn jitter_is_smoothed_and_an_outlier_set_aside() {
        let boot = [[0, 40, 10], [5, 0, 10], [9, 70, 5]];
        let swapped = [[0, 0, 10], [5, 40, 10], [9, 70, 5]];
        let mut traces = vec![
            session(&[boot[0], boot[1], boot[2], [30, 90, 2]], 20),
            session(&swapped, 20),
            session(&[boot[0], boot[1], boot[2], [25, 95, 1]], 20),
        ];
        traces.push(session(&[[0, 20, 15], [3, 60, 5]], 10));
        let learned = learn(&traces, &one_file(100), &TrainingSettings::default());
        assert_eq!(learned.outliers, vec![3]);
        assert_eq!((learned.used.len(), learned.launched), (3, 3));
        assert_eq!(learned.order.launch, Some(3));
        // Two sessions of three read 40.. first: it leads. The reads after launch follow, by
        // their share of their session (25 of 27 blocks, then 25 of 26).
        assert_eq!(
            runs(&learned.order),
            vec![(40, 10), (0, 10), (70, 5), (90, 2), (95, 1)]
        );
    }

    #[test]
    fn a_quorum_keeps_rare_blocks_out_of_the_preload() {
        let traces = [
            session(&[[0, 0, 4], [1, 10, 1]], 5),
            session(&[[0, 0, 4]], 5),
            session(&[[0, 0, 4]], 5),
        ];
        let settings = TrainingSettings {
            preload_quorum: 0.5,
            ..TrainingSettings::default()
        };
        let learned = learn(&traces, &one_file(20), &settings);
        assert_eq!(runs(&learned.order), vec![(0, 4), (10, 1)]);
        assert_eq!(learned.order.launch, Some(1));
        let every = learn(&traces, &one_file(20), &TrainingSettings::default());
        assert_eq!(every.order.launch, Some(2));
    }

    #[test]
    fn overlap_counts_shared_blocks() {
        assert_eq!(overlap(&[(0, 10), (20, 30)], &[(5, 25)]), 10);
        assert_eq!(overlap(&[], &[(5, 25)]), 0);
    }
}
