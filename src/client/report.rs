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
    /// `patch-bulk` (`patch.7z`), `image` (no patch from the installed build) or `local`
    /// (every changed file was already installed under another path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
    /// `play`: what the game's start measured.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub play: Option<PlayReport>,
}

/// What a game's start on a partial install measured.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayReport {
    /// Wall time from the command's start to the script's launch line.
    pub time_to_play_ms: u64,
    /// The image's preload (`img.json`), fetched before the game started.
    pub preload_bytes: u64,
    /// Wall time from the command's start until the preload was present.
    pub preload_ms: u64,
    /// Bytes fetched when the game became playable.
    pub bytes_before_play: u64,
    /// Reads that had to wait for their blocks.
    pub stalls: u64,
    /// Milliseconds the game waited in all.
    pub stall_ms: u64,
    /// MD5 of every byte the game read, in order: what a test compares with the build.
    pub reads_md5: String,
    /// The digest the appliance knows the uploaded trace by (`--upload`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_digest: Option<String>,
}
