//! A client-side rate limit shared by every download of a run: it simulates a player's link,
//! so a benchmark on loopback measures what a launcher on that link would see.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How far ahead of the link's pace bytes may be let through at once: the link's buffer.
const BURST: Duration = Duration::from_millis(50);

/// A token bucket over all downloads: callers ask before they consume received bytes.
/// Urgent bytes (a game waiting for a read) go first: while any wait, background bytes do.
#[derive(Debug)]
pub struct RateLimit {
    bytes_per_second: f64,
    /// When the link is free again: every byte let through moves it by `1 / rate`.
    free_at: Mutex<Instant>,
    /// Urgent transfers under way.
    urgent: AtomicU64,
    /// Signalled when the last urgent transfer ends.
    urgent_done: Notify,
}

impl RateLimit {
    /// A limit of `bytes_per_second`.
    pub fn new(bytes_per_second: u64) -> Self {
        Self {
            bytes_per_second: bytes_per_second.max(1) as f64,
            free_at: Mutex::new(Instant::now()),
            urgent: AtomicU64::new(0),
            urgent_done: Notify::new(),
        }
    }

    /// Waits until `bytes` more may pass; background bytes (not `urgent`) wait while any
    /// urgent transfer is under way (see [`RateLimit::urgent`]).
    pub async fn take(&self, bytes: u64, urgent: bool) {
        if !urgent {
            self.no_urgent_transfer().await;
        }
        self.pace(bytes).await;
    }

    /// Waits until no urgent transfer is under way.
    async fn no_urgent_transfer(&self) {
        loop {
            let done = self.urgent_done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if self.urgent.load(Ordering::Acquire) == 0 {
                return;
            }
            done.await;
        }
    }

    /// Marks an urgent transfer under way until the guard is dropped: background bytes wait
    /// meanwhile, so a waiting game gets the whole link.
    pub fn urgent(&self) -> UrgentTransfer<'_> {
        self.urgent.fetch_add(1, Ordering::AcqRel);
        UrgentTransfer(self)
    }

    /// Reserves the link for `bytes` and waits for their turn.
    async fn pace(&self, bytes: u64) {
        let wait = {
            // A poisoned lock only means another download panicked; the time is still valid.
            let mut free_at = self.free_at.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let start = (*free_at).max(now);
            *free_at = start + Duration::from_secs_f64(bytes as f64 / self.bytes_per_second);
            free_at.saturating_duration_since(now + BURST)
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// An urgent transfer under way (see [`RateLimit::urgent`]).
pub struct UrgentTransfer<'a>(&'a RateLimit);

impl Drop for UrgentTransfer<'_> {
    fn drop(&mut self) {
        if self.0.urgent.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.urgent_done.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_pace_is_the_rate() {
        let limit = RateLimit::new(1_000_000);
        let started = Instant::now();
        for _ in 0..20 {
            limit.take(10_000, false).await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        // 200 kB at 1 MB/s take 0.2 s, less the burst allowance; never less.
        assert!(elapsed >= 0.14, "{elapsed} s");
    }
}
