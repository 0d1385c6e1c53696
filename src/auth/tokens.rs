//! Session tokens: every token carries its type, so one kind can never stand in for another.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{AuthError, jwt};

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// Authenticates API calls.
    Access,
    /// Obtains new access tokens (rotated on use).
    Refresh,
    /// Picks an org after a password check (two-step login).
    OrgSel,
}

/// Claims of access and refresh tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionClaims {
    pub typ: TokenType,
    /// The session.
    pub sid: String,
    pub org: String,
    pub sub: String,
    /// Unique per token, so two tokens issued in the same second differ.
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

/// An org a two-step login may pick: its name and the id of the org the password opened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SelectableOrg {
    pub name: String,
    pub id: u64,
}

/// Claims of an org-selection token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgSelClaims {
    pub typ: TokenType,
    pub sub: String,
    /// The orgs whose password check passed.
    pub orgs: Vec<SelectableOrg>,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

/// Token lifetimes in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access: i64,
    pub refresh: i64,
    pub org_selection: i64,
}

/// Signs and checks session tokens with the token secret.
#[derive(Clone)]
pub struct TokenIssuer {
    key: Vec<u8>,
    pub lifetimes: Lifetimes,
}

fn new_jti() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl TokenIssuer {
    /// Uses `key` (the token secret) for every token.
    pub fn new(key: Vec<u8>, lifetimes: Lifetimes) -> Self {
        Self { key, lifetimes }
    }

    /// A signed access or refresh token of a session.
    pub fn session_token(
        &self,
        typ: TokenType,
        sid: &str,
        org: &str,
        user: &str,
    ) -> Result<String, AuthError> {
        let iat = Utc::now().timestamp();
        let ttl = match typ {
            TokenType::Refresh => self.lifetimes.refresh,
            _ => self.lifetimes.access,
        };
        let claims = SessionClaims {
            typ,
            sid: sid.to_string(),
            org: org.to_string(),
            sub: user.to_string(),
            jti: new_jti(),
            iat,
            exp: iat + ttl,
        };
        jwt::sign(&claims, &self.key).map_err(|e| AuthError::Invalid(e.to_string()))
    }

    /// A signed org-selection token.
    pub fn org_selection_token(
        &self,
        user: &str,
        orgs: Vec<SelectableOrg>,
    ) -> Result<String, AuthError> {
        let iat = Utc::now().timestamp();
        let claims = OrgSelClaims {
            typ: TokenType::OrgSel,
            sub: user.to_string(),
            orgs,
            jti: new_jti(),
            iat,
            exp: iat + self.lifetimes.org_selection,
        };
        jwt::sign(&claims, &self.key).map_err(|e| AuthError::Invalid(e.to_string()))
    }

    /// Checks a session token and that it is of the expected type.
    pub fn verify_session(
        &self,
        token: &str,
        expected: TokenType,
    ) -> Result<SessionClaims, AuthError> {
        let claims: SessionClaims = jwt::verify(token, &self.key)?;
        check_type(claims.typ, expected)?;
        Ok(claims)
    }

    /// Checks an org-selection token.
    pub fn verify_org_selection(&self, token: &str) -> Result<OrgSelClaims, AuthError> {
        let claims: OrgSelClaims = jwt::verify(token, &self.key)?;
        check_type(claims.typ, TokenType::OrgSel)?;
        Ok(claims)
    }
}

fn check_type(found: TokenType, expected: TokenType) -> Result<(), AuthError> {
    if found == expected {
        Ok(())
    } else {
        Err(AuthError::Invalid(format!(
            "a {found:?} token cannot be used here; send a {expected:?} token"
        )))
    }
}

/// SHA-256 hex of a secret, for storing refresh tokens and API keys.
pub fn secret_hash(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}
