//! Forward migration of an older store: snapshot first, then the identity tables and the
//! username index are added and backfilled.

mod common;

use common::{Server, create_org, login};

#[test]
fn a_schema_1_store_is_snapshotted_and_migrated() {
    let mut server = Server::start();
    create_org(&server, "acme", "Passw0rd-acme");
    assert!(server.terminate());
    let file = server.data_dir().join("edge.redb");
    {
        let db = redb::Database::open(&file).expect("open");
        let tx = db.begin_write().expect("write");
        tx.delete_table(redb::TableDefinition::<&str, &[u8]>::new("user_orgs"))
            .expect("drop index");
        {
            let mut meta = tx
                .open_table(redb::TableDefinition::<&str, u64>::new("meta"))
                .expect("meta");
            meta.insert("schema_version", 1).expect("insert");
        }
        tx.commit().expect("commit");
    }
    server.launch();
    assert!(
        server.log().contains("store schema migrated"),
        "{}",
        server.log()
    );
    let snapshots: Vec<_> = std::fs::read_dir(server.data_dir().join("backups"))
        .expect("backups")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("edge-schema-1-")
        })
        .collect();
    assert_eq!(snapshots.len(), 1, "one snapshot before migrating");
    let session = login(&server, "acme", "admin", "Passw0rd-acme");
    assert!(
        session["accessToken"].is_string(),
        "the backfilled index finds the user"
    );
}
