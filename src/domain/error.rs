//! The domain's error: every rule violation a caller can cause, plus failures underneath.

use crate::auth::AuthError;
use crate::store::StoreError;

/// Why a domain operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// A required field is absent.
    #[error("{field} is required")]
    Missing { field: String },
    /// A field is present but malformed.
    #[error("{field} is invalid: {reason}")]
    Invalid { field: String, reason: String },
    /// The named resource does not exist (in the caller's org).
    #[error("{what} not found")]
    NotFound { what: String },
    /// A create with a name already taken.
    #[error("{what} already exists")]
    Exists { what: String },
    /// Not (or wrongly) authenticated.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Authenticated, but a role bit is missing.
    #[error("permission denied: this needs {needed}")]
    Forbidden { needed: String },
    /// Too many failed logins; retry after the given seconds.
    #[error("too many failed logins; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    /// A delete or change the rules forbid.
    #[error("{0}")]
    Protected(String),
    /// The app is busy or in error in a way that forbids the call.
    #[error("{0}")]
    Locked(String),
    /// A body beyond the configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// A range that does not fit (an upload that would leave a gap).
    #[error("{0}")]
    Unsatisfiable(String),
    /// A signed URL whose signature does not match.
    #[error("{0}")]
    BadSignature(String),
    /// A signed URL past its expiry.
    #[error("{0}")]
    UrlExpired(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure that is not the caller's fault.
    #[error("{0}")]
    Internal(String),
}

impl DomainError {
    /// A malformed field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        DomainError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A missing resource.
    pub fn not_found(what: impl Into<String>) -> Self {
        DomainError::NotFound { what: what.into() }
    }
}
