//! What a launcher gets with an app's access key (`POST /client/v1/auth`): the current build,
//! its files, and signed URLs to fetch them from the depot and from every CDN whose origin
//! holds that build.

use std::net::IpAddr;

use chrono::Utc;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::DomainError;
use super::keys::opened_by;
use crate::auth::sealing::Sealer;
use crate::pipeline::deploy::targets;
use crate::publish::cdn::CdnSigner;
use crate::publish::depot::Depot;
use crate::publish::layout;
use crate::store::{AppRecord, DeploymentRecord, Store};

/// A `POST /client/v1/auth` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientAuth {
    pub org_name: String,
    pub app_name: String,
    pub access_key: String,
}

/// Launcher downloads.
#[derive(Clone)]
pub struct DownloadService {
    store: Store,
    depot: Depot,
    sealer: Sealer,
    /// Lifetime of the signed depot URLs.
    url_ttl: chrono::Duration,
}

/// One source's URLs, `{"dxf": {file: url}, "patches": {"FFFF-TTTT": {file: url}}}`, each
/// made by `sign(layout dir, file name)`.
fn source(
    app: &AppRecord,
    mut sign: impl FnMut(&str, &str) -> Result<String, DomainError>,
) -> Result<Value, DomainError> {
    let builds = &app.builds;
    let mut dxf = Map::new();
    if let Some(build) = builds.current() {
        let dir = layout::image_dir(&app.org, &app.name, build.id, &build.dxf_name);
        for file in &build.files {
            dxf.insert(file.name.clone(), json!(sign(&dir, &file.name)?));
        }
    }
    let mut patches = Map::new();
    for patch in &builds.patches {
        let dir = layout::patch_dir(&app.org, &app.name, patch.to, patch.from);
        let mut urls = Map::new();
        for file in &patch.files {
            urls.insert(file.name.clone(), json!(sign(&dir, &file.name)?));
        }
        patches.insert(patch.key(), Value::Object(urls));
    }
    Ok(json!({ "dxf": dxf, "patches": patches }))
}

impl DownloadService {
    /// Downloads of apps in `store`: depot URLs valid for `url_ttl`, CDN URLs signed with the
    /// deployments' secrets opened by `sealer`.
    pub fn new(store: Store, depot: Depot, sealer: Sealer, url_ttl: std::time::Duration) -> Self {
        Self {
            store,
            depot,
            sealer,
            url_ttl: chrono::Duration::from_std(url_ttl).unwrap_or(chrono::Duration::hours(1)),
        }
    }

    /// The current build, its files, and its signed URLs per source: the depot's (prefixed
    /// with `base`, the appliance's address as called) and each CDN's whose origin holds the
    /// build; `client` is the launcher's address, for CDNs that bind URLs to it.
    pub async fn client_auth(
        &self,
        request: ClientAuth,
        base: &str,
        client: Option<IpAddr>,
    ) -> Result<Value, DomainError> {
        let (app, deployments) = self.authorized(&request).await?;
        let now = Utc::now();
        let expires = (now + self.url_ttl).timestamp();
        let mut sources = Map::new();
        let depot = source(&app, |dir, name| {
            let url = self
                .depot
                .download_url(&format!("{dir}/{name}"), expires)
                .map_err(|e| DomainError::Internal(e.to_string()))?;
            Ok(format!("{base}{url}"))
        })?;
        sources.insert("depot".into(), depot);
        for deployment in deployments {
            let Some(settings) = &deployment.dl_auth else {
                continue;
            };
            let signer = CdnSigner::open(settings, &self.sealer)
                .map_err(|e| DomainError::Internal(e.to_string()))?;
            let until = now.timestamp() + i64::try_from(signer.ttl()).unwrap_or(i64::MAX / 2);
            let urls = source(&app, |dir, name| Ok(signer.url(dir, name, until, client)))?;
            sources.insert(deployment.name.clone(), urls);
        }
        let builds = &app.builds;
        let current = builds.current();
        let mut patch_files = Map::new();
        for patch in &builds.patches {
            patch_files.insert(patch.key(), json!(patch.files));
        }
        Ok(json!({
            "iCurBuild": builds.current,
            "dxfName": current.map(|b| b.dxf_name.as_str()).unwrap_or(""),
            "expires": chrono::DateTime::from_timestamp(expires, 0),
            "files": {
                "dxf": current.map(|b| b.files.clone()).unwrap_or_default(),
                "patches": patch_files,
            },
            "sources": sources,
        }))
    }

    /// The app an access key opens, with the deployments whose origin holds its current
    /// build; 401 for anything else.
    async fn authorized(
        &self,
        request: &ClientAuth,
    ) -> Result<(AppRecord, Vec<DeploymentRecord>), DomainError> {
        let (org, app) = (request.org_name.clone(), request.app_name.clone());
        let access_key = request.access_key.clone();
        self.store
            .read(move |tx| {
                let app = opened_by(tx, &org, &app, &access_key)?;
                let mut deployments = targets(tx, &app)?;
                let names: Vec<String> = deployments.iter().map(|d| d.name.clone()).collect();
                let deployed = app.builds.deployed_to(&names);
                deployments.retain(|d| deployed.contains(&d.name));
                Ok((app, deployments))
            })
            .await
    }
}
