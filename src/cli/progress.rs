//! A progress line (bytes, rate, ETA) drawn on stderr when it is a terminal, silent otherwise.

use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::engine::progress::Progress;

/// Least time between two redraws.
const REDRAW: Duration = Duration::from_millis(200);

/// Runs `work` with a progress line labelled `label`, cleared once `work` returns.
pub fn with_progress<T>(label: &'static str, work: impl FnOnce(&TermProgress) -> T) -> T {
    let progress = TermProgress::new(label);
    let result = work(&progress);
    progress.finish();
    result
}

/// Draws `label: done / total  rate  ETA` on stderr, in place.
pub struct TermProgress {
    label: &'static str,
    enabled: bool,
    total: Cell<u64>,
    done: Cell<u64>,
    started: Cell<Instant>,
    drawn: Cell<Option<Instant>>,
}

impl TermProgress {
    /// A reporter that draws only when stderr is a terminal.
    pub fn new(label: &'static str) -> Self {
        Self {
            label,
            enabled: std::io::stderr().is_terminal(),
            total: Cell::new(0),
            done: Cell::new(0),
            started: Cell::new(Instant::now()),
            drawn: Cell::new(None),
        }
    }

    /// Clears the line if anything was drawn.
    pub fn finish(&self) {
        if self.drawn.get().is_some() {
            eprint!("\r\x1b[2K");
        }
    }

    fn draw(&self) {
        let elapsed = self.started.get().elapsed().as_secs_f64().max(1e-3);
        let (done, total) = (self.done.get(), self.total.get());
        let rate = done as f64 / elapsed;
        let eta = if rate > 0.0 && total > done {
            let secs = ((total - done) as f64 / rate) as u64;
            format!("{}:{:02}", secs / 60, secs % 60)
        } else {
            "-".to_string()
        };
        let mut err = std::io::stderr().lock();
        // Progress output is best effort: a failed write to the terminal must not stop work.
        let _ = write!(
            err,
            "\r\x1b[2K{}: {} / {}  {}/s  ETA {eta}",
            self.label,
            human(done),
            human(total),
            human(rate as u64)
        );
        let _ = err.flush();
    }
}

impl Progress for TermProgress {
    fn begin(&self, total: u64) {
        self.total.set(total);
        self.done.set(0);
        self.started.set(Instant::now());
    }

    fn advance(&self, bytes: u64) {
        self.done.set(self.done.get() + bytes);
        if !self.enabled || self.drawn.get().is_some_and(|t| t.elapsed() < REDRAW) {
            return;
        }
        self.drawn.set(Some(Instant::now()));
        self.draw();
    }
}

/// Bytes in binary units with one decimal.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Shows a transfer's bytes (`done_and_total()`), rate and ETA until cancelled: a redrawn line
/// on a terminal; otherwise a plain line every `off_terminal`, or nothing without one.
pub async fn show_transfer(
    done_and_total: impl Fn() -> (u64, u64),
    off_terminal: Option<Duration>,
) {
    let terminal = std::io::stderr().is_terminal();
    let every = match (terminal, off_terminal) {
        (true, _) => Duration::from_millis(250),
        (false, Some(every)) => every,
        (false, None) => return,
    };
    let started = Instant::now();
    loop {
        tokio::time::sleep(every).await;
        let (done, total) = done_and_total();
        let seconds = started.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / seconds;
        let eta = if rate > 0.0 {
            format!("{:.0} s", total.saturating_sub(done) as f64 / rate)
        } else {
            "?".into()
        };
        let line = format!(
            "{} / {} MiB  {:.1} MiB/s  ETA {eta}",
            done >> 20,
            total >> 20,
            rate / f64::from(1 << 20)
        );
        if terminal {
            eprint!("\r{line}    ");
        } else {
            eprintln!("{line}");
        }
    }
}
