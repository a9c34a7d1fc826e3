//! Schema migrations: the numbered scripts of `migrations/` and the runner that applies the missing ones.

use tambah_store::Result;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

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
/// Serializes migrations of nodes starting together.
const MIGRATION_LOCK: i64 = 0x7461_6d62_6168;

/// Applies every migration the database has not recorded, in one transaction
/// under an advisory lock (nodes starting together take turns; the later
/// ones find nothing left to do).
pub(crate) async fn run(c: &Client) -> Result<()> {
    // Only when missing: the application's role (below) may not create
    // tables, and PostgreSQL checks that before it sees the table exists.
    let exists: bool =
        c.query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[]).await.map_err(err)?.get(0);
    if !exists {
        // Two nodes creating the table at once: the loser's CREATE fails on
        // the catalog's unique index, and the table exists.
        c.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)",
        )
        .await
        .or_else(|e| if e.code() == Some(&SqlState::UNIQUE_VIOLATION) { Ok(()) } else { Err(e) })
        .map_err(err)?;
    }
    c.batch_execute("BEGIN").await.map_err(err)?;
    match apply_missing(c).await {
        Ok(()) => c.batch_execute("COMMIT").await.map_err(err),
        Err(e) => {
            let _ = c.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

/// The body of the migration transaction.
async fn apply_missing(c: &Client) -> Result<()> {
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(err)?;
    // Every migration not recorded, not only those above the highest: one
    // merged after a later one was applied would otherwise be skipped.
    let rows = c.query("SELECT version FROM schema_migrations", &[]).await.map_err(err)?;
    let applied: std::collections::HashSet<i64> = rows.iter().map(|r| r.get(0)).collect();
    let mut changed = false;
    for (version, sql) in MIGRATIONS {
        if !applied.contains(version) {
            changed = true;
            c.batch_execute(sql).await.map_err(err)?;
            if *version == CHAIN_VERSION {
                crate::chain::backfill(c).await?;
            }
            c.execute(
                "INSERT INTO schema_migrations (version, applied_at_ms) VALUES ($1, (extract(epoch from now()) * 1000)::bigint)",
                &[version],
            )
            .await
            .map_err(err)?;
        }
    }
    if changed {
        c.batch_execute(APP_ROLE).await.map_err(err)?;
    }
    Ok(())
}

/// The role nodes run as (docs/deploy.md), granted again after every
/// migration: what it needs on every table, but on the ledger's entries
/// (`transfers`) and the audit log only INSERT and SELECT, so a node — or
/// whoever holds its credentials — cannot rewrite history; the migrations'
/// record it may only read, and sequences only draw from (no `setval`). From
/// PostgreSQL 17 it may VACUUM the hot account rows (`MAINTAIN`); before,
/// only the owner may, and a node's hot-row vacuum is skipped (autovacuum
/// remains). Roles are shared by the cluster's databases: a role made
/// meanwhile for another one is fine.
const APP_ROLE: &str = "DO $$ BEGIN
        CREATE ROLE tambah_app NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END $$;
    DO $$ BEGIN
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO tambah_app', current_database());
    END $$;
    GRANT USAGE ON SCHEMA public TO tambah_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO tambah_app;
    REVOKE UPDATE, DELETE, TRUNCATE ON transfers, audit_log FROM tambah_app;
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM tambah_app;
    REVOKE UPDATE ON ALL SEQUENCES IN SCHEMA public FROM tambah_app;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO tambah_app;
    DO $$ BEGIN
        IF current_setting('server_version_num')::int >= 170000 THEN
            EXECUTE 'GRANT MAINTAIN ON ledger_accounts TO tambah_app';
        END IF;
    END $$;";
