//! MD5 on a worker thread, so the two digests of a build (each file, the whole image) run on
//! separate cores while the caller reads and writes.

use std::io::{self, Read};
use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use md5::{Digest, Md5};

/// Chunks queued ahead of the worker; bounds the memory in flight.
const QUEUE: usize = 4;

enum Job {
    Update(Arc<Vec<u8>>, Range<usize>),
    Finish,
}

/// A thread computing a sequence of MD5 digests from shared chunks.
pub struct Md5Worker {
    jobs: SyncSender<Job>,
    handle: JoinHandle<Vec<[u8; 16]>>,
}

fn gone() -> io::Error {
    io::Error::other("md5 worker stopped")
}

impl Md5Worker {
    /// Starts the thread, named `name` (visible in profilers).
    pub fn spawn(name: &str) -> io::Result<Self> {
        let (jobs, queue) = sync_channel::<Job>(QUEUE);
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut digests = Vec::new();
                let mut md5 = Md5::new();
                for job in queue {
                    match job {
                        Job::Update(chunk, range) => md5.update(&chunk[range]),
                        Job::Finish => digests.push(md5.finalize_reset().into()),
                    }
                }
                digests
            })?;
        Ok(Self { jobs, handle })
    }

    /// Feeds `chunk[range]` to the current digest.
    pub fn update(&self, chunk: Arc<Vec<u8>>, range: Range<usize>) -> io::Result<()> {
        self.jobs
            .send(Job::Update(chunk, range))
            .map_err(|_| gone())
    }

    /// Closes the current digest and starts the next.
    pub fn finish_one(&self) -> io::Result<()> {
        self.jobs.send(Job::Finish).map_err(|_| gone())
    }

    /// Waits for the thread and returns the closed digests in order.
    pub fn join(self) -> io::Result<Vec<[u8; 16]>> {
        drop(self.jobs);
        self.handle.join().map_err(|_| gone())
    }
}

/// MD5 and length of everything `input` yields, read 1 MiB at a time, showing `seen` each
/// read's bytes (for progress, or another hash of the same pass).
pub fn md5_stream(
    mut input: impl Read,
    mut seen: impl FnMut(&[u8]),
) -> io::Result<([u8; 16], u64)> {
    let (mut md5, mut len) = (Md5::new(), 0u64);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            return Ok((md5.finalize().into(), len));
        }
        md5.update(&buf[..n]);
        len += n as u64;
        seen(&buf[..n]);
    }
}
