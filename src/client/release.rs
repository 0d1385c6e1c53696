//! Where a client gets the build, and what it finds there: the appliance (an app's current
//! release) or a local image directory (`--from-dir`: offline installs, mirrors, images built
//! with `image build --order`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::error::ClientError;

/// The appliance and app a launcher downloads from.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The appliance, `https://host:port`.
    pub server: String,
    /// The app's org.
    pub org: String,
    /// The app.
    pub app: String,
    /// An access key of the app.
    pub access_key: String,
    /// Which URL set of the auth answer to download from: `depot` or a deployment's name.
    pub source: String,
    /// A CA certificate (PEM) to trust, for the appliance's self-signed certificate.
    pub ca_cert: Option<PathBuf>,
    /// Trust any certificate.
    pub insecure: bool,
}

/// Where the build comes from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// The appliance's current build of an app.
    Server(ServerOptions),
    /// A local image directory (`img.json`, `img.idx.7z`, `img.dxf`).
    Dir(PathBuf),
}

/// One published file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRef {
    /// A file of the current image (`img.json`, `img.idx.7z`, `img.dxf`, `app.json`).
    Image(&'static str),
    /// A file of the patch `key` (`"FFFF-TTTT"`) to the current build.
    Patch { key: String, name: &'static str },
}

impl std::fmt::Display for FileRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileRef::Image(name) => write!(f, "{name}"),
            FileRef::Patch { key, name } => write!(f, "{name} of patch {key}"),
        }
    }
}

/// What an origin offers: the current build and the patches to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The current build.
    pub build_id: u64,
    /// Its image.
    pub dxf_name: String,
    /// Patches to it by `"FFFF-TTTT"`: each file's name and size.
    pub patches: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Release {
    /// The release an auth answer describes; refuses an app without a current build.
    pub(super) fn from_auth(answer: &Value) -> Result<Self, ClientError> {
        let build_id = answer["iCurBuild"].as_u64().unwrap_or(0);
        let dxf_name = answer["dxfName"].as_str().unwrap_or_default().to_string();
        if build_id == 0 || dxf_name.is_empty() {
            return Err(ClientError::Input(
                "the app has no current build to download yet".into(),
            ));
        }
        let mut patches = BTreeMap::new();
        if let Some(listed) = answer["files"]["patches"].as_object() {
            for (key, files) in listed {
                let sizes = files
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| Some((f["name"].as_str()?.to_string(), f["size"].as_u64()?)))
                    .collect();
                patches.insert(key.clone(), sizes);
            }
        }
        Ok(Self {
            build_id,
            dxf_name,
            patches,
        })
    }
}
