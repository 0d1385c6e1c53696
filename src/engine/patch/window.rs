//! Which bytes of the old image the differ indexes when the whole image does not fit in the
//! memory budget: the places the block map predicts the changed blocks came from (each
//! `patch.data` run's anchor, see [`crate::engine::delta::Anchor`]), every run getting the
//! same share of its length, then margins around them while room is left.

use crate::engine::delta::Anchor;

/// Widest margin added on each side of a predicted region.
const MAX_MARGIN: u64 = 1 << 20;

/// Old-image regions `(offset, length)`, ascending and not overlapping, holding at most
/// `window_len` bytes of an old image of `old_len` bytes. `anchors` are the map's anchors
/// in order; `data_len` is the size of `patch.data`, which ends the last anchor's run. Each
/// run's predicted old bytes are taken, cut to the fraction `window_len / data_len` of the
/// run when the runs do not all fit (so every changed file gets its start indexed); the room
/// left then widens every region by the same margin on both sides (at most 1 MiB).
pub fn regions_by_content(
    anchors: impl Iterator<Item = Anchor>,
    data_len: u64,
    old_len: u64,
    window_len: u64,
) -> Vec<(u64, u64)> {
    let mut cores = Vec::new();
    let mut taken = 0u64;
    let mut anchors = anchors.peekable();
    while let Some(anchor) = anchors.next() {
        let run_end = anchors.peek().map_or(data_len, |next| next.new_pos);
        let start = anchor.old_pos.min(old_len);
        let run = run_end.saturating_sub(anchor.new_pos);
        let share = (u128::from(run) * u128::from(window_len) / u128::from(data_len.max(1))) as u64;
        let len = run.min(share).min(old_len - start).min(window_len - taken);
        if len > 0 {
            cores.push((start, start + len));
            taken += len;
        }
        if taken == window_len {
            break;
        }
    }
    let mut regions = merge(cores);
    let held = |regions: &[(u64, u64)]| regions.iter().map(|r| r.1 - r.0).sum::<u64>();
    let room = window_len - held(&regions);
    if !regions.is_empty() && room > 0 {
        let margin = (room / (2 * regions.len() as u64)).min(MAX_MARGIN);
        let widened = regions
            .iter()
            .map(|&(s, e)| (s.saturating_sub(margin), (e + margin).min(old_len)))
            .collect();
        // Merging overlapping margins can only shrink the total, so the window still fits.
        regions = merge(widened);
    }
    regions.into_iter().map(|(s, e)| (s, e - s)).collect()
}

/// Sorts `[start, end)` ranges and merges those that overlap or touch.
fn merge(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(new_pos: u64, old_pos: u64) -> Anchor {
        Anchor { new_pos, old_pos }
    }

    #[test]
    fn predicted_runs_first_then_margins() {
        let anchors = [anchor(0, 10_000), anchor(100, 50_000), anchor(300, 90_000)];
        // Room for the three runs (100 + 200 + 50 bytes) and 30 bytes of margin each side.
        let regions = regions_by_content(anchors.into_iter(), 350, 1_000_000, 530);
        assert_eq!(
            regions,
            [(9_970, 160), (49_970, 260), (89_970, 110)],
            "runs widened evenly"
        );
        // A window smaller than the runs gives each run the same share of its length.
        let regions = regions_by_content(anchors.into_iter(), 350, 1_000_000, 150);
        assert_eq!(regions, [(10_000, 42), (50_000, 85), (90_000, 21)]);
    }

    #[test]
    fn predictions_outside_old_and_overlaps_are_handled() {
        let anchors = [anchor(0, 5_000_000), anchor(10, 100), anchor(20, 105)];
        let regions = regions_by_content(anchors.into_iter(), 40, 1_000, 100);
        let total: u64 = regions.iter().map(|r| r.1).sum();
        assert!(total <= 100, "{regions:?}");
        assert!(regions.iter().all(|&(s, l)| s + l <= 1_000), "{regions:?}");
        assert!(
            regions.windows(2).all(|w| w[0].0 + w[0].1 < w[1].0),
            "{regions:?}"
        );
        assert!(regions.iter().any(|&(s, l)| s <= 100 && s + l >= 125));
    }
}
