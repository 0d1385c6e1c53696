//! What training knows: every trace a launcher sent (its bytes live in the data dir's
//! `traces/`, named by digest), and per app its settings, trace counts per image and the last
//! training's outcome.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One stored trace of an image.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceRecord {
    /// SHA-256 of the trace's canonical JSON: its identity and its file's name.
    pub digest: String,
    pub build: u32,
    pub dxf_name: String,
    pub received: DateTime<Utc>,
    /// Reads in the trace.
    pub reads: u64,
    pub launch_ms: Option<u64>,
}

/// Where one image of an app stands in training.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageTraining {
    pub build: u32,
    pub dxf_name: String,
    /// Traces received.
    pub traces: u64,
    /// `traces` when its training was last submitted: the next starts `nTracesReliable` later.
    pub submitted_at: u64,
    /// The preload the last training of this image computed.
    pub candidate_preload: Option<u64>,
}

/// An app's training.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TrainingRecord {
    /// The app's own `nTracesReliable`; `None` follows the configured default.
    pub traces_reliable: Option<u32>,
    /// The images that received traces.
    pub images: Vec<ImageTraining>,
    /// The outcome of the last `mkseq`, as its task's result says it.
    pub last: Option<Value>,
}

impl TrainingRecord {
    /// The image's entry, made when missing.
    pub fn image(&mut self, build: u32, dxf_name: &str) -> &mut ImageTraining {
        let at = match self.images.iter().position(|i| i.dxf_name == dxf_name) {
            Some(at) => at,
            None => {
                self.images.push(ImageTraining {
                    build,
                    dxf_name: dxf_name.to_string(),
                    traces: 0,
                    submitted_at: 0,
                    candidate_preload: None,
                });
                self.images.len() - 1
            }
        };
        &mut self.images[at]
    }

    /// Forgets the images not in `keep`.
    pub fn keep_images(&mut self, keep: impl Fn(&str) -> bool) {
        self.images.retain(|i| keep(&i.dxf_name));
    }
}

/// The key of a trace record: `org_lc/app_lc/{dxfName}/{digest}`.
pub fn trace_key(org: &str, app: &str, dxf_name: &str, digest: &str) -> String {
    format!("{}/{dxf_name}/{digest}", super::org_key(org, app))
}

/// The key prefix of every trace of one image.
pub fn image_traces_prefix(org: &str, app: &str, dxf_name: &str) -> String {
    format!("{}/{dxf_name}/", super::org_key(org, app))
}

/// The traced images under a key prefix (an org's, an app's or an image's), as
/// `org_lc/app_lc/{dxfName}`: the directories their trace files live in.
pub fn traced_images(
    tx: &impl super::Reads,
    prefix: &str,
) -> Result<Vec<String>, super::StoreError> {
    let mut images: Vec<String> = Vec::new();
    for (key, _) in tx.read(&super::TRACES)?.with_prefix(prefix)? {
        if let Some((image, _)) = key.rsplit_once('/')
            && images.last().is_none_or(|last| last != image)
        {
            images.push(image.to_string());
        }
    }
    Ok(images)
}

/// Removes the traces of the images of an app that `keep` (given a dxfName) rejects; returns
/// their image keys, for their files to go too.
pub fn forget_traces(
    tx: &super::WriteTx,
    org: &str,
    app: &str,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<String>, super::StoreError> {
    let mut gone = Vec::new();
    for image in traced_images(tx, &format!("{}/", super::org_key(org, app)))? {
        let dxf_name = image.rsplit('/').next().unwrap_or_default();
        if !keep(dxf_name) {
            tx.open(&super::TRACES)?
                .remove_prefix(&format!("{image}/"))?;
            gone.push(image);
        }
    }
    Ok(gone)
}
