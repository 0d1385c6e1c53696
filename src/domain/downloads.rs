//! What a launcher gets with an app's access key (`POST /client/v1/auth`): the current build,
//! its files, and signed URLs to fetch them from the depot and from every CDN whose origin
//! holds that build.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DomainError;
use super::keys::opened_by;
use crate::auth::sealing::Sealer;
use crate::pipeline::deploy::targets;
use crate::publish::cdn::CdnSigner;
use crate::publish::depot::Depot;
use crate::publish::layout;
use crate::store::{AppRecord, DeploymentRecord, FileEntry, Store};

/// A `POST /client/v1/auth` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientAuth {
    pub org_name: String,
    pub app_name: String,
    pub access_key: String,
}

/// What a launcher is told: the current build, its files, and where to fetch them.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Authorized {
    /// The current build's id (0 before the first build).
    pub i_cur_build: u32,
    /// The current build's image name (empty before the first build).
    pub dxf_name: String,
    /// When the depot's signed URLs stop working.
    pub expires: Option<DateTime<Utc>>,
    pub files: BuildFiles,
    /// Per source (`depot` and each CDN deployment holding the build): signed URLs.
    pub sources: BTreeMap<String, SourceUrls>,
}

/// The files of the current image and of every patch to it, with sizes and MD5s.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BuildFiles {
    pub dxf: Vec<FileEntry>,
    /// Per patch (`FFFF-TTTT`, from and to build ids).
    pub patches: BTreeMap<String, Vec<FileEntry>>,
}

/// One source's signed URL per file name, for the image and per patch.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SourceUrls {
    pub dxf: BTreeMap<String, String>,
    pub patches: BTreeMap<String, BTreeMap<String, String>>,
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

/// One source's URLs, each made by `sign(layout dir, file name)`.
fn source(
    app: &AppRecord,
    mut sign: impl FnMut(&str, &str) -> Result<String, DomainError>,
) -> Result<SourceUrls, DomainError> {
    let builds = &app.builds;
    let mut dxf = BTreeMap::new();
    if let Some(build) = builds.current() {
        let dir = layout::image_dir(&app.org, &app.name, build.id, &build.dxf_name);
        for file in &build.files {
            dxf.insert(file.name.clone(), sign(&dir, &file.name)?);
        }
    }
    let mut patches = BTreeMap::new();
    for patch in &builds.patches {
        let dir = layout::patch_dir(&app.org, &app.name, patch.to, patch.from);
        let mut urls = BTreeMap::new();
        for file in &patch.files {
            urls.insert(file.name.clone(), sign(&dir, &file.name)?);
        }
        patches.insert(patch.key(), urls);
    }
    Ok(SourceUrls { dxf, patches })
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
    ) -> Result<Authorized, DomainError> {
        let (app, deployments) = self.authorized(&request).await?;
        let now = Utc::now();
        let expires = (now + self.url_ttl).timestamp();
        let mut sources = BTreeMap::new();
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
        let patches = builds
            .patches
            .iter()
            .map(|patch| (patch.key(), patch.files.clone()))
            .collect();
        Ok(Authorized {
            i_cur_build: builds.current,
            dxf_name: current.map(|b| b.dxf_name.clone()).unwrap_or_default(),
            expires: DateTime::from_timestamp(expires, 0),
            files: BuildFiles {
                dxf: current.map(|b| b.files.clone()).unwrap_or_default(),
                patches,
            },
            sources,
        })
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
