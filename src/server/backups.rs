//! Scheduled backups: every `backup.interval_secs` the server writes what `rockit-edge backup`
//! would, into `backup.dir`, and keeps the newest `backup.keep` of them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::BackupConfig;
use crate::domain::backups::BackupService;
use crate::ops::backup::Staged;
use crate::workers::Worker;

/// The names of scheduled backups: this prefix, a UTC time, `.tar`.
const PREFIX: &str = "rockit-edge-backup-";
const SUFFIX: &str = ".tar";

/// Writes a backup every interval until `cancel`.
pub async fn run(
    cancel: CancellationToken,
    service: BackupService,
    settings: BackupConfig,
    dir: PathBuf,
    status: Worker,
) {
    let every = Duration::from_secs(settings.interval_secs.max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = cancel.cancelled() => return,
        }
        status.busy("writing a backup");
        let written = match service.stage(settings.with_depot).await {
            Ok(staged) => {
                let (into, keep) = (dir.clone(), settings.keep);
                tokio::task::spawn_blocking(move || write_and_prune(&staged, &into, keep))
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
                    .map_err(|e| format!("cannot write the backup into {}: {e}", dir.display()))
            }
            Err(e) => Err(e.to_string()),
        };
        match written {
            Ok(path) => {
                tracing::info!(path = %path.display(), "scheduled backup written");
                status.done();
            }
            Err(e) => {
                tracing::error!(error = %e, "scheduled backup failed");
                status.failed(e);
            }
        }
        status.idle();
    }
}

/// Writes `staged` under a new name in `dir` (a temporary name, synced, renamed), then removes
/// all but the newest `keep` scheduled backups.
fn write_and_prune(staged: &Staged, dir: &Path, keep: usize) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = format!(
        "{PREFIX}{}{SUFFIX}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    );
    let path = dir.join(&name);
    let partial = dir.join(format!(".{name}.part"));
    let written = (|| {
        let mut file = std::fs::File::create(&partial)?;
        std::io::copy(&mut staged.reader(), &mut file)?;
        file.flush()?;
        file.sync_all()?;
        std::fs::rename(&partial, &path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written?;
    let mut scheduled: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(PREFIX) && name.ends_with(SUFFIX))
        .collect();
    scheduled.sort();
    let excess = scheduled.len().saturating_sub(keep);
    for old in &scheduled[..excess] {
        std::fs::remove_file(dir.join(old))?;
    }
    Ok(path)
}
