//! Authentication of `/be/v1` callers: session access tokens and machine-user API keys.

use chrono::Utc;

use super::DomainError;
use super::caller::{Caller, Principal, effective};
use crate::auth::tokens::{TokenIssuer, TokenType, secret_hash};
use crate::auth::{AuthError, apikey, constant_time_eq};
use crate::store::{
    API_KEYS, Account, ORGS, ROLES, ReadTx, SESSIONS, Store, StoreError, USERS, org_key,
};

/// Credentials as presented by a request.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A bearer credential: a session access token or a self-identifying API key.
    Bearer(String),
    /// The machine-user header triple.
    Machine {
        org: String,
        username: String,
        key: String,
    },
}

/// Resolves credentials to a [`Caller`].
#[derive(Clone)]
pub struct IdentityService {
    store: Store,
    issuer: TokenIssuer,
}

fn unknown_key() -> DomainError {
    AuthError::Unauthorized("unknown or revoked API key".into()).into()
}

/// Loads a user of an org with the OR of its roles' permissions; `None` when the user or
/// the org is gone.
pub fn load_caller(
    tx: &ReadTx,
    org: &str,
    username: &str,
    session: Option<String>,
) -> Result<Option<Caller>, StoreError> {
    let Some(org_record) = tx.open(&ORGS)?.get(org.to_ascii_lowercase().as_str())? else {
        return Ok(None);
    };
    let Some(user) = tx.open(&USERS)?.get(org_key(org, username).as_str())? else {
        return Ok(None);
    };
    let roles = tx.open(&ROLES)?;
    let mut masks = Vec::new();
    for name in &user.roles {
        if let Some(role) = roles.get(org_key(org, name).as_str())? {
            masks.push(role.permissions);
        }
    }
    let principal = match user.account {
        Account::Person { .. } => Principal::Person,
        Account::Machine { .. } => Principal::Machine,
    };
    Ok(Some(Caller {
        org: user.org,
        org_id: org_record.id,
        username: user.username,
        principal,
        permissions: effective(masks.iter()),
        roles: user.roles,
        session,
    }))
}

impl IdentityService {
    /// Authenticates against the store with tokens signed by `issuer`.
    pub fn new(store: Store, issuer: TokenIssuer) -> Self {
        Self { store, issuer }
    }

    /// The caller the credentials prove, or why not.
    pub async fn authenticate(&self, credentials: Credentials) -> Result<Caller, DomainError> {
        match credentials {
            Credentials::Bearer(token) if apikey::is_api_key(&token) => {
                self.api_key(&token, None).await
            }
            Credentials::Bearer(token) => self.access_token(&token).await,
            Credentials::Machine { org, username, key } => {
                self.api_key(&key, Some((org, username))).await
            }
        }
    }

    async fn access_token(&self, token: &str) -> Result<Caller, DomainError> {
        let claims = self.issuer.verify_session(token, TokenType::Access)?;
        self.store
            .read(move |tx| {
                let session = tx
                    .open(&SESSIONS)?
                    .get(claims.sid.as_str())?
                    .filter(|s| s.revoked.is_none() && s.expires > Utc::now())
                    .ok_or_else(|| {
                        AuthError::Invalid("the session has ended; log in again".into())
                    })?;
                let org_id = session.org_id;
                load_caller(tx, &session.org, &session.username, Some(session.id))?
                    .filter(|caller| org_id == 0 || caller.org_id == org_id)
                    .ok_or_else(|| AuthError::Invalid("the user no longer exists".into()).into())
            })
            .await
    }

    async fn api_key(
        &self,
        key: &str,
        expected: Option<(String, String)>,
    ) -> Result<Caller, DomainError> {
        let (id, secret) = apikey::parse(key).ok_or_else(unknown_key)?;
        let (id, presented) = (id.to_string(), secret_hash(secret));
        self.store
            .read(move |tx| {
                let record = tx
                    .open(&API_KEYS)?
                    .get(id.as_str())?
                    .ok_or_else(unknown_key)?;
                if !constant_time_eq(record.secret_hash.as_bytes(), presented.as_bytes()) {
                    return Err(unknown_key());
                }
                if let Some((org, username)) = expected
                    && !(record.org.eq_ignore_ascii_case(&org)
                        && record.username.eq_ignore_ascii_case(&username))
                {
                    return Err(unknown_key());
                }
                load_caller(tx, &record.org, &record.username, None)?.ok_or_else(unknown_key)
            })
            .await
    }
}
