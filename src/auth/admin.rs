//! The instance administrator: HS256 tokens `{"username"}` signed with the admin secret.

use serde::{Deserialize, Serialize};

use super::{AuthError, jwt};

/// The claims of an admin token (no expiry, as the vendor's tooling issues them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminClaims {
    pub username: String,
}

/// Issues and checks admin tokens.
#[derive(Clone)]
pub struct AdminAuth {
    key: Vec<u8>,
}

impl AdminAuth {
    /// Uses the decoded admin secret as the HMAC key.
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    /// Mints a token for `username`.
    pub fn issue(&self, username: &str) -> Result<String, serde_json::Error> {
        jwt::sign(
            &AdminClaims {
                username: username.to_string(),
            },
            &self.key,
        )
    }

    /// The administrator named by a valid token.
    pub fn verify(&self, token: &str) -> Result<AdminClaims, AuthError> {
        let claims: AdminClaims = jwt::verify(token, &self.key)?;
        if claims.username.trim().is_empty() {
            return Err(AuthError::Invalid("the admin token names no user".into()));
        }
        Ok(claims)
    }
}
