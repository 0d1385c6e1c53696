//! Task exceptions of the build pipeline, in the shapes API.md §4 lists: the engine's
//! failures with their facts, download failures with curl's exit codes.

use serde_json::{Value, json};

use crate::codes;
use crate::engine::EngineError;
use crate::jobs::{TaskError, exception};

/// The exception of an engine failure on a build. `input` names the build's tar for the
/// publisher (its build name), never the work dir's path.
pub fn of_engine(error: EngineError, input: &str) -> TaskError {
    let code = codes::of_engine(&error);
    let details = match error {
        EngineError::Cancelled => return TaskError::Interrupted,
        EngineError::FileReadFailed {
            type_expected,
            type_detected,
            ..
        } => json!({
            "filename": input,
            "typeExpected": type_expected,
            "typeDetected": type_detected.as_str(),
        }),
        EngineError::UnsafePath { filename, reason } => {
            json!({ "filename": filename, "reason": reason })
        }
        EngineError::DuplicatePath { filename } => json!({ "filename": filename }),
        EngineError::TarTruncated {
            entry,
            offset,
            reason,
            ..
        } => json!({ "filename": input, "entry": entry, "offset": offset, "reason": reason }),
        EngineError::TarChecksum { offset, after, .. } => {
            json!({ "filename": input, "offset": offset, "after": after })
        }
        EngineError::TarMalformed { offset, reason, .. } => {
            json!({ "filename": input, "offset": offset, "reason": reason })
        }
        EngineError::Io { source, .. } => {
            tracing::error!(error = %source, "build processing failed on the machine's I/O");
            json!({ "filename": input, "message": source.to_string() })
        }
        other => {
            tracing::error!(error = %other, "build processing failed");
            return TaskError::internal(format!("processing failed: {}", other.code()));
        }
    };
    TaskError::Failed(exception(code, details))
}

/// `sizeMismatch {sizeBytesActual, sizeBytesExpected}`.
pub fn size_mismatch(actual: u64, expected: u64) -> TaskError {
    TaskError::Failed(exception(
        codes::SIZE_MISMATCH,
        json!({ "sizeBytesActual": actual, "sizeBytesExpected": expected }),
    ))
}

/// `httpDownloadFailed {httpStatus, exitCode, url}`: `httpStatus` 0 when no answer came;
/// `exitCode` as curl numbers the failure (see [`ExitCode`]).
pub fn download_failed(http_status: u16, exit: ExitCode, url: &str, message: &str) -> TaskError {
    TaskError::Failed(exception(
        codes::HTTP_DOWNLOAD_FAILED,
        json!({
            "httpStatus": http_status,
            "exitCode": exit as u8,
            "url": crate::config::mask_url(url),
            "message": message,
        }),
    ))
}

/// `uploadExpired {}`.
pub fn upload_expired() -> Value {
    exception(codes::UPLOAD_EXPIRED, json!({}))
}

/// Why a download failed, numbered as curl's exit codes so scripts can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The URL is malformed or not http(s).
    BadUrl = 3,
    /// The host name does not resolve.
    Resolve = 6,
    /// No connection (refused, unreachable, or an address the operator does not allow).
    Connect = 7,
    /// The server answered with an HTTP error status.
    HttpError = 22,
    /// The local file could not be written.
    Write = 23,
    /// Connecting or waiting for bytes took too long.
    Timeout = 28,
    /// The TLS handshake failed.
    Tls = 35,
    /// Too many redirects.
    Redirects = 47,
    /// The connection broke off while receiving.
    Receive = 56,
    /// The build exceeds the configured maximum size.
    TooLarge = 63,
}
