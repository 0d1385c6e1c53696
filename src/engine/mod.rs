//! Pure build processing: tars in, block images and patches out.
//!
//! No HTTP, no store, no job runner: functions take paths and return metadata or an
//! [`EngineError`] that carries the facts an API error body needs.

pub mod error;
mod fsio;
mod hashing;
pub mod image;
pub mod patch;
pub mod progress;
mod sevenz;
pub mod tar;

pub use error::{DetectedType, EngineError};
