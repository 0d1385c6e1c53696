//! Health: what a load balancer and `healthcheck` need to know.

use serde::Serialize;

use super::blocking;
use crate::datadir::DataDir;
use crate::store::{ORGS, Store};

/// Result of each check.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub store_readable: bool,
    pub data_dir_writable: bool,
    pub free_disk_bytes: u64,
    pub min_free_disk_bytes: u64,
}

impl Health {
    /// Whether every check passed.
    pub fn healthy(&self) -> bool {
        self.store_readable
            && self.data_dir_writable
            && self.free_disk_bytes >= self.min_free_disk_bytes
    }
}

/// Runs the health checks.
#[derive(Clone)]
pub struct HealthService {
    store: Store,
    data_dir: DataDir,
    min_free_disk_bytes: u64,
}

impl HealthService {
    /// Checks `store` and `data_dir`, requiring `min_free_disk_bytes` free.
    pub fn new(store: Store, data_dir: DataDir, min_free_disk_bytes: u64) -> Self {
        Self {
            store,
            data_dir,
            min_free_disk_bytes,
        }
    }

    /// Reads the store, writes a probe file, measures free disk.
    pub async fn check(&self) -> Health {
        let store_readable = self
            .store
            .read(|tx| tx.open(&ORGS).and_then(|orgs| orgs.len()))
            .await
            .is_ok();
        let data_dir = self.data_dir.clone();
        let (data_dir_writable, free_disk_bytes) = blocking(move || {
            let writable = data_dir.probe_writable().is_ok();
            let free = fs4::available_space(data_dir.root()).unwrap_or(0);
            Ok((writable, free))
        })
        .await
        .unwrap_or((false, 0));
        Health {
            store_readable,
            data_dir_writable,
            free_disk_bytes,
            min_free_disk_bytes: self.min_free_disk_bytes,
        }
    }
}
