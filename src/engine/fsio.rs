//! File output that never leaves a half-written file under its final name.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use crate::engine::error::{IoContext, Result};

/// Bytes a [`FlushingWriter`] writes between two flushes to disk.
const FLUSH_EVERY: u64 = 8 << 20;

/// Writes to a file while a thread of its own flushes what was written to disk every
/// [`FLUSH_EVERY`] bytes: a large output then reaches the disk while the rest of it is being
/// made, so the fsync that commits it has little left to wait for, and the writer never waits
/// for the disk itself (a flush still running when the next is due is simply not repeated).
/// [`FlushingWriter::finish`] reports what the flushes met: a failed writeback is seen by one
/// sync of the file only, so it must not be dropped.
pub struct FlushingWriter {
    file: File,
    unflushed: u64,
    flushes: Option<SyncSender<()>>,
    flusher: Option<JoinHandle<io::Result<()>>>,
}

impl FlushingWriter {
    /// Writes to `file` from its current position.
    pub fn new(file: File) -> io::Result<Self> {
        let synced = file.try_clone()?;
        let (flushes, requests) = sync_channel::<()>(1);
        let flusher = std::thread::Builder::new()
            .name("flusher".into())
            .spawn(move || requests.iter().try_for_each(|()| synced.sync_data()))?;
        Ok(Self {
            file,
            unflushed: 0,
            flushes: Some(flushes),
            flusher: Some(flusher),
        })
    }

    /// Waits for the flush in progress; returns the first error any flush met.
    pub fn finish(mut self) -> io::Result<()> {
        self.stop_flusher()
    }

    fn stop_flusher(&mut self) -> io::Result<()> {
        self.flushes = None;
        match self.flusher.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(flushed)) => flushed,
            Some(Err(_)) => Err(io::Error::other("the flusher thread panicked")),
        }
    }
}

impl Write for FlushingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.unflushed += n as u64;
        if self.unflushed >= FLUSH_EVERY {
            self.unflushed = 0;
            let request = self.flushes.as_ref().map(|f| f.try_send(()));
            if let Some(Err(TrySendError::Disconnected(()))) = request {
                // The flusher stopped at an error: report it now.
                self.stop_flusher()?;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for FlushingWriter {
    fn drop(&mut self) {
        let _ = self.stop_flusher();
    }
}

/// A file written under a temporary name in its final directory and renamed into place by
/// [`AtomicFile::commit`] after an fsync. Dropped uncommitted, the temporary file is removed.
pub struct AtomicFile {
    file: File,
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Creates `.{name}.tmp` next to `target` (readable too, for read-back), truncating a
    /// leftover of an earlier crash.
    pub fn create(target: &Path) -> Result<Self> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = target.with_file_name(format!(".{name}.tmp"));
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .at(&temp)?;
        Ok(Self {
            file,
            temp,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Flushes, fsyncs, renames to the final name and fsyncs the directory.
    pub fn commit(mut self) -> Result<()> {
        self.file.flush().at(&self.target)?;
        self.file.sync_all().at(&self.target)?;
        fs::rename(&self.temp, &self.target).at(&self.target)?;
        self.committed = true;
        if let Some(dir) = self.target.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            File::open(dir).and_then(|d| d.sync_all()).at(dir)?;
        }
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the temp name is never read, so a leftover is only clutter.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `target` through an [`AtomicFile`].
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<()> {
    let mut out = AtomicFile::create(target)?;
    out.file().write_all(bytes).at(target)?;
    out.commit()
}
