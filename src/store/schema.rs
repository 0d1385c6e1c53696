//! Schema versioning: a version record and an ordered list of forward-only migrations.

use std::path::Path;

use redb::{Database, ReadableDatabase};

use super::{StoreError, WriteTx, tables};

/// Each migration takes the store from version `i` to `i + 1`, in its own transaction.
type Migration = fn(&WriteTx) -> Result<(), StoreError>;

const MIGRATIONS: &[Migration] = &[
    tables::create_initial_tables,
    tables::add_identity_tables,
    tables::add_control_plane_tables,
    tables::number_orgs,
    tables::index_tasks_and_audit,
    tables::add_access_keys,
    tables::add_training_tables,
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: u64 = MIGRATIONS.len() as u64;

const VERSION_KEY: &str = "schema_version";

fn open(path: &Path, cache_bytes: usize) -> Result<Database, StoreError> {
    let mut builder = Database::builder();
    builder.set_cache_size(cache_bytes);
    builder.set_repair_callback(|session| {
        tracing::warn!(
            progress = session.progress(),
            "repairing store after an unclean shutdown"
        );
    });
    builder.create(path).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked {
            path: path.to_path_buf(),
        },
        other => other.into(),
    })
}

fn stored_version(db: &Database) -> Result<u64, StoreError> {
    let tx = db.begin_read()?;
    match tx.open_table(tables::META) {
        Ok(meta) => Ok(meta.get(VERSION_KEY)?.map_or(0, |v| v.value())),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Opens the store, refuses a newer schema, snapshots an existing store before migrating it,
/// then applies the missing migrations one transaction each.
pub fn open_and_migrate(
    path: &Path,
    cache_bytes: usize,
    backups: &Path,
) -> Result<Database, StoreError> {
    let mut db = open(path, cache_bytes)?;
    let found = stored_version(&db)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(db);
    }
    if found > 0 {
        drop(db);
        let snapshot = backups.join(format!(
            "edge-schema-{found}-{}.redb",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ));
        std::fs::copy(path, &snapshot).map_err(|e| StoreError::Corrupt {
            table: "meta",
            message: format!(
                "cannot snapshot the store to {} before migrating: {e}",
                snapshot.display()
            ),
        })?;
        tracing::info!(snapshot = %snapshot.display(), "snapshotted store before migration");
        db = open(path, cache_bytes)?;
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let next = index as u64 + 1;
        super::write_blocking(&db, |tx: &WriteTx| {
            migration(tx)?;
            let mut meta = tx.inner.open_table(tables::META)?;
            meta.insert(VERSION_KEY, next)?;
            Ok::<(), StoreError>(())
        })?;
        tracing::info!(version = next, "store schema migrated");
    }
    Ok(db)
}
