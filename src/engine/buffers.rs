//! Buffers shared with other threads behind `Arc`s and reused once those let go, so that a
//! pipeline moving a whole build through a few threads allocates (and faults in) only the
//! handful of buffers in flight.

use std::collections::VecDeque;
use std::sync::Arc;

/// Buffers of one size, handed out and taken back.
pub struct BufferPool {
    size: usize,
    shared: VecDeque<Arc<Vec<u8>>>,
}

impl BufferPool {
    /// A pool of buffers of `size` bytes.
    pub fn new(size: usize) -> Self {
        Self {
            size,
            shared: VecDeque::new(),
        }
    }

    /// A buffer of the pool's size: one whose last user has let go, else a new one. Its
    /// contents are whatever it held last.
    pub fn take(&mut self) -> Vec<u8> {
        let free = self.shared.iter().position(|b| Arc::strong_count(b) == 1);
        match free
            .and_then(|i| self.shared.remove(i))
            .map(Arc::try_unwrap)
        {
            Some(Ok(buffer)) => buffer,
            _ => vec![0u8; self.size],
        }
    }

    /// Shares `buffer` with other threads, keeping it for [`BufferPool::take`] to reuse.
    pub fn share(&mut self, buffer: Vec<u8>) -> Arc<Vec<u8>> {
        let shared = Arc::new(buffer);
        self.shared.push_back(Arc::clone(&shared));
        shared
    }
}
