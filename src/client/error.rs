//! Why a client command failed, in words a launcher can show a player.

use std::io;
use std::path::Path;

use crate::engine::EngineError;

/// A client failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The options, the directory or the published release cannot be used as asked.
    #[error("{0}")]
    Input(String),
    /// The appliance refused the access key (wrong, revoked or expired, or an unknown app).
    #[error("the appliance refused access: {0}")]
    Auth(String),
    /// A download kept failing after its retries; `path` is the URL's path (no signature).
    #[error("downloading {path} failed: {reason}")]
    Download { path: String, reason: String },
    /// Published files that are not a valid image or patch, or a local image directory
    /// that is not one.
    #[error(transparent)]
    Format(#[from] EngineError),
    /// Reading or writing the install directory failed.
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    /// Installed files differ from the build's index (after repairs, when installing).
    #[error("{} file(s) differ from the build: {}", .0.len(), .0.join(", "))]
    Mismatch(Vec<String>),
}

impl ClientError {
    /// An I/O failure on `path`.
    pub fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Attaches the path to I/O results of the install directory.
pub trait AtPath<T> {
    /// The result, its error naming `path`.
    fn at(self, path: &Path) -> Result<T, ClientError>;
}

impl<T> AtPath<T> for io::Result<T> {
    fn at(self, path: &Path) -> Result<T, ClientError> {
        self.map_err(|e| ClientError::io(path, e))
    }
}
