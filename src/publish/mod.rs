//! Origins: where published images and patches live. One [`Origin`] abstraction over the
//! depot and S3 origins, one module for the layout of API.md §5, one error type.

pub mod cdn;
pub mod depot;
mod error;
pub mod guard;
pub mod layout;
pub mod origin;
pub mod origins;
pub mod s3;
pub mod signing;
pub mod transfer;

pub use error::PublishError;
pub use origin::{Body, Origin};
