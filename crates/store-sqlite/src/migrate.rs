//! The schema's migrations, in order, and the runner that applies the ones a
//! database has not recorded yet (in one immediate transaction, with foreign
//! keys checked once before it commits).

use rusqlite::Connection;
use tambah_store::Result;

use crate::err;

pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_core.sql")),
    (2, include_str!("../migrations/0002_merchant_settings.sql")),
    (3, include_str!("../migrations/0003_order_leases.sql")),
    (4, include_str!("../migrations/0004_nonces.sql")),
    (5, include_str!("../migrations/0005_after_the_sale.sql")),
    (6, include_str!("../migrations/0006_report_indexes.sql")),
    (7, include_str!("../migrations/0007_statement_balances.sql")),
    (8, include_str!("../migrations/0008_catalogue_state.sql")),
    (9, include_str!("../migrations/0009_providers.sql")),
    (10, include_str!("../migrations/0010_provider_codes.sql")),
    (11, include_str!("../migrations/0011_merchant_rate_limit.sql")),
    (12, include_str!("../migrations/0012_nonces.sql")),
    (13, include_str!("../migrations/0013_node_heartbeats.sql")),
    (14, include_str!("../migrations/0014_dashboard_accounts.sql")),
    (15, include_str!("../migrations/0015_operator_totp_step.sql")),
    (16, include_str!("../migrations/0016_member_totp.sql")),
    (17, include_str!("../migrations/0017_ip_allowlist.sql")),
    (18, include_str!("../migrations/0018_request_log.sql")),
    (19, include_str!("../migrations/0019_dashboard_sessions.sql")),
    (20, include_str!("../migrations/0020_cache_epoch.sql")),
    (21, include_str!("../migrations/0021_statement_chain.sql")),
    (22, include_str!("../migrations/0022_spending_caps.sql")),
    (23, include_str!("../migrations/0023_chained_entries.sql")),
    (24, include_str!("../migrations/0024_lean_transfers.sql")),
];

/// The migration that adds the statement chains; entries written before it
/// are chained right after it, in the same transaction.
const CHAIN_VERSION: i64 = 21;

pub(crate) fn run(conn: &mut Connection) -> Result<()> {
    apply(conn, MIGRATIONS)
}

/// Applies every migration of `migrations` the database has not recorded,
/// in order: not only those above its highest (a migration merged after a
/// later one was applied would be skipped for ever). A database that
/// recorded versions this binary does not know was migrated by a newer one;
/// migrations keep what older binaries read (24 drops only indexes they can
/// do without), so it is used as it is.
///
/// Foreign keys are off while they run, as SQLite's procedure for rebuilding
/// a table asks (a `DROP TABLE` would otherwise delete every row first, and
/// fail on the rows that refer to it), and `PRAGMA foreign_key_check` must
/// find nothing before the transaction commits (checked only when a
/// migration ran: it reads every table).
pub(crate) fn apply(conn: &mut Connection, migrations: &[(i64, &str)]) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)",
    )
    .map_err(err)?;
    let keys_were_on: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).map_err(err)?;
    conn.execute_batch("PRAGMA foreign_keys = OFF").map_err(err)?;
    let applied = apply_in_transaction(conn, migrations);
    if keys_were_on {
        conn.execute_batch("PRAGMA foreign_keys = ON").map_err(err)?;
    }
    applied
}

fn apply_in_transaction(conn: &mut Connection, migrations: &[(i64, &str)]) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
    let applied: std::collections::HashSet<i64> = {
        let mut stmt = tx.prepare("SELECT version FROM schema_migrations").map_err(err)?;
        let versions = stmt.query_map([], |r| r.get(0)).map_err(err)?;
        versions.collect::<rusqlite::Result<_>>().map_err(err)?
    };
    let mut ran = false;
    for (version, sql) in migrations {
        if !applied.contains(version) {
            ran = true;
            tx.execute_batch(sql).map_err(err)?;
            if *version == CHAIN_VERSION {
                crate::chain::backfill(&tx).map_err(err)?;
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?1, strftime('%s','now') * 1000)",
                [version],
            )
            .map_err(err)?;
        }
    }
    if ran {
        foreign_keys_hold(&tx)?;
    }
    tx.commit().map_err(err)
}

/// `PRAGMA foreign_key_check` finds nothing.
fn foreign_keys_hold(conn: &Connection) -> Result<()> {
    let broken: Vec<(String, Option<i64>, String)> = {
        let mut stmt = conn.prepare("PRAGMA foreign_key_check").map_err(err)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(err)?;
        rows.take(5).collect::<rusqlite::Result<_>>().map_err(err)?
    };
    if !broken.is_empty() {
        let rows: Vec<String> =
            broken.iter().map(|(t, id, parent)| format!("{t} row {} (-> {parent})", id.unwrap_or_default())).collect();
        return Err(tambah_store::StoreError::Other(format!(
            "the migrations left rows whose foreign keys point nowhere: {}; nothing was changed",
            rows.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::apply;

    fn tables(conn: &rusqlite::Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't_' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<rusqlite::Result<_>>().unwrap()
    }

    #[test]
    fn a_migration_below_the_highest_applied_is_still_applied() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        apply(&mut conn, &[(1, "CREATE TABLE t1 (x)"), (3, "CREATE TABLE t3 (x)")]).unwrap();
        assert_eq!(tables(&conn), ["t1", "t3"]);
        // Version 2 arrives later (merged after 3 was applied somewhere).
        apply(&mut conn, &[(1, "CREATE TABLE t1 (x)"), (2, "CREATE TABLE t2 (x)"), (3, "CREATE TABLE t3 (x)")])
            .unwrap();
        assert_eq!(tables(&conn), ["t1", "t2", "t3"]);
        // Nothing left: a third run changes nothing (and fails on nothing).
        apply(&mut conn, &[(1, "CREATE TABLE t1 (x)"), (2, "CREATE TABLE t2 (x)"), (3, "CREATE TABLE t3 (x)")])
            .unwrap();
        // A database migrated by a newer binary (version 4) is used as it is.
        apply(&mut conn, &[(1, "x"), (2, "x"), (3, "x"), (4, "CREATE TABLE t4 (x)")]).unwrap();
        apply(&mut conn, &[(1, "x"), (2, "x"), (3, "x")]).unwrap();
        assert_eq!(tables(&conn), ["t1", "t2", "t3", "t4"]);
    }
}
