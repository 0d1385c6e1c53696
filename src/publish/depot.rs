//! The depot: the appliance's own origin, a directory with the layout of API.md §5, whose
//! download URLs (`/depot/<key>`) are signed with the depot secret.

use std::io;
use std::path::{Component, Path, PathBuf};

use super::PublishError;
use super::origin::{Body, ExactBody, Origin, OriginFuture};
use super::signing::{self, gcore_query};
use crate::metrics::{self, Counter};

/// The object a probe writes and deletes.
const PROBE_KEY: &str = ".rockit-edge-probe";

/// The depot directory and its URL signing token.
#[derive(Clone)]
pub struct Depot {
    root: PathBuf,
    /// The depot secret, as the secure token of its signed URLs.
    token: String,
}

fn depot_error(what: &str, path: &str, e: io::Error) -> PublishError {
    PublishError::Depot(format!("cannot {what} {path}: {e}"))
}

impl Depot {
    /// The depot at `root`, signing URLs with `secret`.
    pub fn new(root: impl Into<PathBuf>, secret: &[u8]) -> Self {
        Self {
            root: root.into(),
            token: hex::encode(secret),
        }
    }

    /// The local path of a layout path (the engine reads published images there); refused
    /// when it could leave the depot.
    pub fn path_of(&self, path: &str) -> Result<PathBuf, PublishError> {
        let relative = Path::new(path);
        let safe = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if safe && !path.is_empty() {
            Ok(self.root.join(relative))
        } else {
            Err(PublishError::Depot(format!("unsafe depot path {path:?}")))
        }
    }

    /// The signed download URL (`/depot/<path>?md5=…&expires=…`, without scheme and host) of
    /// the file at layout path `path`, valid until `expires`.
    pub fn download_url(&self, path: &str, expires: i64) -> Result<String, PublishError> {
        self.path_of(path)?;
        let url_path = format!("/depot/{path}");
        let query = gcore_query(&url_path, expires, &self.token);
        Ok(format!("{url_path}?{query}"))
    }

    async fn write(&self, path: &str, body: Body, len: u64) -> Result<(), PublishError> {
        let target = self.path_of(path)?;
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| depot_error("create the directory of", path, e))?;
        let staging = dir.join(format!(".part-{}", uuid::Uuid::new_v4().simple()));
        let written = async {
            let mut file = tokio::fs::File::create(&staging).await?;
            tokio::io::copy(&mut ExactBody::new(body, len), &mut file).await?;
            file.sync_all().await?;
            tokio::fs::rename(&staging, &target).await
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&staging).await;
        }
        written.map_err(|e| depot_error("store", path, e))?;
        metrics::add(Counter::BytesPublished, len);
        Ok(())
    }
}

impl Depot {
    /// Moves finished files from a local directory into the layout directory `path`, in the
    /// order given (the last one, `app.json`, says the directory is complete). Each appears
    /// under its final name only when whole: a rename, or across file systems a copy to a
    /// temporary name, fsync'd, then renamed.
    pub async fn install(
        &self,
        from: &Path,
        path: &str,
        names: &[&str],
    ) -> Result<(), PublishError> {
        let target = self.path_of(path)?;
        let from = from.to_path_buf();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let installed = on_blocking_pool(move || install_files(&from, &target, &names))
            .await?
            .map_err(|e| depot_error("install files into", path, e))?;
        metrics::add(Counter::BytesPublished, installed);
        Ok(())
    }

    /// Checks a depot URL's signature (`md5`, `expires`) for `url_path` (`/depot/...`).
    pub fn verify(
        &self,
        url_path: &str,
        md5: &str,
        expires: i64,
        now: i64,
    ) -> Result<(), SignatureProblem> {
        if !signing::gcore_matches(url_path, expires, &self.token, md5) {
            return Err(SignatureProblem::Tampered);
        }
        if expires < now {
            return Err(SignatureProblem::Expired);
        }
        Ok(())
    }
}

/// Why a signed depot URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureProblem {
    /// The signature does not match the path, expiry and secret.
    Tampered,
    /// It did match, until its expiry passed.
    Expired,
}

/// Returns the bytes installed.
fn install_files(from: &Path, target: &Path, names: &[String]) -> io::Result<u64> {
    std::fs::create_dir_all(target)?;
    let mut installed = 0;
    for name in names {
        let (source, destination) = (from.join(name), target.join(name));
        installed += std::fs::metadata(&source)?.len();
        if let Err(e) = std::fs::rename(&source, &destination) {
            if e.kind() != io::ErrorKind::CrossesDevices {
                return Err(e);
            }
            let staging = target.join(format!(".{name}.part"));
            std::fs::copy(&source, &staging)?;
            std::fs::File::open(&staging)?.sync_all()?;
            std::fs::rename(&staging, &destination)?;
        }
    }
    std::fs::File::open(target)?.sync_all()?;
    Ok(installed)
}

impl Origin for Depot {
    fn put<'a>(&'a self, path: &'a str, body: Body, len: u64) -> OriginFuture<'a, ()> {
        Box::pin(self.write(path, body, len))
    }

    fn remove_prefix<'a>(&'a self, path: &'a str) -> OriginFuture<'a, u64> {
        Box::pin(async move {
            let local = self.path_of(path)?;
            on_blocking_pool(move || remove_tree(&local))
                .await?
                .map_err(|e| depot_error("remove", path, e))
        })
    }

    fn prefix_size<'a>(&'a self, path: &'a str) -> OriginFuture<'a, u64> {
        Box::pin(async move {
            let local = self.path_of(path)?;
            on_blocking_pool(move || tree_size(&local))
                .await?
                .map_err(|e| depot_error("measure", path, e))
        })
    }

    fn sizes<'a>(&'a self, groups: &'a [Vec<String>]) -> OriginFuture<'a, Vec<u64>> {
        Box::pin(async move {
            let paths = groups
                .iter()
                .map(|prefixes| prefixes.iter().map(|p| self.path_of(p)).collect())
                .collect::<Result<Vec<Vec<PathBuf>>, _>>()?;
            on_blocking_pool(move || {
                paths
                    .iter()
                    .map(|group| group.iter().map(|path| tree_size(path)).sum())
                    .collect::<io::Result<Vec<u64>>>()
            })
            .await?
            .map_err(|e| PublishError::Depot(format!("cannot measure the depot: {e}")))
        })
    }

    fn probe(&self) -> OriginFuture<'_, ()> {
        Box::pin(async move {
            let probe = b"rockit-edge depot probe";
            self.write(PROBE_KEY, Box::new(&probe[..]), probe.len() as u64)
                .await?;
            tokio::fs::remove_file(self.root.join(PROBE_KEY))
                .await
                .map_err(|e| depot_error("remove", PROBE_KEY, e))
        })
    }

    fn signed_url<'a>(&'a self, path: &'a str, expires: i64) -> OriginFuture<'a, String> {
        Box::pin(async move { self.download_url(path, expires) })
    }
}

/// Runs file-tree work on the blocking pool, off the async workers.
async fn on_blocking_pool<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<io::Result<T>, PublishError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| PublishError::Depot(e.to_string()))
}

/// Removes a file or a directory tree; how many files went (absent is fine).
fn remove_tree(path: &Path) -> io::Result<u64> {
    let removed = count_files(path)?;
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
            std::fs::remove_file(path).map(|()| removed)
        }
        other => other.map(|()| removed),
    }
}

fn count_files(path: &Path) -> io::Result<u64> {
    walk(path, &mut |_| 1)
}

fn tree_size(path: &Path) -> io::Result<u64> {
    walk(path, &mut |meta| meta.len())
}

/// Sums `value` over the files of a tree (0 when absent).
fn walk(path: &Path, value: &mut impl FnMut(&std::fs::Metadata) -> u64) -> io::Result<u64> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return Ok(value(&meta));
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        total += walk(&entry?.path(), value)?;
    }
    Ok(total)
}
