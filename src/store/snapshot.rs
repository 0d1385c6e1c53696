//! A consistent copy of the whole store, taken inside one read transaction while writers go on
//! (redb's readers see the last commit before they began, never a half one): what online
//! backups archive.

use std::path::Path;

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, TableHandle,
};

use super::{Store, StoreError, tables};

/// Tables keyed by numbers; `meta` and `counters` hold numbers; every other table is text
/// keys and JSON bytes.
const NUMBER_KEYED: [&str; 3] = ["task_queue", "events", "audit"];

impl Store {
    /// Writes every table as of one moment into a new store file at `target`.
    pub async fn snapshot_to(&self, target: &Path) -> Result<(), StoreError> {
        let (db, target) = (std::sync::Arc::clone(&self.db), target.to_path_buf());
        tokio::task::spawn_blocking(move || copy_tables(&db.begin_read()?, &target))
            .await
            .map_err(|e| StoreError::Join(e.to_string()))?
    }
}

/// Copies the store file of a stopped appliance without changing it (no migration): the
/// store is opened, so a running process holding it makes this fail with
/// [`StoreError::Locked`].
pub fn snapshot_file(store_file: &Path, target: &Path) -> Result<(), StoreError> {
    if !store_file.is_file() {
        return Err(StoreError::Missing {
            path: store_file.to_path_buf(),
        });
    }
    let db = Database::open(store_file).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked {
            path: store_file.to_path_buf(),
        },
        other => other.into(),
    })?;
    copy_tables(&db.begin_read()?, target)
}

/// The schema version of a store file (a restored snapshot's, before it is used).
pub fn schema_of(store_file: &Path) -> Result<u64, StoreError> {
    let db = Database::open(store_file)?;
    let tx = db.begin_read()?;
    let meta = tx.open_table(tables::META)?;
    Ok(meta.get("schema_version")?.map_or(0, |v| v.value()))
}

fn copy_tables(source: &ReadTransaction, target: &Path) -> Result<(), StoreError> {
    let db = Database::create(target)?;
    let tx = db.begin_write()?;
    for handle in source.list_tables()? {
        let name = handle.name().to_string();
        match name.as_str() {
            "meta" | "counters" => {
                copy::<&str, u64>(source, &tx, TableDefinition::new(&name))?;
            }
            _ if NUMBER_KEYED.contains(&name.as_str()) => {
                copy::<u64, &[u8]>(source, &tx, TableDefinition::new(&name))?;
            }
            _ => copy::<&str, &[u8]>(source, &tx, TableDefinition::new(&name))?,
        }
    }
    tx.commit()?;
    Ok(())
}

fn copy<K: redb::Key + 'static, V: redb::Value + 'static>(
    source: &ReadTransaction,
    target: &redb::WriteTransaction,
    table: TableDefinition<K, V>,
) -> Result<(), StoreError> {
    let from = source.open_table(table)?;
    let mut to = target.open_table(table)?;
    for entry in from.iter()? {
        let (key, value) = entry?;
        to.insert(key.value(), value.value())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AUDIT, EVENTS, TASK_QUEUE};

    #[test]
    fn the_number_keyed_tables_are_the_stores() {
        assert_eq!(
            NUMBER_KEYED,
            [TASK_QUEUE.name(), EVENTS.name(), AUDIT.name()]
        );
    }

    #[tokio::test]
    async fn a_snapshot_holds_every_table_and_opens_as_a_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("edge.redb"), 1 << 20, dir.path()).expect("store");
        store
            .write(|tx| {
                tx.open(&TASK_QUEUE)?.put(7, &"task-7".to_string())?;
                tx.next_id("events")?;
                Ok::<_, StoreError>(())
            })
            .await
            .expect("write");
        let copy = dir.path().join("copy.redb");
        store.snapshot_to(&copy).await.expect("snapshot");
        assert_eq!(
            schema_of(&copy).expect("schema"),
            crate::store::SCHEMA_VERSION
        );
        drop(store);
        let reopened = Store::open(&copy, 1 << 20, dir.path()).expect("reopen");
        let queued = reopened
            .read(|tx| tx.open(&TASK_QUEUE)?.get(7))
            .await
            .expect("read");
        assert_eq!(queued.as_deref(), Some("task-7"));
        let next = reopened
            .write(|tx| tx.next_id("events"))
            .await
            .expect("counter");
        assert_eq!(next, 2, "counters are copied");
    }
}
