//! What a client run did, as `--report FILE` writes it (JSON, camelCase).

use serde::Serialize;

/// A run's outcome.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The build the tree holds now.
    pub build_id: u64,
    /// Its image.
    pub dxf_name: String,
    /// Bytes this run fetched (every file, every retry).
    pub total_bytes: u64,
    /// Wall time of the run in milliseconds.
    pub total_ms: u64,
    /// Transfers retried: broken connections, refused or expired URLs, damaged chunks.
    pub retries: u64,
    /// Chunks that arrived with the wrong hash and were fetched again.
    pub damaged_chunks: u64,
    /// Chunks already present when the run started (a resumed install).
    pub chunks_present_before: u64,
    /// Files found differing from the index and fetched again.
    pub repaired_files: Vec<String>,
    /// `update`: the build the tree held before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_from: Option<u64>,
    /// `update`: how the new build's bytes came: `patch-data` (ranges of `patch.data`),
    /// `patch-bulk` (`patch.7z`) or `image` (no patch from the installed build).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
}
