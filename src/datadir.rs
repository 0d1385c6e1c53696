//! The data dir layout (DESIGN §3) and its first-start preparation: known to the server, the
//! CLI and the health check alike.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The directory of `work/` that survives restarts.
const INCOMING: &str = "incoming";

/// Paths inside the appliance's data dir; the one place that knows the layout.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Wraps a data dir path without touching the disk.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The data dir itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The redb file holding every record.
    pub fn store_file(&self) -> PathBuf {
        self.root.join("edge.redb")
    }

    /// Generated secrets (mode 0600 files in a 0700 dir).
    pub fn secrets(&self) -> PathBuf {
        self.root.join("secrets")
    }

    /// TLS certificate, key and local CA.
    pub fn tls(&self) -> PathBuf {
        self.root.join("tls")
    }

    /// The appliance's own origin (`dxf/...`, `pat/...`).
    pub fn depot(&self) -> PathBuf {
        self.root.join("depot")
    }

    /// Build tars being received or waiting for processing (`incoming/`, kept across
    /// restarts so uploads and downloads resume) and processing scratch (the rest, emptied on
    /// start).
    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }

    /// Build tars being received or waiting for their `mkraw`.
    pub fn incoming(&self) -> PathBuf {
        self.work().join(INCOMING)
    }

    /// Raw uploaded traces.
    pub fn traces(&self) -> PathBuf {
        self.root.join("traces")
    }

    /// Store backups.
    pub fn backups(&self) -> PathBuf {
        self.root.join("backups")
    }

    /// Runtime facts of the live process (bound addresses, pid) for `healthcheck` and tests.
    pub fn runtime_file(&self) -> PathBuf {
        self.root.join("run").join("server.json")
    }

    /// Creates the layout (every new file and dir private to the service account, whatever
    /// the umask: the store holds password hashes and e-mail addresses), warns about an
    /// existing data dir or store that others can read, checks it is writable and empties
    /// `work/` but for `incoming/` (processing restarts from its last checkpoint; the tars
    /// received stay for the tasks that resume).
    pub fn prepare(&self) -> std::io::Result<()> {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
        if !self.root.exists() {
            fs::create_dir_all(&self.root)?;
            fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))?;
        }
        for path in [self.root.clone(), self.store_file()] {
            warn_if_open(&path);
        }
        for dir in [
            self.depot(),
            self.traces(),
            self.backups(),
            self.root.join("run"),
        ] {
            fs::create_dir_all(dir)?;
        }
        for private in [self.secrets(), self.tls()] {
            fs::create_dir_all(&private)?;
            fs::set_permissions(&private, fs::Permissions::from_mode(0o700))?;
        }
        let work = self.work();
        fs::create_dir_all(work.join(INCOMING))?;
        for entry in fs::read_dir(&work)? {
            let entry = entry?;
            if entry.file_name() == INCOMING {
                continue;
            }
            if entry.file_type()?.is_dir() {
                fs::remove_dir_all(entry.path())?;
            } else {
                fs::remove_file(entry.path())?;
            }
        }
        self.probe_writable()
    }

    /// Writes and removes a small file: the data dir must be writable for the appliance to work.
    /// Each check has its own file, so concurrent checks never remove each other's.
    pub fn probe_writable(&self) -> std::io::Result<()> {
        let probe = self
            .root
            .join(format!(".write-probe-{}", uuid::Uuid::new_v4().simple()));
        write_atomic(&probe, b"ok", 0o600)?;
        fs::remove_file(probe)
    }
}

/// Logs a warning when group or others may access `path` (left as the operator set it).
fn warn_if_open(path: &Path) {
    if let Ok(meta) = fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "readable by other users: the store holds password hashes and e-mail addresses; chmod go-rwx it"
            );
        }
    }
}

/// Writes `bytes` to a temp name, fsyncs and renames it over `path`, so a crash never leaves a
/// half-written file under the final name.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}
