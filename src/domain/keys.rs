//! Launcher access keys of apps (`/be/v1/keys`); what a launcher gets with one is
//! [`super::downloads`].

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::listing::{ListParams, Page};
use super::names::{NAME_RULE, check_key_id, check_name};
use super::text::check_label;
use super::{DomainError, in_org};
use crate::auth::apikey::{mint_access, parse_access};
use crate::auth::tokens::secret_hash;
use crate::auth::{AuthError, constant_time_eq};
use crate::store::{
    ACCESS_KEYS, APPS, AccessKeyRecord, AppRecord, Reads, Store, org_key, org_prefix,
};

/// A `POST /be/v1/keys` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAccessKey {
    #[schemars(pattern(NAME_RULE.pattern()))]
    pub app_name: String,
    pub label: Option<String>,
    pub expires: Option<DateTime<Utc>>,
}

/// An access key as listed (never its secret).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessKeyView {
    pub id: String,
    pub app_name: String,
    pub label: String,
    pub created: DateTime<Utc>,
    pub expires: Option<DateTime<Utc>>,
}

impl From<AccessKeyRecord> for AccessKeyView {
    fn from(key: AccessKeyRecord) -> Self {
        Self {
            id: key.id,
            app_name: key.app,
            label: key.label,
            created: key.created,
            expires: key.expires,
        }
    }
}

/// Access keys and the client API.
#[derive(Clone)]
pub struct KeyService {
    store: Store,
}

impl KeyService {
    /// Keys in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Mints an access key of an app; returns the key (shown once) and its view.
    pub async fn create(
        &self,
        caller: &Caller,
        new: NewAccessKey,
    ) -> Result<(String, AccessKeyView), DomainError> {
        check_name("appName", &new.app_name)?;
        if let Some(label) = &new.label {
            check_label("label", label)?;
        }
        if new.expires.is_some_and(|e| e <= Utc::now()) {
            return Err(DomainError::invalid("expires", "must lie in the future"));
        }
        let org = caller.org.clone();
        in_org(&self.store, caller)
            .write(move |tx| {
                let app = tx
                    .open(&APPS)?
                    .named(Some(&org), &new.app_name)?
                    .ok_or_else(|| DomainError::not_found(format!("app {}", new.app_name)))?;
                let key = mint_access();
                let record = AccessKeyRecord {
                    id: key.id.clone(),
                    org: app.org.clone(),
                    app: app.name.clone(),
                    label: new.label.unwrap_or_default(),
                    secret_hash: secret_hash(&key.secret),
                    created: Utc::now(),
                    expires: new.expires,
                };
                tx.open(&ACCESS_KEYS)?
                    .put(key_of(&app.org, &app.name, &key.id).as_str(), &record)?;
                Ok((key.full, AccessKeyView::from(record)))
            })
            .await
    }

    /// A page of the org's access keys, optionally of one app.
    pub async fn list(
        &self,
        caller: &Caller,
        app: Option<String>,
        params: ListParams,
    ) -> Result<Page<AccessKeyView>, DomainError> {
        let prefix = match &app {
            Some(app) => format!("{}/", org_key(&caller.org, app)),
            None => org_prefix(&caller.org),
        };
        let keys = self
            .store
            .read(move |tx| Ok::<_, DomainError>(tx.open(&ACCESS_KEYS)?.with_prefix(&prefix)?))
            .await?;
        let views: Vec<AccessKeyView> = keys.into_iter().map(|(_, k)| k.into()).collect();
        params.apply(
            views,
            &["id", "appName", "created"],
            |a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)),
            |field, a, b| match field {
                "appName" => a.app_name.cmp(&b.app_name),
                "created" => a.created.cmp(&b.created),
                _ => a.id.cmp(&b.id),
            },
        )
    }

    /// Revokes an access key of the caller's org.
    pub async fn delete(&self, caller: &Caller, id: &str) -> Result<(), DomainError> {
        check_key_id("id", id)?;
        let (org, id) = (caller.org.clone(), id.to_string());
        in_org(&self.store, caller)
            .write(move |tx| {
                let suffix = format!("/{}", id.to_ascii_lowercase());
                let mut keys = tx.open(&ACCESS_KEYS)?;
                let found = keys
                    .keys_with_prefix(&org_prefix(&org))?
                    .into_iter()
                    .find(|key| key.ends_with(&suffix));
                match found {
                    Some(key) => {
                        keys.remove(key.as_str())?;
                        Ok(())
                    }
                    None => Err(DomainError::not_found(format!("access key {id}"))),
                }
            })
            .await
    }
}

/// The key of an access key record: `org_lc/app_lc/{id}`.
pub(super) fn key_of(org: &str, app: &str, id: &str) -> String {
    format!("{}/{}", org_key(org, app), id.to_ascii_lowercase())
}

/// The app an access key opens; 401 for an unknown org or app, or a key that is wrong,
/// revoked or expired (one answer for all, so a caller learns nothing from it).
pub(super) fn opened_by(
    tx: &impl Reads,
    org: &str,
    app: &str,
    access_key: &str,
) -> Result<AppRecord, DomainError> {
    let refused = || {
        DomainError::Auth(AuthError::Unauthorized(
            "unknown org or app, or an access key that is wrong, revoked or expired".into(),
        ))
    };
    let (id, secret) = parse_access(access_key).ok_or_else(refused)?;
    let record = tx
        .read(&ACCESS_KEYS)?
        .get(key_of(org, app, id).as_str())?
        .ok_or_else(refused)?;
    let app = tx.read(&APPS)?.named(Some(org), app)?.ok_or_else(refused)?;
    let presented = secret_hash(secret);
    let valid = constant_time_eq(record.secret_hash.as_bytes(), presented.as_bytes())
        && record.expires.is_none_or(|e| e > Utc::now())
        && record.app == app.name;
    if !valid {
        return Err(refused());
    }
    Ok(app)
}
