//! What a push sends: a tar file as it is, or a directory as a deterministic tar stream.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::{Meter, PushError};
use crate::engine::tar::TarPlan;

/// Bytes read and sent at a time.
const CHUNK: usize = 1 << 20;

/// The bytes of a build.
#[derive(Debug)]
pub enum Source {
    /// A tar (plain or compressed) on disk.
    File { path: PathBuf, len: u64, mtime: i64 },
    /// A directory packed on the fly.
    Dir(TarPlan),
}

impl Source {
    /// The build at `path`.
    pub fn open(path: &Path) -> Result<Source, PushError> {
        let meta = std::fs::metadata(path)
            .map_err(|e| PushError::Input(format!("cannot read {}: {e}", path.display())))?;
        if meta.is_dir() {
            let plan = TarPlan::of_dir(path).map_err(|e| {
                PushError::Input(format!("cannot read the tree {}: {e}", path.display()))
            })?;
            if plan.is_empty() {
                return Err(PushError::Input(format!("{} is empty", path.display())));
            }
            for skipped in &plan.skipped {
                tracing::warn!(entry = %skipped, "not a file, directory or symlink; left out");
            }
            return Ok(Source::Dir(plan));
        }
        if meta.len() == 0 {
            return Err(PushError::Input(format!("{} is empty", path.display())));
        }
        Ok(Source::File {
            path: path.to_path_buf(),
            len: meta.len(),
            mtime: meta.mtime(),
        })
    }

    /// Bytes it sends.
    pub fn len(&self) -> u64 {
        match self {
            Source::File { len, .. } => *len,
            Source::Dir(plan) => plan.len(),
        }
    }

    /// Whether it sends nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Identifies the bytes without reading them: a resumed push continues only when equal.
    pub fn fingerprint(&self) -> String {
        match self {
            Source::File { len, mtime, .. } => format!("file:{len}:{mtime}"),
            Source::Dir(plan) => format!("dir:{}", plan.fingerprint()),
        }
    }

    /// Sends the bytes from `offset` in chunks until `total` (on the calling thread, which
    /// blocks when the upload is slower than the disk), at most `limit` bytes per second.
    pub fn stream_from(
        &self,
        offset: u64,
        total: u64,
        limit: Option<u64>,
        meter: &Meter,
        sender: &tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
    ) {
        let reader: std::io::Result<Box<dyn Read + '_>> = match self {
            Source::File { path, .. } => std::fs::File::open(path).and_then(|mut file| {
                file.seek(SeekFrom::Start(offset))?;
                Ok(Box::new(file) as Box<dyn Read>)
            }),
            Source::Dir(plan) => Ok(Box::new(plan.reader_from(offset))),
        };
        let mut reader = match reader {
            Ok(reader) => reader,
            Err(e) => {
                let _ = sender.blocking_send(Err(e));
                return;
            }
        };
        let chunk_len = limit.map_or(CHUNK, |rate| CHUNK.min((rate / 10).max(4096) as usize));
        let started = std::time::Instant::now();
        let mut sent = offset;
        while sent < total {
            if let Some(rate) = limit {
                let due = std::time::Duration::from_secs_f64((sent - offset) as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            let mut chunk = vec![0u8; chunk_len.min((total - sent) as usize)];
            let outcome = reader.read(&mut chunk).and_then(|n| {
                if n == 0 {
                    Err(std::io::Error::other(
                        "the build changed while it was pushed",
                    ))
                } else {
                    Ok(n)
                }
            });
            let n = match outcome {
                Ok(n) => n,
                Err(e) => {
                    let _ = sender.blocking_send(Err(e));
                    return;
                }
            };
            chunk.truncate(n);
            if sender.blocking_send(Ok(chunk)).is_err() {
                return;
            }
            sent += n as u64;
            meter.sent.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}
