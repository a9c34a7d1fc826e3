//! The schema's migrations, in order, and the runner that applies the ones a
//! database has not seen yet (in one immediate transaction).

use rusqlite::Connection;
use tambah_store::Result;

use crate::err;

const MIGRATIONS: &[(i64, &str)] = &[
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
];

pub(crate) fn run(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)",
    )
    .map_err(err)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
    let current: i64 =
        tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0)).map_err(err)?;
    for (version, sql) in MIGRATIONS {
        if *version > current {
            tx.execute_batch(sql).map_err(err)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?1, strftime('%s','now') * 1000)",
                [version],
            )
            .map_err(err)?;
        }
    }
    tx.commit().map_err(err)
}
