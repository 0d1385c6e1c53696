//! Credentials: JWTs (HS256), password hashing, and the instance administrator.

pub mod admin;
pub mod jwt;
pub mod password;

/// Why a caller is not authenticated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No credentials, or unknown ones.
    #[error("{0}")]
    Unauthorized(String),
    /// A token past its `exp`.
    #[error("the token has expired; obtain a new one")]
    Expired,
    /// Bad signature, wrong token type, revoked session.
    #[error("{0}")]
    Invalid(String),
}
