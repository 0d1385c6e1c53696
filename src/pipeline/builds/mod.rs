//! The build pipeline's tasks: `upload` (waits for a publisher's resumable upload), `dltar`
//! (downloads a tar), `mkraw` (image, patches, rotation, depot), `mkseq` (the image again in
//! the order learned from traces). What they share is here: the
//! work dirs and settings, engine runs on the blocking pool with progress, and the files
//! lists of images and patches.

mod commit;
mod dltar;
pub mod exceptions;
mod incoming;
mod mkraw;
mod mkseq;
mod trace_files;
mod upload;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::engine::progress::Progress;
use crate::engine::trace::TrainingSettings;
use crate::engine::{EngineError, md5_stream};
use crate::jobs::{TaskContext, TaskError, TaskOutput};
use crate::pipeline::deploy::deploys_of;
use crate::publish::depot::Depot;
use crate::publish::guard::AddressPolicy;
use crate::store::{APPS, AppRecord, FileEntry, Store, org_key};
pub use commit::{build_files, go_live, retire};
pub use incoming::{Incoming, IncomingError};
pub use trace_files::TraceFiles;
pub use upload::{processing, switching};

/// How the pipeline works: limits and knobs from the config.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    /// Largest tar accepted, in bytes.
    pub max_size: u64,
    /// How long files that stopped being current stay on the depot.
    pub grace: Duration,
    /// Memory budget of one patch computation, in bytes.
    pub patch_budget: u64,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Which addresses build URLs may have.
    pub url_policy: AddressPolicy,
    /// How training learns an order from traces.
    pub training: TrainingSettings,
    /// The most recent traces of an image one training reads.
    pub max_traces_used: usize,
}

/// What the build tasks work with.
#[derive(Clone)]
pub struct Builds {
    store: Store,
    depot: Depot,
    incoming: Incoming,
    traces: TraceFiles,
    /// Processing scratch, emptied on start.
    scratch: PathBuf,
    settings: Arc<BuildSettings>,
}

impl Builds {
    /// The pipeline over `store` and `depot`, with tars in `incoming`, traces in `traces`
    /// and scratch space in `scratch`.
    pub fn new(
        store: Store,
        depot: Depot,
        (incoming, traces): (Incoming, TraceFiles),
        scratch: PathBuf,
        settings: BuildSettings,
    ) -> Self {
        Self {
            store,
            depot,
            incoming,
            traces,
            scratch,
            settings: Arc::new(settings),
        }
    }

    /// A fresh scratch directory for one task and purpose.
    async fn scratch_dir(&self, task: &str, purpose: &str) -> Result<PathBuf, TaskError> {
        let dir = self.scratch.join(task).join(purpose);
        let _ = tokio::fs::remove_dir_all(&dir).await;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| TaskError::internal(format!("cannot create scratch space: {e}")))?;
        Ok(dir)
    }

    /// The app a task works on.
    async fn app(&self, org: &str, name: &str) -> Result<AppRecord, TaskError> {
        let key = org_key(org, name);
        self.store
            .read(move |tx| tx.open(&APPS)?.get(key.as_str()))
            .await
            .map_err(|e| TaskError::internal(e.to_string()))?
            .ok_or_else(|| TaskError::internal("the app was deleted before the task ran"))
    }

    /// `output` followed by the deploys that publish the app's current build.
    async fn then_deploy(
        &self,
        mut output: TaskOutput,
        org: &str,
        app: &str,
    ) -> Result<TaskOutput, TaskError> {
        let deploys = deploys_of(&self.store, org, app)
            .await
            .map_err(|e| TaskError::internal(e.to_string()))?;
        for deploy in deploys {
            output = output.then(deploy);
        }
        Ok(output)
    }

    /// Removes a task's scratch space.
    async fn drop_scratch(&self, task: &str) {
        let _ = tokio::fs::remove_dir_all(self.scratch.join(task)).await;
    }
}

/// Progress of engine work on the blocking pool, read by the task's reporter.
struct Meter {
    total: AtomicU64,
    done: AtomicU64,
    stop: CancellationToken,
}

impl Progress for Meter {
    fn begin(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }

    fn advance(&self, bytes: u64) {
        self.done.fetch_add(bytes, Ordering::Relaxed);
    }

    fn cancelled(&self) -> bool {
        self.stop.is_cancelled()
    }
}

impl Meter {
    fn fraction(&self) -> f64 {
        let total = self.total.load(Ordering::Relaxed);
        if total == 0 {
            0.0
        } else {
            (self.done.load(Ordering::Relaxed) as f64 / total as f64).min(1.0)
        }
    }
}

/// How often a running task's progress is recorded.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Runs engine work on the blocking pool; meanwhile records `phase` and the percent within
/// `span` every second. A stop (shutdown, expiry) makes the engine end with `Cancelled`.
async fn run_engine<T: Send + 'static>(
    ctx: &TaskContext,
    phase: &str,
    span: (f64, f64),
    work: impl FnOnce(&dyn Progress) -> Result<T, EngineError> + Send + 'static,
) -> Result<Result<T, EngineError>, TaskError> {
    let meter = Arc::new(Meter {
        total: AtomicU64::new(0),
        done: AtomicU64::new(0),
        stop: ctx.stop().clone(),
    });
    let running = Arc::clone(&meter);
    let mut handle = tokio::task::spawn_blocking(move || work(running.as_ref()));
    ctx.report(phase, span.0).await?;
    loop {
        tokio::select! {
            joined = &mut handle => {
                return joined.map_err(|e| TaskError::internal(format!("{phase} stopped abnormally: {e}")));
            }
            _ = tokio::time::sleep(REPORT_EVERY) => {
                let percent = span.0 + (span.1 - span.0) * meter.fraction();
                ctx.report(phase, percent).await?;
            }
        }
    }
}

/// The files of a directory in the given order with their sizes and MD5s; `known` gives the
/// MD5 of files already hashed by the engine (the image, `patch.data`).
fn describe(dir: &Path, names: &[&str], known: &[(&str, &str)]) -> std::io::Result<Vec<FileEntry>> {
    names
        .iter()
        .map(|name| {
            let path = dir.join(name);
            let size = std::fs::metadata(&path)?.len();
            let md5 = match known.iter().find(|(k, _)| k == name) {
                Some((_, md5)) => md5.to_string(),
                None => md5_of(&path)?,
            };
            Ok(FileEntry {
                name: name.to_string(),
                size,
                md5,
            })
        })
        .collect()
}

fn md5_of(path: &Path) -> std::io::Result<String> {
    let (digest, _) = md5_stream(std::fs::File::open(path)?, |_| {})?;
    Ok(hex::encode(digest))
}
