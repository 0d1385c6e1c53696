//! Login throttling: after too many failures in a row, a username or a client address is locked
//! out for a while, even for correct passwords, so guessing gains nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits for one kind of key (usernames or addresses).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Consecutive failures that trigger a lockout.
    pub max_failures: u32,
    pub lockout: Duration,
}

#[derive(Debug, Default)]
struct Entry {
    failures: u32,
    locked_until: Option<Instant>,
}

/// Failure counters per key; memory is bounded by pruning idle entries.
#[derive(Debug)]
pub struct Throttle {
    limits: Limits,
    entries: Mutex<HashMap<String, Entry>>,
}

/// Entries kept before idle ones are pruned.
const PRUNE_ABOVE: usize = 100_000;

impl Throttle {
    /// A throttle with the given limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds left of a lockout of `key`, if locked.
    pub fn locked(&self, key: &str) -> Option<u64> {
        let entries = self.entries.lock().ok()?;
        let until = entries.get(key)?.locked_until?;
        let left = until.checked_duration_since(Instant::now())?;
        Some(left.as_secs().max(1))
    }

    /// Counts a failure; locks the key when the limit is reached.
    pub fn failed(&self, key: &str) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() > PRUNE_ABOVE {
            let now = Instant::now();
            entries.retain(|_, e| e.locked_until.is_some_and(|t| t > now));
        }
        let entry = entries.entry(key.to_string()).or_default();
        entry.failures += 1;
        if entry.failures >= self.limits.max_failures {
            entry.locked_until = Some(Instant::now() + self.limits.lockout);
            entry.failures = 0;
        }
    }

    /// A success clears the key's failures.
    pub fn succeeded(&self, key: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }
}
