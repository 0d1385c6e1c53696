//! Launcher access keys of apps (`/be/v1/keys`) and what a launcher gets with one
//! (`POST /client/v1/auth`): the current build's files and signed URLs to fetch them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::caller::Caller;
use super::listing::{ListParams, Page};
use super::names::{check_key_id, check_name};
use super::text::check_label;
use super::{DomainError, in_org};
use crate::auth::AuthError;
use crate::auth::apikey::{mint_access, parse_access};
use crate::auth::constant_time_eq;
use crate::auth::tokens::secret_hash;
use crate::publish::depot::Depot;
use crate::publish::layout;
use crate::publish::origin::Origin;
use crate::store::{ACCESS_KEYS, APPS, AccessKeyRecord, FileEntry, Store, org_key, org_prefix};

/// A `POST /be/v1/keys` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAccessKey {
    pub app_name: String,
    pub label: Option<String>,
    pub expires: Option<DateTime<Utc>>,
}

/// An access key as listed (never its secret).
#[derive(Debug, Serialize)]
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

/// A `POST /client/v1/auth` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientAuth {
    pub org_name: String,
    pub app_name: String,
    pub access_key: String,
}

/// Access keys and the client API.
#[derive(Clone)]
pub struct KeyService {
    store: Store,
    depot: Depot,
    /// Lifetime of the signed depot URLs.
    url_ttl: chrono::Duration,
}

impl KeyService {
    /// Keys in `store`; URLs signed for `depot`, valid for `url_ttl`.
    pub fn new(store: Store, depot: Depot, url_ttl: std::time::Duration) -> Self {
        Self {
            store,
            depot,
            url_ttl: chrono::Duration::from_std(url_ttl).unwrap_or(chrono::Duration::hours(1)),
        }
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

    /// What a launcher with a valid access key gets: the current build, its files, and
    /// signed depot URLs of each (prefixed with `base`, the appliance's address as called).
    pub async fn client_auth(&self, request: ClientAuth, base: &str) -> Result<Value, DomainError> {
        let refused = || {
            DomainError::Auth(AuthError::Unauthorized(
                "unknown org or app, or an access key that is wrong, revoked or expired".into(),
            ))
        };
        let (id, secret) = parse_access(&request.access_key).ok_or_else(refused)?;
        let key = key_of(&request.org_name, &request.app_name, id);
        let presented = secret_hash(secret);
        let (org, app) = (request.org_name.clone(), request.app_name.clone());
        let found = self
            .store
            .read(move |tx| {
                let record = tx.open(&ACCESS_KEYS)?.get(key.as_str())?;
                let app = tx.open(&APPS)?.named(Some(&org), &app)?;
                Ok::<_, DomainError>(record.zip(app))
            })
            .await?;
        let (record, app) = found.ok_or_else(refused)?;
        let valid = constant_time_eq(record.secret_hash.as_bytes(), presented.as_bytes())
            && record.expires.is_none_or(|e| e > Utc::now())
            && record.app == app.name;
        if !valid {
            return Err(refused());
        }
        let expires = (Utc::now() + self.url_ttl).timestamp();
        let builds = &app.builds;
        let current = builds.current();
        let mut dxf_urls = Map::new();
        let mut dxf_files: Vec<FileEntry> = Vec::new();
        if let Some(build) = current {
            let dir = layout::image_dir(&app.org, &app.name, build.id, &build.dxf_name);
            self.sign_all(&dir, &build.files, expires, base, &mut dxf_urls)
                .await?;
            dxf_files = build.files.clone();
        }
        let (mut patch_files, mut patch_urls) = (Map::new(), Map::new());
        for patch in &builds.patches {
            let dir = layout::patch_dir(&app.org, &app.name, patch.to, patch.from);
            let mut urls = Map::new();
            self.sign_all(&dir, &patch.files, expires, base, &mut urls)
                .await?;
            patch_files.insert(patch.key(), json!(patch.files));
            patch_urls.insert(patch.key(), Value::Object(urls));
        }
        Ok(json!({
            "iCurBuild": builds.current,
            "dxfName": current.map(|b| b.dxf_name.as_str()).unwrap_or(""),
            "expires": chrono::DateTime::from_timestamp(expires, 0),
            "files": { "dxf": dxf_files, "patches": patch_files },
            "sources": { "depot": { "dxf": dxf_urls, "patches": patch_urls } },
        }))
    }

    async fn sign_all(
        &self,
        dir: &str,
        files: &[FileEntry],
        expires: i64,
        base: &str,
        into: &mut Map<String, Value>,
    ) -> Result<(), DomainError> {
        for file in files {
            let url = self
                .depot
                .signed_url(&format!("{dir}/{}", file.name), expires)
                .await
                .map_err(|e| DomainError::Internal(e.to_string()))?;
            into.insert(file.name.clone(), json!(format!("{base}{url}")));
        }
        Ok(())
    }
}

/// The key of an access key record: `org_lc/app_lc/{id}`.
fn key_of(org: &str, app: &str, id: &str) -> String {
    format!("{}/{}", org_key(org, app), id.to_ascii_lowercase())
}
