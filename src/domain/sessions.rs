//! Logins and sessions: password checks (throttled), org selection, refresh-token rotation
//! with reuse detection, logout, and the 2025 `auth` exchange.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Duration, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use super::identity::load_caller;
use super::{DomainError, blocking};
use crate::auth::throttle::Throttle;
use crate::auth::tokens::{SelectableOrg, TokenIssuer, TokenType, secret_hash};
use crate::auth::{AuthError, constant_time_eq, password};
use crate::store::{
    Account, ORGS, SESSIONS, SessionRecord, Store, USER_ORGS, USERS, WriteTx, org_key,
};

/// An org the password opened.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OrgChoice {
    #[serde(skip)]
    pub id: u64,
    pub name: String,
    pub label: String,
}

/// Answer to the first step of a two-step login.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgSelection {
    pub orgs: Vec<OrgChoice>,
    pub org_sel_token: String,
    pub expires_in: i64,
}

/// The tokens of a session.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub access_expires_in: i64,
    pub refresh_expires_in: i64,
    pub permissions: BTreeMap<String, u32>,
}

/// The 2025 `auth` answer: a new access token for a refresh token.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BeAuth {
    pub beauth_token: String,
    pub expires_in: i64,
}

/// Login throttles, per username and per client address.
pub struct Throttles {
    pub by_user: Throttle,
    pub by_address: Throttle,
}

/// Session rules.
#[derive(Clone)]
pub struct SessionService {
    store: Store,
    issuer: TokenIssuer,
    throttles: Arc<Throttles>,
}

fn bad_login() -> DomainError {
    AuthError::Unauthorized("wrong username or password".into()).into()
}

fn ended() -> DomainError {
    AuthError::Invalid("the session has ended; log in again".into()).into()
}

impl SessionService {
    /// Sessions in `store`, tokens from `issuer`.
    pub fn new(store: Store, issuer: TokenIssuer, throttles: Throttles) -> Self {
        Self {
            store,
            issuer,
            throttles: Arc::new(throttles),
        }
    }

    /// 429 while the client address is locked out.
    fn check_address(&self, address: &str) -> Result<(), DomainError> {
        match self.throttles.by_address.locked(address) {
            Some(retry_after) => Err(DomainError::RateLimited { retry_after }),
            None => Ok(()),
        }
    }

    /// The orgs (name, id, label), user spelling and stored password hash where `username`
    /// is a person.
    async fn candidates(
        &self,
        username: &str,
    ) -> Result<Vec<(OrgChoice, String, String)>, DomainError> {
        let prefix = format!("{}/", username.to_ascii_lowercase());
        let username = username.to_string();
        self.store
            .read(move |tx| {
                let (orgs, users) = (tx.open(&ORGS)?, tx.open(&USERS)?);
                let mut found = Vec::new();
                for (_, org) in tx.open(&USER_ORGS)?.with_prefix(&prefix)? {
                    let user = users.get(org_key(&org, &username).as_str())?;
                    let record = orgs.get(org.to_ascii_lowercase().as_str())?;
                    if let (Some(user), Some(record)) = (user, record)
                        && user.username == username
                        && let Account::Person { password_hash, .. } = user.account
                    {
                        let choice = OrgChoice {
                            id: record.id,
                            name: record.name,
                            label: record.label,
                        };
                        found.push((choice, user.username, password_hash));
                    }
                }
                Ok::<_, DomainError>(found)
            })
            .await
    }

    /// Checks the password in every candidate org (or only `only_org`); the orgs it opens,
    /// with the user's spelling. Failures lock out per org and username, so guessing in one
    /// org never locks out a namesake in another, and per client address.
    async fn verify_password(
        &self,
        username: &str,
        password_text: &str,
        only_org: Option<&str>,
        address: &str,
    ) -> Result<Vec<(OrgChoice, String)>, DomainError> {
        self.check_address(address)?;
        let mut candidates = self.candidates(username).await?;
        if let Some(org) = only_org {
            candidates.retain(|(choice, _, _)| choice.name == org);
        }
        // The keys a failure counts against: the candidates' (or, when the username exists
        // nowhere, one key for it, so unknown and known usernames behave alike).
        let mut keys: Vec<String> = match only_org {
            Some(org) => vec![org_key(org, username)],
            None if candidates.is_empty() => vec![org_key("", username)],
            None => Vec::new(),
        };
        let mut locked_out = None;
        candidates.retain(|(choice, _, _)| {
            let key = org_key(&choice.name, username);
            match self.throttles.by_user.locked(&key) {
                Some(left) => {
                    locked_out = locked_out.max(Some(left));
                    false
                }
                None => {
                    if only_org.is_none() {
                        keys.push(key);
                    }
                    true
                }
            }
        });
        for key in &keys {
            if let Some(left) = self.throttles.by_user.locked(key) {
                locked_out = locked_out.max(Some(left));
            }
        }
        if let Some(retry_after) = locked_out.filter(|_| candidates.is_empty()) {
            return Err(DomainError::RateLimited { retry_after });
        }
        let password_text = password_text.to_string();
        let opened = blocking(move || {
            if candidates.is_empty() {
                // Spend the same effort as a real check so timing does not reveal unknown users.
                let _ = password::hash(&password_text);
            }
            Ok(candidates
                .into_iter()
                .filter(|(_, _, hash)| password::verify(&password_text, hash))
                .map(|(choice, user, _)| (choice, user))
                .collect::<Vec<_>>())
        })
        .await?;
        if opened.is_empty() {
            self.throttles.by_address.failed(address);
            for key in &keys {
                self.throttles.by_user.failed(key);
            }
            return Err(bad_login());
        }
        for (choice, _) in &opened {
            self.throttles
                .by_user
                .succeeded(&org_key(&choice.name, username));
        }
        Ok(opened)
    }

    /// Step one of a two-step login: the orgs this password opens and a token to pick one.
    pub async fn login(
        &self,
        username: &str,
        password_text: &str,
        address: &str,
    ) -> Result<OrgSelection, DomainError> {
        let opened = self
            .verify_password(username, password_text, None, address)
            .await?;
        let names = opened
            .iter()
            .map(|(choice, _)| SelectableOrg {
                name: choice.name.clone(),
                id: choice.id,
            })
            .collect();
        let user = opened[0].1.clone();
        Ok(OrgSelection {
            org_sel_token: self.issuer.org_selection_token(&user, names)?,
            orgs: opened.into_iter().map(|(choice, _)| choice).collect(),
            expires_in: self.issuer.lifetimes.org_selection,
        })
    }

    /// Step two: a session in one of the orgs the org-selection token lists.
    pub async fn select_org(
        &self,
        org_sel_token: &str,
        org: &str,
    ) -> Result<SessionTokens, DomainError> {
        let claims = self.issuer.verify_org_selection(org_sel_token)?;
        let org = claims
            .orgs
            .iter()
            .find(|selectable| selectable.name == org)
            .ok_or_else(|| {
                AuthError::Unauthorized(format!("the org-selection token does not open org {org}"))
            })?;
        self.open_session(&org.name, org.id, &claims.sub).await
    }

    /// One-step login into a named org.
    pub async fn login_to_org(
        &self,
        username: &str,
        password_text: &str,
        org: &str,
        address: &str,
    ) -> Result<SessionTokens, DomainError> {
        let opened = self
            .verify_password(username, password_text, Some(org), address)
            .await?;
        let (choice, user) = &opened[0];
        self.open_session(&choice.name, choice.id, user).await
    }

    fn tokens(&self, session: &SessionRecord) -> Result<(String, String), AuthError> {
        let access = self.issuer.session_token(
            TokenType::Access,
            &session.id,
            &session.org,
            &session.username,
        )?;
        let refresh = self.issuer.session_token(
            TokenType::Refresh,
            &session.id,
            &session.org,
            &session.username,
        )?;
        Ok((access, refresh))
    }

    fn session_tokens(
        &self,
        access: String,
        refresh: String,
        permissions: BTreeMap<String, u32>,
    ) -> SessionTokens {
        SessionTokens {
            access_token: access,
            refresh_token: refresh,
            access_expires_in: self.issuer.lifetimes.access,
            refresh_expires_in: self.issuer.lifetimes.refresh,
            permissions,
        }
    }

    /// Opens a session in the org whose password check passed: refused when that org was
    /// deleted (or re-created under its name) since.
    async fn open_session(
        &self,
        org: &str,
        org_id: u64,
        username: &str,
    ) -> Result<SessionTokens, DomainError> {
        let now = Utc::now();
        let mut session = SessionRecord {
            id: uuid::Uuid::new_v4().to_string(),
            org: org.to_string(),
            org_id,
            username: username.to_string(),
            created: now,
            expires: now + Duration::seconds(self.issuer.lifetimes.refresh),
            refresh_hash: String::new(),
            revoked: None,
        };
        let (access, refresh) = self.tokens(&session)?;
        session.refresh_hash = secret_hash(&refresh);
        let permissions = self.permissions(org, username).await?;
        self.store
            .write(move |tx| {
                let live = tx
                    .open(&ORGS)?
                    .get(session.org.to_ascii_lowercase().as_str())?
                    .is_some_and(|org| org.id == session.org_id)
                    && tx
                        .open(&USERS)?
                        .get(org_key(&session.org, &session.username).as_str())?
                        .is_some();
                if !live {
                    return Err(bad_login());
                }
                tx.open(&SESSIONS)?.put(session.id.as_str(), &session)?;
                Ok(())
            })
            .await?;
        Ok(self.session_tokens(access, refresh, permissions))
    }

    /// The user's effective permissions now; an ended session when the user is gone.
    async fn permissions(
        &self,
        org: &str,
        username: &str,
    ) -> Result<BTreeMap<String, u32>, DomainError> {
        let (org, username) = (org.to_string(), username.to_string());
        self.store
            .read(move |tx| {
                load_caller(tx, &org, &username, None)?
                    .map(|caller| caller.permissions)
                    .ok_or_else(ended)
            })
            .await
    }

    /// Rotates a refresh token. A token that is not the session's current one is a replay:
    /// the whole session is revoked.
    pub async fn refresh(&self, refresh_token: &str) -> Result<SessionTokens, DomainError> {
        let claims = self
            .issuer
            .verify_session(refresh_token, TokenType::Refresh)?;
        let presented = secret_hash(refresh_token);
        let issuer = self.clone();
        let rotated = self
            .store
            .write(move |tx| {
                let mut session = current_session(tx, &claims.sid)?;
                if !constant_time_eq(session.refresh_hash.as_bytes(), presented.as_bytes()) {
                    session.revoked = Some(Utc::now());
                    tx.open(&SESSIONS)?.put(session.id.as_str(), &session)?;
                    tracing::warn!(session = %session.id, user = %session.username, "refresh token replayed; session revoked");
                    return Ok(Err(()));
                }
                let (access, refresh) = issuer.tokens(&session)?;
                session.refresh_hash = secret_hash(&refresh);
                session.expires = Utc::now() + Duration::seconds(issuer.issuer.lifetimes.refresh);
                tx.open(&SESSIONS)?.put(session.id.as_str(), &session)?;
                Ok::<_, DomainError>(Ok((access, refresh, session)))
            })
            .await?;
        let (access, refresh, session) = rotated.map_err(|()| {
            DomainError::from(AuthError::Invalid(
                "this refresh token was already used; the session is revoked".into(),
            ))
        })?;
        let permissions = self.permissions(&session.org, &session.username).await?;
        Ok(self.session_tokens(access, refresh, permissions))
    }

    /// Revokes the session of an access or refresh token at once.
    pub async fn logout(&self, token: &str) -> Result<(), DomainError> {
        let claims = self
            .issuer
            .verify_session(token, TokenType::Access)
            .or_else(|_| self.issuer.verify_session(token, TokenType::Refresh))?;
        self.store
            .write(move |tx| {
                let mut session = current_session(tx, &claims.sid)?;
                session.revoked = Some(Utc::now());
                tx.open(&SESSIONS)?.put(session.id.as_str(), &session)?;
                Ok::<_, DomainError>(())
            })
            .await
    }

    /// A new access token for the session's current refresh token, without rotating it.
    pub async fn exchange(&self, refresh_token: &str) -> Result<BeAuth, DomainError> {
        let claims = self
            .issuer
            .verify_session(refresh_token, TokenType::Refresh)?;
        let presented = secret_hash(refresh_token);
        let session = self
            .store
            .read(move |tx| {
                tx.open(&SESSIONS)?
                    .get(claims.sid.as_str())?
                    .filter(|s| s.revoked.is_none() && s.expires > Utc::now())
                    .filter(|s| constant_time_eq(s.refresh_hash.as_bytes(), presented.as_bytes()))
                    .ok_or_else(ended)
            })
            .await?;
        let access = self.issuer.session_token(
            TokenType::Access,
            &session.id,
            &session.org,
            &session.username,
        )?;
        Ok(BeAuth {
            beauth_token: access,
            expires_in: self.issuer.lifetimes.access,
        })
    }
}

fn current_session(tx: &WriteTx, id: &str) -> Result<SessionRecord, DomainError> {
    tx.open(&SESSIONS)?
        .get(id)?
        .filter(|s| s.revoked.is_none() && s.expires > Utc::now())
        .ok_or_else(ended)
}
