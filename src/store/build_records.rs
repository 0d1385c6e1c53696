//! The records of what an app publishes: its retained builds, the patches to its current
//! build, a staged build waiting for a commit, and the access keys its launchers use.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One published file of an image or a patch, as the app's `files` lists it (seed 002).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileEntry {
    pub name: String,
    pub size: u64,
    pub md5: String,
}

/// A processed build the app retains.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildRecord {
    /// 1, 2, 3 … per app, never reused.
    pub id: u32,
    pub name: String,
    pub dxf_name: String,
    pub created: DateTime<Utc>,
    /// The image's files in the seed's order.
    pub files: Vec<FileEntry>,
    /// The `mkraw` (or `mkseq`) task that made its image: a resumed run finds it already
    /// committed.
    pub task: String,
    /// Bytes of the image's preload (`img.json`), when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preload_bytes: Option<u64>,
}

impl BuildRecord {
    /// Bytes of the image's files.
    pub fn size_bytes(&self) -> u64 {
        total_size(&self.files)
    }
}

/// Bytes of a list of files.
fn total_size(files: &[FileEntry]) -> u64 {
    files.iter().map(|f| f.size).sum()
}

/// The patch from a retained build to the build it was made for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchRecord {
    pub from: u32,
    pub to: u32,
    /// The patch's files in the seed's order.
    pub files: Vec<FileEntry>,
}

impl PatchRecord {
    /// The key of `files.patches`: `"FFFF-TTTT"`.
    pub fn key(&self) -> String {
        format!("{:04}-{:04}", self.from, self.to)
    }
}

/// A processed build of an app with `autoCommit: false`, waiting for a commit, with the
/// patches to it from the builds retained when it was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StagedBuild {
    pub build: BuildRecord,
    pub patches: Vec<PatchRecord>,
}

/// What an app publishes and where it stands: kept in the app record, which is small (at most
/// 100 builds of 4 files, 99 patches of 6, a few entries per deployment).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AppBuilds {
    /// Retained builds, oldest first.
    pub retained: Vec<BuildRecord>,
    /// The current build's id (`iCurBuild`); 0 before the first.
    pub current: u32,
    /// Patches from retained builds to the current one.
    pub patches: Vec<PatchRecord>,
    /// The highest build id ever assigned: the next build gets one more.
    pub last_id: u32,
    pub staged: Option<StagedBuild>,
    /// What each deployment's origin holds, as its last successful deploy left it.
    pub deployed: Vec<DeployedImage>,
    /// Deploys that failed and have not succeeded since, oldest first: the app is in `error`
    /// while there is one.
    pub failures: Vec<DeployFailure>,
}

/// The image a deployment's origin holds after a successful deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployedImage {
    pub deployment: String,
    pub build: u32,
    pub dxf_name: String,
}

/// A failed deploy: which deployment, which task (to retry), and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployFailure {
    pub deployment: String,
    pub task: String,
    pub exception: serde_json::Value,
}

impl AppBuilds {
    /// The current build, if any.
    pub fn current(&self) -> Option<&BuildRecord> {
        self.retained.iter().find(|b| b.id == self.current)
    }

    /// The oldest retained builds beyond the newest `keep`, never `protect` (the current
    /// one): what retention drops.
    pub fn beyond(&self, keep: usize, protect: u32) -> Vec<u32> {
        let mut ids: Vec<u32> = self.retained.iter().map(|b| b.id).collect();
        ids.sort_unstable();
        let excess = ids.len().saturating_sub(keep);
        ids.into_iter()
            .filter(|id| *id != protect)
            .take(excess)
            .collect()
    }

    /// Forgets the given builds and every patch from them.
    pub fn drop_builds(&mut self, ids: &[u32]) {
        self.retained.retain(|b| !ids.contains(&b.id));
        self.patches.retain(|p| !ids.contains(&p.from));
        if let Some(staged) = &mut self.staged {
            staged.patches.retain(|p| !ids.contains(&p.from));
        }
    }

    /// Bytes of every retained image and patch (the staged build's too): what the app keeps
    /// on the depot, files in their grace period aside.
    pub fn retained_bytes(&self) -> u64 {
        let patches =
            |patches: &[PatchRecord]| patches.iter().map(|p| total_size(&p.files)).sum::<u64>();
        let staged = self
            .staged
            .as_ref()
            .map_or(0, |s| s.build.size_bytes() + patches(&s.patches));
        self.retained
            .iter()
            .map(BuildRecord::size_bytes)
            .sum::<u64>()
            + patches(&self.patches)
            + staged
    }

    /// The deployments among `targets` whose origin holds the current image, sorted.
    pub fn deployed_to(&self, targets: &[String]) -> Vec<String> {
        let Some(current) = self.current() else {
            return Vec::new();
        };
        let mut names: Vec<String> = self
            .deployed
            .iter()
            .filter(|d| d.build == current.id && d.dxf_name == current.dxf_name)
            .filter(|d| {
                targets
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(&d.deployment))
            })
            .map(|d| d.deployment.clone())
            .collect();
        names.sort();
        names
    }

    /// Records that `deployment` now holds `build`'s image, and that its failures are over.
    pub fn mark_deployed(&mut self, deployment: &str, build: &BuildRecord) {
        self.forget_deployment(deployment);
        self.deployed.push(DeployedImage {
            deployment: deployment.to_string(),
            build: build.id,
            dxf_name: build.dxf_name.clone(),
        });
    }

    /// Records a failed deploy to `deployment` (replacing an older failure there).
    pub fn mark_failed(&mut self, deployment: &str, task: &str, exception: serde_json::Value) {
        self.failures
            .retain(|f| !f.deployment.eq_ignore_ascii_case(deployment));
        self.failures.push(DeployFailure {
            deployment: deployment.to_string(),
            task: task.to_string(),
            exception,
        });
    }

    /// Forgets what `deployment` holds and how its deploys failed: it moved, was deregistered
    /// or deleted.
    pub fn forget_deployment(&mut self, deployment: &str) {
        self.keep_deployments(|name| !name.eq_ignore_ascii_case(deployment));
    }

    /// Keeps what only the deployments `keep` accepts hold and failed.
    pub fn keep_deployments(&mut self, keep: impl Fn(&str) -> bool) {
        self.deployed.retain(|d| keep(&d.deployment));
        self.failures.retain(|f| keep(&f.deployment));
    }

    /// The build a `mkraw` task committed, when it did.
    pub fn made_by(&self, task: &str) -> Option<&BuildRecord> {
        self.retained
            .iter()
            .chain(self.staged.as_ref().map(|s| &s.build))
            .find(|b| b.task == task)
    }
}

/// A launcher access key of one app; only a hash of its secret is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessKeyRecord {
    /// Unique in the instance; the key's first part.
    pub id: String,
    pub org: String,
    pub app: String,
    pub label: String,
    /// SHA-256 (hex) of the secret part.
    pub secret_hash: String,
    pub created: DateTime<Utc>,
    pub expires: Option<DateTime<Utc>>,
}
