//! What a push remembers between runs: the upload URL of an unfinished upload, keyed by the
//! server, the app and the build's bytes, in the user's cache directory.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{PushOptions, Source};

/// A saved upload.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Saved {
    pub upload_url: String,
}

/// The state file of one push.
pub struct Resume {
    file: Option<PathBuf>,
}

/// `$XDG_CACHE_HOME/rockit-edge/push`, or `~/.cache/rockit-edge/push`.
fn state_dir() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("rockit-edge").join("push"))
}

impl Resume {
    /// The state of pushing `source` as `options` say.
    pub fn new(options: &PushOptions, source: &Source) -> Self {
        let path = std::fs::canonicalize(&options.path).unwrap_or_else(|_| options.path.clone());
        let key = Sha256::digest(
            format!(
                "{}\n{}\n{}\n{}\n{}\n{}",
                options.server.trim_end_matches('/'),
                options.org,
                options.app,
                path.display(),
                source.fingerprint(),
                source.len()
            )
            .as_bytes(),
        );
        Self {
            file: state_dir().map(|dir| dir.join(format!("{}.json", hex::encode(&key[..16])))),
        }
    }

    /// The unfinished upload of an earlier run, if any.
    pub fn load(&self) -> Option<Saved> {
        let text = std::fs::read(self.file.as_ref()?).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Remembers the upload URL (best effort: without it a rerun starts over).
    pub fn save(&self, upload_url: &str) {
        let Some(file) = &self.file else { return };
        let saved = Saved {
            upload_url: upload_url.to_string(),
        };
        let written = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| write_private(file, &serde_json::to_vec(&saved).unwrap_or_default()));
        if let Err(e) = written {
            tracing::warn!(error = %e, "cannot remember the upload; a rerun starts over");
        }
    }

    /// Forgets the upload once complete.
    pub fn forget(&self) {
        if let Some(file) = &self.file {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Writes a file only its owner reads: the upload URL is a credential until it expires.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(bytes)
}
