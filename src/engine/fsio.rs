//! File output that never leaves a half-written file under its final name.

use std::fs::{self, File};
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use rustix::fs::FallocateFlags;

use crate::engine::error::{IoContext, Result};

/// Bytes a [`FlushingWriter`] writes between two flushes to disk.
const FLUSH_EVERY: u64 = 8 << 20;

/// Writes to a file while a thread of its own flushes what was written to disk every
/// [`FLUSH_EVERY`] bytes: a large output then reaches the disk while the rest of it is being
/// made, so the fsync that commits it has little left to wait for, and the writer never waits
/// for the disk itself (a flush still running when the next is due is simply not repeated).
/// [`FlushingWriter::finish`] reports what the flushes met: a failed writeback is seen by one
/// sync of the file only, so it must not be dropped.
///
/// The disk space of the whole output is reserved up front (`fallocate`), when the file
/// system allows: on ext4, `dd bs=2M` of 328 MB into a new file took 0.09-1.47 s of kernel
/// time (5 of 17 runs above 0.4 s) as the writes allocated it, 0.07-0.28 s into reserved
/// space; jaxlib's image build went from 1.16-2.66 s to 0.92-1.23 s (four runs each).
pub struct FlushingWriter {
    file: File,
    /// The file offset the writes have reached.
    end: u64,
    /// Whether space beyond the file's end was reserved (perhaps only in part).
    reserved: bool,
    unflushed: u64,
    flushes: Option<SyncSender<()>>,
    flusher: Option<JoinHandle<io::Result<()>>>,
}

impl FlushingWriter {
    /// Writes to `file` from its current position to its end, with `expected` bytes reserved
    /// beyond that position: the output's size, or a bound of it (what the writes leave over,
    /// [`Self::finish`] releases). A reservation the file system refuses (no `fallocate`,
    /// too little free space) is not an error: the writes then allocate as they go.
    pub fn new(mut file: File, expected: u64) -> io::Result<Self> {
        let end = file.stream_position()?;
        let reserved = expected > 0;
        if reserved {
            // The file's size stays as it is: a reservation that fails half way leaves no
            // bytes of it inside the file.
            let _ = rustix::fs::fallocate(&file, FallocateFlags::KEEP_SIZE, end, expected);
        }
        let synced = file.try_clone()?;
        let (flushes, requests) = sync_channel::<()>(1);
        let flusher = std::thread::Builder::new()
            .name("flusher".into())
            .spawn(move || requests.iter().try_for_each(|()| synced.sync_data()))?;
        Ok(Self {
            file,
            end,
            reserved,
            unflushed: 0,
            flushes: Some(flushes),
            flusher: Some(flusher),
        })
    }

    /// Waits for the flush in progress and releases the reserved space the writes did not
    /// use; returns the first error any flush met.
    pub fn finish(mut self) -> io::Result<()> {
        self.stop_flusher()?;
        if self.reserved {
            // Truncating to the size the file has releases the blocks reserved beyond it.
            self.file.set_len(self.end)?;
        }
        Ok(())
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
        self.end += n as u64;
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn space_reserved_beyond_the_output_is_released() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out");
        let mut writer = FlushingWriter::new(File::create(&path)?, 64 << 20)?;
        writer.write_all(&[7u8; 10_000])?;
        writer.finish()?;
        let meta = fs::metadata(&path)?;
        assert_eq!(meta.len(), 10_000);
        // Allocated 512-byte sectors: the written bytes' blocks, not the 64 MiB reserved.
        assert!(meta.blocks() * 512 <= 64 << 10, "{} sectors", meta.blocks());
        assert_eq!(fs::read(&path)?, vec![7u8; 10_000]);
        Ok(())
    }
}
