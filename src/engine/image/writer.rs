//! Writes image buffers to `img.dxf` on a thread of its own, so a slow disk throttles only
//! that thread while reading and hashing go on.

use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Buffers queued ahead of the writer; bounds the memory in flight.
const QUEUE: usize = 4;

/// The writing thread and the count of bytes it has written.
pub struct FileWriter {
    buffers: SyncSender<Arc<Vec<u8>>>,
    handle: Option<JoinHandle<io::Result<()>>>,
    written: Arc<AtomicU64>,
}

fn gone() -> io::Error {
    io::Error::other("image writer stopped")
}

impl FileWriter {
    /// Starts a thread appending buffers to `file`.
    pub fn spawn(mut file: File) -> io::Result<Self> {
        let (buffers, queue) = sync_channel::<Arc<Vec<u8>>>(QUEUE);
        let written = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&written);
        let handle = std::thread::Builder::new()
            .name("dxf-writer".into())
            .spawn(move || {
                for buffer in queue {
                    file.write_all(&buffer)?;
                    counter.fetch_add(buffer.len() as u64, Ordering::Release);
                }
                file.flush()
            })?;
        Ok(Self {
            buffers,
            handle: Some(handle),
            written,
        })
    }

    /// Queues `buffer` to be appended (blocks while the queue is full). When the thread has
    /// stopped, returns the write error that stopped it.
    pub fn write(&mut self, buffer: Arc<Vec<u8>>) -> io::Result<()> {
        if self.buffers.send(buffer).is_ok() {
            return Ok(());
        }
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => Err(e),
            _ => Err(gone()),
        }
    }

    /// Bytes written to the file so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Waits until everything queued is written; returns the writer's first error.
    pub fn join(self) -> io::Result<()> {
        drop(self.buffers);
        match self.handle {
            Some(handle) => handle.join().map_err(|_| gone())?,
            None => Err(gone()),
        }
    }
}
