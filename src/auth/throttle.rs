//! Login throttling: after too many failures within a lockout period, a key (an org's
//! username, or a client address) is locked out for a while, even for correct passwords, so
//! guessing gains nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits for one kind of key (usernames or addresses).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures within one lockout period that trigger a lockout.
    pub max_failures: u32,
    /// How long a lockout lasts; also how long a failure is remembered.
    pub lockout: Duration,
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    /// When the first failure still counted happened.
    since: Instant,
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
        self.locked_at(key, Instant::now())
    }

    fn locked_at(&self, key: &str, now: Instant) -> Option<u64> {
        let entries = self.entries.lock().ok()?;
        let until = entries.get(key)?.locked_until?;
        let left = until.checked_duration_since(now).filter(|d| !d.is_zero())?;
        Some(left.as_secs().max(1))
    }

    /// Counts a failure; locks the key when the limit is reached within one lockout period.
    pub fn failed(&self, key: &str) {
        self.failed_at(key, Instant::now());
    }

    fn failed_at(&self, key: &str, now: Instant) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let forgotten = |e: &Entry| now.duration_since(e.since) > self.limits.lockout;
        if entries.len() > PRUNE_ABOVE {
            entries.retain(|_, e| e.locked_until.is_some_and(|t| t > now) || !forgotten(e));
        }
        let entry = entries.entry(key.to_string()).or_insert(Entry {
            failures: 0,
            since: now,
            locked_until: None,
        });
        if forgotten(entry) {
            entry.failures = 0;
            entry.since = now;
        }
        entry.failures += 1;
        if entry.failures >= self.limits.max_failures {
            entry.locked_until = Some(now + self.limits.lockout);
            entry.failures = 0;
            entry.since = now;
        }
    }

    /// A success clears the key's failures (used for accounts, never for addresses: a
    /// success of one account must not hide the failures of others from the same address).
    pub fn succeeded(&self, key: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_forgotten_after_the_lockout_period() {
        let lockout = Duration::from_secs(300);
        let throttle = Throttle::new(Limits {
            max_failures: 2,
            lockout,
        });
        let start = Instant::now();
        throttle.failed_at("k", start);
        let later = start + lockout + Duration::from_secs(1);
        throttle.failed_at("k", later);
        assert_eq!(throttle.locked_at("k", later), None);
        throttle.failed_at("k", later);
        assert_eq!(throttle.locked_at("k", later), Some(300));
        assert_eq!(throttle.locked_at("k", later + lockout), None);
    }
}
