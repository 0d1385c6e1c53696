//! Progress reporting and stopping, so long engine runs can be shown by a CLI, recorded by a
//! job, and stopped by either (shutdown, an expired task) between chunks.

use std::io::{self, Read};

use super::error::{EngineError, Result};

/// Receives progress of a long operation and may ask it to stop. Called from the engine's
/// calling thread only.
pub trait Progress {
    /// The operation will process about `total` bytes.
    fn begin(&self, total: u64);
    /// `bytes` more were processed.
    fn advance(&self, bytes: u64);
    /// Whether the caller wants the operation stopped. The engine asks between chunks and
    /// then fails with [`EngineError::Cancelled`], leaving no finished output behind.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Progress that goes nowhere and never stops.
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _total: u64) {}
    fn advance(&self, _bytes: u64) {}
}

/// Reports `bytes` done, then stops the run if the caller asked for it.
pub(crate) fn step(progress: &dyn Progress, bytes: u64) -> Result<()> {
    progress.advance(bytes);
    if progress.cancelled() {
        return Err(EngineError::Cancelled);
    }
    Ok(())
}

/// A failure of a stage that reads through [`StopReader`] or stops its input itself: the
/// stop, when the caller asked for one, else the failure.
pub(crate) fn or_cancelled<T>(progress: &dyn Progress, result: Result<T>) -> Result<T> {
    match result {
        Err(_) if progress.cancelled() => Err(EngineError::Cancelled),
        other => other,
    }
}

/// The error a stopped reader returns.
pub(crate) fn stopped() -> io::Error {
    io::Error::other("stopped by the caller")
}

/// A reader that fails once the caller asks to stop, so a consumer that only reads (an LZMA
/// encoder) stops too.
pub(crate) struct StopReader<'p, R> {
    inner: R,
    progress: &'p dyn Progress,
}

impl<'p, R> StopReader<'p, R> {
    pub(crate) fn new(inner: R, progress: &'p dyn Progress) -> Self {
        Self { inner, progress }
    }
}

impl<R: Read> Read for StopReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.progress.cancelled() {
            return Err(stopped());
        }
        self.inner.read(buf)
    }
}
