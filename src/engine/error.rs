//! The engine's single error type: every variant carries the facts an API error body needs.

use std::fmt;
use std::io;
use std::path::Path;

/// What a file that should have been a tar turned out to be, by its leading bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectedType {
    /// A POSIX/GNU tar archive.
    Tar,
    /// gzip stream (`1f 8b`).
    Gzip,
    /// Zstandard frame (`28 b5 2f fd`).
    Zstd,
    /// zip archive (`PK\x03\x04`, `PK\x05\x06`).
    Zip,
    /// 7z archive (`7z\xbc\xaf\x27\x1c`).
    SevenZ,
    /// xz stream (`fd 37 7a 58 5a 00`).
    Xz,
    /// bzip2 stream (`BZh`).
    Bzip2,
    /// A file of zero bytes.
    Empty,
    /// Anything else.
    Unknown,
}

impl DetectedType {
    /// The name used in API error bodies (`typeDetected`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tar => "tar",
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
            Self::Zip => "zip",
            Self::SevenZ => "7z",
            Self::Xz => "xz",
            Self::Bzip2 => "bzip2",
            Self::Empty => "empty",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for DetectedType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every way the engine can fail. `filename` is always the file the problem is in: the input
/// tar, an entry inside it, the order file, or a file of an image directory.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The input is not of the expected type (`fileReadFailed`).
    #[error("{filename}: expected a {type_expected} file, found {type_detected}")]
    FileReadFailed {
        /// The input file.
        filename: String,
        /// What the input should have been.
        type_expected: &'static str,
        /// What its leading bytes say it is.
        type_detected: DetectedType,
    },
    /// An entry name that could escape the output tree or cannot be represented.
    #[error("{filename}: unsafe path: {reason}")]
    UnsafePath {
        /// The entry's name as found in the tar.
        filename: String,
        /// Why it is refused.
        reason: String,
    },
    /// Two entries of the tar name the same path.
    #[error("{filename}: duplicate path in the archive")]
    DuplicatePath {
        /// The normalized path that occurs twice.
        filename: String,
    },
    /// The tar ends before an entry or the end-of-archive marker is complete.
    #[error("{filename}: truncated tar: {entry} at offset {offset} {reason}")]
    TarTruncated {
        /// The tar file.
        filename: String,
        /// The entry being read ("header" when no name is known yet).
        entry: String,
        /// Byte offset of that entry's header in the tar.
        offset: u64,
        /// What is missing.
        reason: String,
    },
    /// A header block whose checksum does not match its contents.
    #[error("{filename}: bad tar header checksum at offset {offset} (after entry {after})")]
    TarChecksum {
        /// The tar file.
        filename: String,
        /// Byte offset of the bad header.
        offset: u64,
        /// The last entry read successfully, or "start of archive".
        after: String,
    },
    /// A header, pax record or sparse map that cannot be parsed.
    #[error("{filename}: malformed tar at offset {offset}: {reason}")]
    TarMalformed {
        /// The tar file.
        filename: String,
        /// Byte offset of the offending header.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// An access-order file line that cannot be used.
    #[error("{filename}: line {line}: {reason}")]
    BadOrder {
        /// The order file.
        filename: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A file of an image directory is missing, truncated or does not match its checksums.
    #[error("{filename}: corrupt image: {reason}")]
    CorruptImage {
        /// The image file at fault (`img.dxf`, `img.idx.7z`, `img.json`, `app.json`).
        filename: String,
        /// What does not match.
        reason: String,
    },
    /// A file of a patch directory is missing, truncated, inconsistent, or does not produce
    /// the image it promises.
    #[error("{filename}: corrupt patch: {reason}")]
    CorruptPatch {
        /// The patch file at fault (`map.7z`, `patch.data`, `patch.json`), or the result.
        filename: String,
        /// What does not match.
        reason: String,
    },
    /// The output directory cannot be used as given.
    #[error("{filename}: {reason}")]
    BadOutput {
        /// The output path.
        filename: String,
        /// Why it is refused.
        reason: String,
    },
    /// The caller asked the run to stop (shutdown, an expired task) before it ended.
    #[error("stopped before the end, as asked")]
    Cancelled,
    /// An operating-system I/O failure on a file.
    #[error("{filename}: {source}")]
    Io {
        /// The file being read or written.
        filename: String,
        /// The underlying error.
        source: io::Error,
    },
}

impl EngineError {
    /// The API error code of this failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::FileReadFailed { .. } => "fileReadFailed",
            Self::UnsafePath { .. } => "unsafePath",
            Self::DuplicatePath { .. } => "duplicatePath",
            Self::TarTruncated { .. } => "tarTruncated",
            Self::TarChecksum { .. } => "tarChecksum",
            Self::TarMalformed { .. } => "tarMalformed",
            Self::BadOrder { .. } => "badOrder",
            Self::CorruptImage { .. } => "corruptImage",
            Self::CorruptPatch { .. } => "corruptPatch",
            Self::BadOutput { .. } => "badOutput",
            Self::Cancelled => "cancelled",
            Self::Io { .. } => "ioFailed",
        }
    }

    /// True when the caller's input is at fault (as opposed to the machine's I/O).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Self::Io { .. } | Self::Cancelled)
    }

    /// A corrupt-image error for `filename` of an image directory.
    pub(crate) fn corrupt(filename: &str, reason: impl Into<String>) -> Self {
        Self::CorruptImage {
            filename: filename.to_string(),
            reason: reason.into(),
        }
    }

    /// A corrupt-patch error for `filename` of a patch directory.
    pub(crate) fn corrupt_patch(filename: &str, reason: impl Into<String>) -> Self {
        Self::CorruptPatch {
            filename: filename.to_string(),
            reason: reason.into(),
        }
    }
}

/// Attaches the file name to an `io::Error`.
pub(crate) trait IoContext<T> {
    /// Wraps the error as [`EngineError::Io`] naming `path`.
    fn at(self, path: &Path) -> Result<T, EngineError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: &Path) -> Result<T, EngineError> {
        self.map_err(|source| EngineError::Io {
            filename: path.display().to_string(),
            source,
        })
    }
}

/// The engine's result type.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
