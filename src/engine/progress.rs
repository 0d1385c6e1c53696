//! Progress reporting hooks, so long engine runs can be shown by a CLI or recorded by a job.

/// Receives progress of a long operation. Called from the engine's calling thread only.
pub trait Progress {
    /// The operation will process about `total` bytes.
    fn begin(&self, total: u64);
    /// `bytes` more were processed.
    fn advance(&self, bytes: u64);
}

/// Progress that goes nowhere.
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _total: u64) {}
    fn advance(&self, _bytes: u64) {}
}
