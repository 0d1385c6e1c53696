//! Pure build processing: tars in, block images and patches out.
//!
//! No HTTP, no store, no job runner: functions take paths and return metadata or an
//! [`EngineError`] that carries the facts an API error body needs.

mod buffers;
pub mod chunks;
pub mod delta;
pub mod error;
mod fsio;
mod hashing;
pub mod image;
pub mod patch;
mod pipe;
pub mod progress;
mod sevenz;
pub mod tar;
pub mod trace;

pub use error::{DetectedType, EngineError};
pub use fsio::write_atomic;
pub use hashing::md5_stream;

/// Version of the image format (img.dxf, img.idx.7z, img.json) this binary writes.
pub const IMAGE_FORMAT_VERSION: u32 = image::FORMAT_VERSION;

/// Version of the patch format (map.7z, patch.data, patch.json, patch.7z) this binary writes.
pub const PATCH_FORMAT_VERSION: u32 = patch::FORMAT_VERSION;
