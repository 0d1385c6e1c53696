//! The data dir's `traces/`: each stored trace as its canonical JSON, at
//! `{org_lc}/{app_lc}/{dxfName}/{digest}.json` — one directory per image, so an image's traces
//! go with it. The records (`TRACES`) say which exist; a file is written before its record.

use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The trace files.
#[derive(Debug, Clone)]
pub struct TraceFiles {
    root: PathBuf,
}

impl TraceFiles {
    /// The files under `root` (the data dir's `traces/`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The file of a trace of `image` (`org_lc/app_lc/{dxfName}`, as the store keys it).
    fn path(&self, image: &str, digest: &str) -> PathBuf {
        self.root.join(image).join(format!("{digest}.json"))
    }

    /// Stores a trace's bytes under its digest: written to a name of its own, fsync'd, then
    /// renamed, so two uploads of one trace at once both succeed with the same file.
    pub async fn store(&self, image: &str, digest: &str, bytes: Vec<u8>) -> io::Result<()> {
        let path = self.path(image, digest);
        tokio::task::spawn_blocking(move || write_new(&path, &bytes))
            .await
            .map_err(io::Error::other)?
    }

    /// A stored trace's bytes.
    pub async fn load(&self, image: &str, digest: &str) -> io::Result<Vec<u8>> {
        tokio::fs::read(self.path(image, digest)).await
    }

    /// Removes the trace files of `images` (best effort: a leftover is only clutter).
    pub async fn forget(&self, images: Vec<String>) {
        for image in images {
            if let Err(e) = tokio::fs::remove_dir_all(self.root.join(&image)).await
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(%image, error = %e, "cannot remove the traces of an image");
            }
        }
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("a trace file needs a directory"))?;
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}
