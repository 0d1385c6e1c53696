//! A client-side rate limit shared by every download of a run: it simulates a player's link,
//! so a benchmark on loopback measures what a launcher on that link would see.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How far ahead of the link's pace bytes may be let through at once: the link's buffer.
const BURST: Duration = Duration::from_millis(50);

/// A token bucket over all downloads: callers ask before they consume received bytes.
#[derive(Debug)]
pub struct RateLimit {
    bytes_per_second: f64,
    /// When the link is free again: every byte let through moves it by `1 / rate`.
    free_at: Mutex<Instant>,
}

impl RateLimit {
    /// A limit of `bytes_per_second`.
    pub fn new(bytes_per_second: u64) -> Self {
        Self {
            bytes_per_second: bytes_per_second.max(1) as f64,
            free_at: Mutex::new(Instant::now()),
        }
    }

    /// Waits until `bytes` more may pass.
    pub async fn take(&self, bytes: u64) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_pace_is_the_rate() {
        let limit = RateLimit::new(1_000_000);
        let started = Instant::now();
        for _ in 0..20 {
            limit.take(10_000).await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        // 200 kB at 1 MB/s take 0.2 s, less the burst allowance; never less.
        assert!(elapsed >= 0.14, "{elapsed} s");
    }
}
