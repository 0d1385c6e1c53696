//! The live process's facts (`run/server.json`): where it listens, for `healthcheck` and tests.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::datadir::{DataDir, write_atomic};

/// Written after the listeners bind, removed on clean shutdown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeInfo {
    pub pid: u32,
    pub https: SocketAddr,
    pub http: Option<SocketAddr>,
}

impl RuntimeInfo {
    /// Records the bound addresses.
    pub fn write(&self, data_dir: &DataDir) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(&data_dir.runtime_file(), &bytes, 0o644)
    }

    /// The facts of the process serving `data_dir`, if one wrote them.
    pub fn read(data_dir: &DataDir) -> Option<RuntimeInfo> {
        let bytes = std::fs::read(data_dir.runtime_file()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Removes the file (clean shutdown).
    pub fn remove(data_dir: &DataDir) {
        let _ = std::fs::remove_file(data_dir.runtime_file());
    }
}
