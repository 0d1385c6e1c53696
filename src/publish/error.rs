//! The publish layer's one error type.

use std::time::Duration;

/// Why an origin operation failed; the message names the cause for the deployment's status
/// (only an S3 error code and an HTTP status come from the origin's answer, never its body).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the origin answered HTTP {status}{}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Refused { status: u16, code: Option<String> },
    #[error("the origin cannot be reached: {0}")]
    Unreachable(String),
    #[error("the origin did not answer within {0:?}")]
    Timeout(Duration),
    #[error("invalid origin settings: {0}")]
    Settings(String),
    /// The address policy refused the origin's address.
    #[error("{0}")]
    Forbidden(String),
    /// The origin stored another number of bytes than the body announced.
    #[error("the origin stored {stored} bytes where {expected} were sent")]
    Incomplete { stored: u64, expected: u64 },
    /// The origin holds other bytes than were sent (size or checksum differ).
    #[error("{0}")]
    Mismatch(String),
    /// The depot's directory could not be read or written.
    #[error("{0}")]
    Depot(String),
}
