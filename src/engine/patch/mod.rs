//! Block-level patches between two images: `map.7z` says where every block of the new image
//! comes from (the old image, `patch.data`, or zeros) and `patch.data` holds the blocks the old
//! image cannot supply, range-readable so a launcher can fetch just what a game reads now.

mod apply;
mod bulk;
mod make;
mod map;
mod passes;
mod verify;

use serde::{Deserialize, Serialize};

use crate::engine::chunks::ChunkTable;

pub use apply::{apply_patch_streaming, for_each_run, read_meta};
pub use bulk::{
    BULK_FILE, DEFAULT_BUDGET, apply_patch_bulk, decode_bulk_data, make_patch_with_bulk,
    min_budget, old_window_len,
};
pub use make::{OLD_TABLE_CAPACITY, make_patch};
pub use map::{Run, Source};
pub use verify::verify_patch;

/// Name of the 7z archive holding the block map.
pub const MAP_FILE: &str = "map.7z";
/// Name of the raw new blocks.
pub const DATA_FILE: &str = "patch.data";
/// Name of the patch description.
pub const PATCH_JSON: &str = "patch.json";

/// Patch format version this engine writes: 3, whose `patch.7z` may carry reference maps
/// (raw delta stream version 6). Versions 1 and 2 are still read; images stay at
/// [`crate::engine::image::FORMAT_VERSION`].
pub const FORMAT_VERSION: u32 = 3;

/// Contents of `patch.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchMeta {
    /// Patch format version ([`FORMAT_VERSION`]; 1 and 2 are still read).
    pub format_version: u32,
    /// Build the patch applies to.
    pub from_build_id: u64,
    /// Build the patch produces.
    pub to_build_id: u64,
    /// dxfName of the old image.
    pub from_dxf_name: String,
    /// dxfName of the new image.
    pub to_dxf_name: String,
    /// Bytes per block (4096).
    pub block_size: u64,
    /// Blocks of the new image.
    pub block_count: u64,
    /// New-image blocks taken from the old image.
    pub reused_blocks: u64,
    /// New-image blocks taken from `patch.data`.
    pub new_blocks: u64,
    /// New-image blocks that are zeros.
    pub zero_blocks: u64,
    /// Bytes of `patch.data` (= newBlocks × 4096).
    pub data_bytes: u64,
    /// MD5 of `patch.data`, so a patch directory can be verified without the old image.
    pub data_md5: String,
    /// MD5 of the old `img.dxf`.
    pub from_dxf_md5: String,
    /// MD5 of the new `img.dxf`.
    pub to_dxf_md5: String,
    /// Bytes per chunk of `patch.data` in `dataChunkSha256` (0 in a version-1 patch).
    #[serde(default)]
    pub data_chunk_size: u64,
    /// SHA-256 of every chunk of `patch.data`, lowercase hex, so a launcher fetching ranges
    /// checks each as it arrives (empty in a version-1 patch).
    #[serde(default)]
    pub data_chunk_sha256: Vec<String>,
}

impl PatchMeta {
    /// The chunk hashes of `patch.data`; `None` for a version-1 patch, which has none.
    /// An inconsistent table is a corrupt `patch.json`.
    pub fn data_chunks(&self) -> crate::engine::error::Result<Option<ChunkTable>> {
        if self.format_version < 2 {
            return Ok(None);
        }
        ChunkTable::from_hex(
            self.data_chunk_size,
            self.data_bytes,
            &self.data_chunk_sha256,
        )
        .map(Some)
        .ok_or_else(|| {
            crate::engine::EngineError::corrupt_patch(
                PATCH_JSON,
                "dataChunkSha256 does not fit dataBytes and dataChunkSize",
            )
        })
    }
}
