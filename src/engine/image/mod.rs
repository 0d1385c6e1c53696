//! ROCKIT images: building one from a tar, extracting and verifying one.

mod build;
mod catalog;
mod dedup;
mod extract;
mod feed;
mod index;
mod meta;
mod order;
mod plan;
pub(crate) mod reader;
mod reorder;
mod sink;
mod verify;

/// Bytes per image block.
pub const BLOCK_SIZE: u64 = 4096;

pub use build::{BuildMetadata, BuildReport, build_image};
pub use dedup::DEDUP_CAPACITY;
pub use extract::{ExtractReport, MODE_MASK, extract_image, finish_tree};
pub use index::{Extent, FORMAT_VERSION, IndexEntry, IndexHeader};
pub(crate) use meta::write_json;
pub use meta::{APP_JSON, AppMeta, DXF_FILE, IMG_JSON, INDEX_FILE, ImageMeta};
pub use meta::{read_json, version_problem};
pub use order::{AccessOrder, OrderRun};
pub use reader::read_index;
pub use reorder::ReorderPlan;
pub use verify::verify_image;
