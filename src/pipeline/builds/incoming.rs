//! `work/incoming/`: the tars of builds being received (uploads, downloads) or waiting for
//! their `mkraw`, one file per task, kept across restarts so transfers resume. Nothing here
//! knows HTTP: the upload route and the download task append bytes at an offset.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncSeekExt, AsyncWriteExt};

use crate::metrics::{self, Counter};

/// Bytes written between checks of the size limit and the stop signal.
const BUFFER: usize = 1 << 20;

/// Why bytes could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum IncomingError {
    /// The tar would exceed the configured maximum.
    #[error("the build exceeds the maximum of {max} bytes")]
    TooLarge { max: u64 },
    /// The source failed (a dropped connection); what arrived before stays.
    #[error("{0}")]
    Source(io::Error),
    /// The disk failed.
    #[error("cannot store the build: {0}")]
    Disk(io::Error),
}

/// The incoming directory.
#[derive(Debug, Clone)]
pub struct Incoming {
    dir: PathBuf,
}

impl Incoming {
    /// The area in `dir` (created by the data dir's preparation).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file name (relative to the work dir's incoming area) of a task's tar.
    pub fn name_of(task: &str) -> String {
        format!("{task}.tar")
    }

    /// Where a tar named by [`Incoming::name_of`] is.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Bytes of a task's tar received so far (0 when none).
    pub async fn received(&self, task: &str) -> io::Result<u64> {
        match tokio::fs::metadata(self.path(&Self::name_of(task))).await {
            Ok(meta) => Ok(meta.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Writes `body` into a task's tar from `offset` (earlier bytes kept, later ones
    /// dropped), refusing to grow it beyond `max`; flushed to disk before it returns, even when
    /// the source broke off. Returns the file's size afterwards.
    pub async fn append(
        &self,
        task: &str,
        offset: u64,
        body: impl AsyncRead + Unpin,
        max: u64,
    ) -> Result<u64, IncomingError> {
        let path = self.path(&Self::name_of(task));
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .await
            .map_err(IncomingError::Disk)?;
        file.set_len(offset).await.map_err(IncomingError::Disk)?;
        file.seek(io::SeekFrom::Start(offset))
            .await
            .map_err(IncomingError::Disk)?;
        let copied = copy_bounded(body, &mut file, max.saturating_sub(offset)).await;
        file.flush().await.map_err(IncomingError::Disk)?;
        file.sync_data().await.map_err(IncomingError::Disk)?;
        let size = file.metadata().await.map_err(IncomingError::Disk)?.len();
        copied.map(|()| size).map_err(|e| match e {
            CopyError::TooLarge => IncomingError::TooLarge { max },
            CopyError::Read(e) => IncomingError::Source(e),
            CopyError::Write(e) => IncomingError::Disk(e),
        })
    }

    /// Removes a tar (absent is fine).
    pub async fn discard(&self, name: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.path(name)).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes every tar whose name `keep` refuses (tasks that ended while the appliance was
    /// down); returns how many went.
    pub fn sweep(&self, keep: impl Fn(&str) -> bool) -> io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !keep(&name) {
                remove_any(&entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

fn remove_any(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

enum CopyError {
    TooLarge,
    Read(io::Error),
    Write(io::Error),
}

/// Copies until the end of `body`, failing once more than `room` bytes came.
async fn copy_bounded(
    mut body: impl AsyncRead + Unpin,
    file: &mut tokio::fs::File,
    room: u64,
) -> Result<(), CopyError> {
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0u8; BUFFER];
    let mut written = 0u64;
    loop {
        let read = body.read(&mut buffer).await.map_err(CopyError::Read)?;
        if read == 0 {
            return Ok(());
        }
        written += read as u64;
        if written > room {
            return Err(CopyError::TooLarge);
        }
        file.write_all(&buffer[..read])
            .await
            .map_err(CopyError::Write)?;
        metrics::add(Counter::BytesImported, read as u64);
    }
}
