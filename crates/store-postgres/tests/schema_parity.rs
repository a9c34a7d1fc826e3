//! Schema parity: SQLite and PostgreSQL, freshly migrated, have the same
//! tables with the same column names, so that the shared row mappers and the
//! contract see one schema. Needs `TAMBAH_TEST_POSTGRES` (see `server`).

mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use server::Database;
use tambah_store_sqlite::SqliteStore;

/// Table name to its column names.
type Schema = BTreeMap<String, BTreeSet<String>>;

/// Tables that exist in one backend only, on purpose, with the reason (none
/// today).
const ONE_BACKEND_ONLY: &[(&str, &str)] = &[];

/// A database file removed (with its WAL, shared-memory and journal files)
/// when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = self.0.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

fn sqlite_schema() -> Schema {
    let file = TempFile(std::env::temp_dir().join(format!("tambah-schema-parity-{}.db", std::process::id())));
    drop(SqliteStore::open(&file.0).expect("migrating a fresh SQLite database"));
    let conn = rusqlite::Connection::open(&file.0).expect("opening the migrated SQLite database");
    let mut tables = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .expect("listing SQLite tables");
    let names: Vec<String> =
        tables.query_map([], |r| r.get(0)).and_then(Iterator::collect).expect("reading SQLite table names");
    let mut columns = conn.prepare("SELECT name FROM pragma_table_info(?1)").expect("listing SQLite columns");
    names
        .into_iter()
        .map(|table| {
            let cols = columns
                .query_map([&table], |r| r.get(0))
                .and_then(Iterator::collect)
                .unwrap_or_else(|e| panic!("reading the columns of SQLite table {table}: {e}"));
            (table, cols)
        })
        .collect()
}

fn postgres_schema(url: &str) -> Schema {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    rt.block_on(async {
        let (client, conn) =
            tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connecting to PostgreSQL");
        tokio::spawn(conn);
        let rows = client
            .query(
                "SELECT t.table_name::text, c.column_name::text
                   FROM information_schema.tables t
                   LEFT JOIN information_schema.columns c
                     ON c.table_schema = t.table_schema AND c.table_name = t.table_name
                  WHERE t.table_schema = current_schema() AND t.table_type = 'BASE TABLE'",
                &[],
            )
            .await
            .expect("reading PostgreSQL's information_schema");
        let mut schema = Schema::new();
        for row in rows {
            let columns = schema.entry(row.get(0)).or_default();
            if let Some(column) = row.get::<_, Option<String>>(1) {
                columns.insert(column);
            }
        }
        schema
    })
}

/// What differs between the two schemas, one line per table, empty if none.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let tables: BTreeSet<&String> = sqlite.keys().chain(postgres.keys()).collect();
    let mut out = Vec::new();
    for table in tables {
        match (sqlite.get(table), postgres.get(table)) {
            (Some(_), None) => out.push(format!("{table}: SQLite only")),
            (None, Some(_)) => out.push(format!("{table}: PostgreSQL only")),
            (Some(s), Some(p)) if s != p => out.push(format!(
                "{table}: columns only in SQLite {:?}, only in PostgreSQL {:?}",
                s.difference(p).collect::<Vec<_>>(),
                p.difference(s).collect::<Vec<_>>()
            )),
            _ => {}
        }
    }
    out
}

#[test]
#[cfg_attr(not(postgres_tests), ignore = "set TAMBAH_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432 to run")]
fn both_backends_migrate_to_the_same_tables_and_columns() {
    let mut sqlite = sqlite_schema();
    let db = Database::fresh("parity");
    let mut postgres = postgres_schema(&db.url());
    assert!(sqlite.contains_key("orders") && postgres.contains_key("orders"), "both schemas were read: {sqlite:?}");
    for (table, why) in ONE_BACKEND_ONLY {
        let in_sqlite = sqlite.remove(*table).is_some();
        let in_postgres = postgres.remove(*table).is_some();
        assert!(in_sqlite != in_postgres, "{table} is listed as in one backend only ({why}), but is not");
    }
    let diff = differences(&sqlite, &postgres);
    assert!(diff.is_empty(), "the migrated schemas differ:\n{}", diff.join("\n"));
}
