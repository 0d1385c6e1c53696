//! Crash points for the crash tests: in debug builds the process dies at the point named by
//! `ROCKIT_EDGE_CRASH_AT`, as abruptly as under `kill -9` (no destructor, no flush), so a
//! test can stop a multi-step operation between any two of its steps. Release builds carry
//! none of it.

/// The variable naming the point to die at.
#[cfg(debug_assertions)]
const CRASH_AT: &str = "ROCKIT_EDGE_CRASH_AT";

/// Dies here when `ROCKIT_EDGE_CRASH_AT` names this point (debug builds only).
#[cfg(debug_assertions)]
pub fn crash_point(name: &str) {
    if std::env::var(CRASH_AT).is_ok_and(|wanted| wanted == name) {
        eprintln!("crash point {name} reached: aborting");
        std::process::abort();
    }
}

/// Release builds have no crash points.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn crash_point(_name: &str) {}
