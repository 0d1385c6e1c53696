//! The one table of error codes: what an API error body's `error` and a task exception's key
//! can be, with the HTTP status of each API error and what it means. API errors, domain
//! errors, engine failures and task exceptions all take their code from here, and the OpenAPI
//! document and the web UI read it.

use crate::engine::EngineError;

/// Whether a code is an API error or a task exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{"status":"error","error":code,...}` with an HTTP status.
    Api(u16),
    /// The one key of a task's `exception` object.
    Exception,
}

/// One error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: &'static str,
    pub kind: Kind,
    /// What it means, for the reader of the table.
    pub meaning: &'static str,
}

macro_rules! codes {
    ($($name:ident = $code:literal, $kind:expr, $meaning:literal;)*) => {
        $(
            #[doc = $meaning]
            pub const $name: ErrorCode = ErrorCode { code: $code, kind: $kind, meaning: $meaning };
        )*
        /// Every code, API errors first.
        pub const ALL: &[ErrorCode] = &[$($name),*];
    };
}

use Kind::{Api, Exception};

codes! {
    INVALID_PARAM = "invalid-param", Api(400), "A parameter, filter or body field is malformed or unknown.";
    MISSING_PARAM = "missing-param", Api(400), "A required parameter or body field is absent.";
    UNAUTHORIZED = "unauthorized", Api(401), "No or wrong credentials.";
    TOKEN_EXPIRED = "token-expired", Api(401), "The token has expired; refresh or log in again.";
    TOKEN_INVALID = "token-invalid", Api(401), "The token is malformed, forged or revoked.";
    PERMISSION_DENIED = "permission-denied", Api(403), "The caller lacks the permission bit the route needs.";
    NOT_FOUND = "not-found", Api(404), "No such route, or no such resource in the caller's org.";
    METHOD_NOT_ALLOWED = "method-not-allowed", Api(405), "The route exists with other methods.";
    ITEM_EXISTS = "item-exists", Api(409), "The name is taken.";
    ITEM_PROTECTED = "item-protected", Api(409), "The rules forbid this change or deletion now.";
    PAYLOAD_TOO_LARGE = "payload-too-large", Api(413), "The request body exceeds the limit.";
    URI_TOO_LONG = "uri-too-long", Api(414), "The request URI exceeds 8 KiB.";
    RATE_LIMITED = "rate-limited", Api(429), "Too many failed logins; retry after Retry-After seconds.";
    INTERNAL = "internal", Api(500), "A failure that is not the caller's; it is logged.";
    MAINTENANCE = "maintenance", Api(503), "The appliance is in maintenance mode; retry after Retry-After seconds.";
    APP_LOCKED = "app-locked", Api(409), "The app is busy or in error in a way that forbids the call.";
    RANGE_NOT_SATISFIABLE = "range-not-satisfiable", Api(416), "The requested range does not fit the file, or an upload range leaves a gap.";
    SIGNATURE_INVALID = "signature-invalid", Api(403), "A signed URL's signature does not match.";
    URL_EXPIRED = "url-expired", Api(410), "A signed URL is past its expiry.";
    TASK_INTERNAL = "internal", Exception, "The task failed for a reason that is not its input's: {message}.";
    TASK_ERROR = "error", Exception, "An origin refused or could not be reached: {deployment, message}.";
    HTTP_DOWNLOAD_FAILED = "httpDownloadFailed", Exception, "The build's URL could not be downloaded: {httpStatus, exitCode, url}.";
    SIZE_MISMATCH = "sizeMismatch", Exception, "The build's size is not the announced one: {sizeBytesActual, sizeBytesExpected}.";
    UPLOAD_EXPIRED = "uploadExpired", Exception, "The upload was not completed before its URL expired.";
    FILE_READ_FAILED = "fileReadFailed", Exception, "The input is not of the expected type: {filename, typeExpected, typeDetected}.";
    UNSAFE_PATH = "unsafePath", Exception, "A tar entry could escape the tree: {filename, reason}.";
    DUPLICATE_PATH = "duplicatePath", Exception, "Two tar entries name the same path: {filename}.";
    TAR_TRUNCATED = "tarTruncated", Exception, "The tar ends early: {filename, entry, offset, reason}.";
    TAR_CHECKSUM = "tarChecksum", Exception, "A tar header's checksum is wrong: {filename, offset, after}.";
    TAR_MALFORMED = "tarMalformed", Exception, "A tar header cannot be parsed: {filename, offset, reason}.";
    BAD_ORDER = "badOrder", Exception, "An access-order line cannot be used: {filename, line, reason}.";
    CORRUPT_IMAGE = "corruptImage", Exception, "An image file does not match its checksums: {filename, reason}.";
    CORRUPT_PATCH = "corruptPatch", Exception, "A patch file does not match or does not apply: {filename, reason}.";
    BAD_OUTPUT = "badOutput", Exception, "The output cannot be written as asked: {filename, reason}.";
    IO_FAILED = "ioFailed", Exception, "The machine's I/O failed: {filename, message}.";
    CANCELLED = "cancelled", Exception, "The run was stopped before its end (shutdown, expiry).";
}

/// The exception code of an engine failure.
pub fn of_engine(error: &EngineError) -> ErrorCode {
    let code = error.code();
    ALL.iter()
        .copied()
        .find(|c| c.kind == Exception && c.code == code)
        .unwrap_or(TASK_INTERNAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_within_their_kind() {
        for (i, a) in ALL.iter().enumerate() {
            for b in &ALL[i + 1..] {
                let same_kind =
                    matches!((a.kind, b.kind), (Api(_), Api(_)) | (Exception, Exception));
                assert!(!(same_kind && a.code == b.code), "{} twice", a.code);
            }
        }
    }

    #[test]
    fn every_engine_failure_has_its_exception_code() {
        let io = || std::io::Error::other("disk");
        let text = || "x".to_string();
        let failures = [
            EngineError::FileReadFailed {
                filename: text(),
                type_expected: "tar",
                type_detected: crate::engine::DetectedType::Gzip,
            },
            EngineError::UnsafePath {
                filename: text(),
                reason: text(),
            },
            EngineError::DuplicatePath { filename: text() },
            EngineError::TarTruncated {
                filename: text(),
                entry: text(),
                offset: 0,
                reason: text(),
            },
            EngineError::TarChecksum {
                filename: text(),
                offset: 0,
                after: text(),
            },
            EngineError::TarMalformed {
                filename: text(),
                offset: 0,
                reason: text(),
            },
            EngineError::BadOrder {
                filename: text(),
                line: 1,
                reason: text(),
            },
            EngineError::CorruptImage {
                filename: text(),
                reason: text(),
            },
            EngineError::CorruptPatch {
                filename: text(),
                reason: text(),
            },
            EngineError::BadOutput {
                filename: text(),
                reason: text(),
            },
            EngineError::Cancelled,
            EngineError::Io {
                filename: text(),
                source: io(),
            },
        ];
        for failure in &failures {
            let code = of_engine(failure);
            assert_eq!(code.code, failure.code(), "{failure}");
            assert_eq!(code.kind, Exception);
        }
    }
}
