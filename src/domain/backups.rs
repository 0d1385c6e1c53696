//! Online backups of the running appliance: the store as of one moment, with the files that
//! make it usable, staged for `GET /adm/v1/backup` and the scheduled backups.

use super::{DomainError, blocking};
use crate::datadir::DataDir;
use crate::ops::backup::{BackupError, Staged, Staging};
use crate::store::{SCHEMA_VERSION, Store};

/// Stages backups of this appliance's data dir.
#[derive(Clone)]
pub struct BackupService {
    store: Store,
    data_dir: DataDir,
}

impl From<BackupError> for DomainError {
    fn from(e: BackupError) -> Self {
        DomainError::Internal(format!("backup failed: {e}"))
    }
}

impl BackupService {
    /// Backups of `store`, staged in `data_dir`'s `work/`.
    pub fn new(store: Store, data_dir: DataDir) -> Self {
        Self { store, data_dir }
    }

    /// A backup as of now, ready to be read; writers are not held up while it is made.
    pub async fn stage(&self, with_depot: bool) -> Result<Staged, DomainError> {
        let data_dir = self.data_dir.clone();
        let staging = blocking(move || Ok(Staging::new(&data_dir)?)).await?;
        self.store.snapshot_to(&staging.store_file()).await?;
        let data_dir = self.data_dir.clone();
        blocking(move || Ok(staging.complete(&data_dir, SCHEMA_VERSION, with_depot)?)).await
    }
}
