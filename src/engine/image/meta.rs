//! `img.json` and `app.json`: the JSON descriptions published next to every image.

use std::path::Path;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::engine::error::{EngineError, Result};
use crate::engine::fsio::write_atomic;

/// Name of the block image file.
pub const DXF_FILE: &str = "img.dxf";
/// Name of the 7z archive holding the index.
pub const INDEX_FILE: &str = "img.idx.7z";
/// Name of the image description.
pub const IMG_JSON: &str = "img.json";
/// Name of the app/build description.
pub const APP_JSON: &str = "app.json";

/// The oldest format version this engine reads (version 1: no chunk hashes).
pub const OLDEST_READ_VERSION: u32 = 1;

/// Why a file stating `formatVersion` `version` cannot be read by a reader of versions up
/// to `newest` (images: [`super::FORMAT_VERSION`], patches: their own), if it cannot:
/// versions are refused outside 1 ..= `newest`, a newer one naming what to do.
pub fn version_problem(version: u32, newest: u32) -> Option<String> {
    if version > newest {
        Some(format!(
            "format version {version} is newer than this rockit-edge reads \
             ({OLDEST_READ_VERSION} to {newest}): update rockit-edge"
        ))
    } else if version < OLDEST_READ_VERSION {
        Some(format!("format version {version} does not exist"))
    } else {
        None
    }
}

/// Contents of `img.json`: what a launcher needs to know about `img.dxf` before fetching it.
/// Fields this engine does not know are ignored (a later version may add some).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageMeta {
    /// Image format version (2; 1 is still read).
    pub format_version: u32,
    /// The image's UUID.
    pub dxf_name: String,
    /// Build number within the app.
    pub build_id: u64,
    /// Bytes per block (4096).
    pub block_size: u64,
    /// Blocks in `img.dxf`.
    pub block_count: u64,
    /// Byte size of `img.dxf` (= blockCount × blockSize).
    pub dxf_size: u64,
    /// MD5 of `img.dxf`, lowercase hex.
    pub dxf_md5: String,
    /// Number of regular files.
    pub file_count: u64,
    /// Sum of regular file sizes.
    pub total_file_bytes: u64,
    /// File-block bytes that needed no block of their own (repeats and all-zero blocks).
    pub dedup_bytes: u64,
    /// Bytes of the image prefix a launcher fetches before start.
    pub preload_bytes: u64,
    /// Number of traces the block order was made from.
    pub trace_count: u64,
}

/// Contents of `app.json`: which app and build an image belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppMeta {
    /// Organization name.
    pub org_name: String,
    /// App name.
    pub app_name: String,
    /// Human-readable app label.
    pub label: String,
    /// Build number.
    pub build_id: u64,
    /// Publisher's name for the build.
    pub build_name: String,
    /// The image's UUID.
    pub dxf_name: String,
    /// When the build was created (RFC 3339, UTC).
    pub created: String,
}

/// Writes `value` as pretty JSON with a trailing newline, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| EngineError::Io {
        filename: path.display().to_string(),
        source: e.into(),
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Reads a JSON file of an image directory; any defect is a corrupt image naming `name`.
pub fn read_json<T: DeserializeOwned>(dir: &Path, name: &str) -> Result<T> {
    let bytes = std::fs::read(dir.join(name))
        .map_err(|e| EngineError::corrupt(name, format!("cannot read: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| EngineError::corrupt(name, format!("invalid: {e}")))
}
