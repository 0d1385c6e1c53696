//! Origins: where published images and patches live (the depot now; S3 origins later).

pub mod depot;
mod error;
pub mod guard;
pub mod origins;
pub mod s3;

pub use error::PublishError;
