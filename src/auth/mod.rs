//! Credentials: JWTs (HS256), password hashing, and the instance administrator.

pub mod admin;
pub mod apikey;
pub mod jwt;
pub mod password;
pub mod sealing;
pub mod throttle;
pub mod tokens;
pub mod upload_url;

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

/// Compares two secrets (or their hashes) in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
