//! The redb store: one file holding every record, typed tables, forward-only migrations.
//!
//! Every transaction runs on tokio's blocking pool ([`Store::read`], [`Store::write`]) so no
//! store call blocks the async reactor, and every write commits with `Immediate` durability and
//! quick repair so a crash at any point leaves the last committed state.

mod build_records;
mod indexes;
mod purge;
mod records;
mod schema;
pub mod snapshot;
mod table;
mod tables;
mod task_spec;
mod training_records;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, Key, ReadableDatabase, ReadableTable};
use tokio::sync::watch;

pub use build_records::*;
pub use indexes::{
    app_unfinished_tasks, append_audit, org_audit_ids, org_task_count, org_task_names,
    org_task_names_newest, task_ended, task_submitted,
};
pub use purge::purge_org;
pub use records::*;
pub use schema::SCHEMA_VERSION;
pub use table::{JsonTable, ReadTable, Typed, WriteTable};
pub use tables::*;
pub use task_spec::*;
pub use training_records::*;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store {path} is used by another rockit-edge process; stop it first")]
    Locked { path: PathBuf },
    #[error(
        "the store {path} was written by a newer rockit-edge (schema {found}, this binary knows up to {supported}); upgrade the binary"
    )]
    NewerSchema {
        path: PathBuf,
        found: u64,
        supported: u64,
    },
    #[error("record in table {table} cannot be decoded: {message}")]
    Corrupt {
        table: &'static str,
        message: String,
    },
    #[error("no store at {path}")]
    Missing { path: PathBuf },
    #[error("store error: {0}")]
    Redb(#[from] redb::Error),
    #[error("store task failed: {0}")]
    Join(String),
}

macro_rules! redb_error_from {
    ($($source:ty),*) => {$(
        impl From<$source> for StoreError {
            fn from(e: $source) -> Self {
                StoreError::Redb(e.into())
            }
        }
    )*};
}
redb_error_from!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::DatabaseError
);

/// A read snapshot.
pub struct ReadTx(redb::ReadTransaction);

/// A write transaction; committed by [`Store::write`] when the closure succeeds.
pub struct WriteTx {
    inner: redb::WriteTransaction,
    /// Set when the transaction changed the task queue, so the runner is told after commit.
    queue_changed: Cell<bool>,
}

/// Reading, in a read snapshot or inside a write transaction: code that only reads takes
/// `&impl Reads` and serves both.
pub trait Reads {
    /// The redb table type this transaction opens.
    type Table<'t, K: Key + 'static>: ReadableTable<K, &'static [u8]>
    where
        Self: 't;

    /// Opens a typed table for reading.
    fn read<K: Key + 'static, V>(
        &self,
        table: &JsonTable<K, V>,
    ) -> Result<Typed<Self::Table<'_, K>, K, V>, StoreError>;
}

impl Reads for ReadTx {
    type Table<'t, K: Key + 'static> = redb::ReadOnlyTable<K, &'static [u8]>;

    fn read<K: Key + 'static, V>(
        &self,
        table: &JsonTable<K, V>,
    ) -> Result<ReadTable<K, V>, StoreError> {
        self.open(table)
    }
}

impl Reads for WriteTx {
    type Table<'t, K: Key + 'static> = redb::Table<'t, K, &'static [u8]>;

    fn read<K: Key + 'static, V>(
        &self,
        table: &JsonTable<K, V>,
    ) -> Result<WriteTable<'_, K, V>, StoreError> {
        self.open(table)
    }
}

impl ReadTx {
    /// Opens a typed table for reading.
    pub fn open<K: Key + 'static, V>(
        &self,
        table: &JsonTable<K, V>,
    ) -> Result<ReadTable<K, V>, StoreError> {
        Ok(Typed::new(
            self.0.open_table(table.definition())?,
            table.name(),
        ))
    }
}

impl WriteTx {
    /// Opens a typed table for reading and writing.
    pub fn open<K: Key + 'static, V>(
        &self,
        table: &JsonTable<K, V>,
    ) -> Result<WriteTable<'_, K, V>, StoreError> {
        Ok(Typed::new(
            self.inner.open_table(table.definition())?,
            table.name(),
        ))
    }

    /// Takes the next value of a named counter (starting at 1); never reused.
    pub fn next_id(&self, counter: &str) -> Result<u64, StoreError> {
        let mut counters = self.inner.open_table(COUNTERS)?;
        let next = counters.get(counter)?.map_or(0, |v| v.value()) + 1;
        counters.insert(counter, next)?;
        Ok(next)
    }

    /// Records that this transaction changed the task queue: once it commits, everyone
    /// watching [`Store::queue_changes`] is told.
    pub fn queue_changed(&self) {
        self.queue_changed.set(true);
    }
}

/// The appliance's store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    /// Bumped after every commit that changed the task queue.
    queue: Arc<watch::Sender<u64>>,
}

impl Store {
    /// Opens (or creates) the store file and brings its schema up to date.
    pub fn open(path: &Path, cache_bytes: usize, backups: &Path) -> Result<Store, StoreError> {
        let db = schema::open_and_migrate(path, cache_bytes, backups)?;
        Ok(Store {
            db: Arc::new(db),
            queue: Arc::new(watch::channel(0).0),
        })
    }

    /// Changes whenever a committed transaction changed the task queue: idle workers wait on
    /// it instead of polling the store.
    pub fn queue_changes(&self) -> watch::Receiver<u64> {
        self.queue.subscribe()
    }

    /// Runs `f` in a read snapshot on the blocking pool.
    pub async fn read<R, E>(
        &self,
        f: impl FnOnce(&ReadTx) -> Result<R, E> + Send + 'static,
    ) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let tx = ReadTx(db.begin_read().map_err(StoreError::from)?);
            f(&tx)
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))?
    }

    /// Runs `f` in a write transaction on the blocking pool; commits when it returns `Ok`.
    pub async fn write<R, E>(
        &self,
        f: impl FnOnce(&WriteTx) -> Result<R, E> + Send + 'static,
    ) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (db, queue) = (Arc::clone(&self.db), Arc::clone(&self.queue));
        tokio::task::spawn_blocking(move || {
            let (result, queue_changed) = write_blocking(&db, f)?;
            if queue_changed {
                queue.send_modify(|generation| *generation = generation.wrapping_add(1));
            }
            Ok(result)
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))?
    }
}

/// The one place write transactions begin: quick repair on, committed only on success.
/// Returns the closure's result and whether the transaction changed the task queue.
fn write_blocking<R, E: From<StoreError>>(
    db: &Database,
    f: impl FnOnce(&WriteTx) -> Result<R, E>,
) -> Result<(R, bool), E> {
    let mut inner = db.begin_write().map_err(StoreError::from)?;
    inner.set_quick_repair(true);
    let tx = WriteTx {
        inner,
        queue_changed: Cell::new(false),
    };
    let result = f(&tx)?;
    let queue_changed = tx.queue_changed.get();
    tx.inner.commit().map_err(StoreError::from)?;
    Ok((result, queue_changed))
}
