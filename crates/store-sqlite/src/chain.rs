//! The wallets' statement chains on SQLite: chaining the entries written
//! before the chains existed (once, inside the migration's transaction), and
//! reading every chain back for `verify`.

use rusqlite::{params, Connection, Row};
use tambah_domain::{chain::Head, AccountId};
use tambah_store::{chain_select, chain_unchained, rows, ChainCheck, ChainRow, Check};

use crate::Cols;

fn chain_row(r: &Row) -> rusqlite::Result<ChainRow> {
    rows::chain_row(&Cols::new(r))
}

/// Chains the wallet entries that have no number yet, in id order (the
/// append-only guard is lifted for these updates and put back).
pub(crate) fn backfill(conn: &Connection) -> rusqlite::Result<()> {
    let rows = {
        let mut stmt =
            conn.prepare(concat!(chain_select!(), " AND t.wallet_seq IS NULL ORDER BY t.wallet_account, t.id"))?;
        let rows = stmt.query_map([], chain_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows
    };
    if rows.is_empty() {
        return Ok(());
    }
    let (entries, heads) = chain_unchained(&rows);
    conn.execute_batch("DROP TRIGGER transfers_no_update")?;
    {
        let mut set = conn.prepare("UPDATE transfers SET wallet_seq = ?1, wallet_hash = ?2 WHERE id = ?3")?;
        for (id, head) in entries {
            set.execute(params![head.seq as i64, head.hash.as_slice(), id.get()])?;
        }
        let mut set =
            conn.prepare("UPDATE ledger_accounts SET chain_seq = ?1, chain_hash = ?2, chain_at_ms = ?3 WHERE id = ?4")?;
        for (wallet, (head, at_ms)) in heads {
            set.execute(params![head.seq as i64, head.hash.as_slice(), at_ms, wallet.get()])?;
        }
    }
    conn.execute_batch(
        "CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
            BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END;",
    )
}

/// Recomputes every wallet's chain and compares it with the recorded heads.
pub(crate) fn verify(conn: &Connection) -> rusqlite::Result<Check> {
    let mut check = ChainCheck::default();
    let mut stmt = conn.prepare(concat!(chain_select!(), " ORDER BY t.wallet_account, t.wallet_seq, t.id"))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        check.entry(&chain_row(r)?);
    }
    let mut stmt = conn.prepare("SELECT id, chain_seq, chain_hash FROM ledger_accounts WHERE kind = 'wallet'")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let hash: Vec<u8> = r.get(2)?;
        let head = Head::stored(r.get::<_, i64>(1)?, hash);
        check.head(AccountId::new(r.get(0)?), head);
    }
    Ok(check.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::{apply, MIGRATIONS};

    /// A database with movements written before the chains existed: the
    /// migration chains them in id order, per wallet, and `verify` agrees
    /// entry by entry and with the recorded heads.
    #[test]
    fn entries_written_before_the_chains_are_chained_by_their_migration() {
        let mut conn = Connection::open_in_memory().unwrap();
        let before = MIGRATIONS.iter().position(|(v, _)| *v == 21).unwrap();
        apply(&mut conn, &MIGRATIONS[..before]).unwrap();
        conn.execute_batch(
            "INSERT INTO merchants (id, account, name, environment, level, api_version, created_at_ms)
                 VALUES (1, 'A1', 'A', 'staging', '1', '2023-10-01', 0), (2, 'B2', 'B', 'staging', '1', '2023-10-01', 0);
             INSERT INTO ledger_accounts (id, kind, environment, merchant_id, balance_minor) VALUES (101, 'wallet', 'staging', 1, 0), (102, 'wallet', 'staging', 2, 0);
             INSERT INTO orders (id, merchant_id, refid, product, account, amount_minor, cost_minor, status, created_at_ms, updated_at_ms)
                 VALUES (7, 1, 'r-7', 'D', '0123456789', 100000, 97000, 48, 20, 20);
             INSERT INTO transfers (id, kind, debit_account, credit_account, amount_minor, order_id, pending_id, created_at_ms, wallet_account, wallet_balance_after_minor) VALUES
                 (1, 'DEPOSIT', 1, 101, 500000, NULL, NULL, 10, 101, 500000),
                 (2, 'DEPOSIT', 1, 102, 300000, NULL, NULL, 11, 102, 300000),
                 (3, 'HOLD', 101, 2, 97000, 7, NULL, 20, 101, 403000),
                 (4, 'VOID', 2, 101, 97000, 7, 3, 21, 101, 500000);",
        )
        .unwrap();
        apply(&mut conn, MIGRATIONS).unwrap();
        let chained: Vec<(i64, i64, i64)> = conn
            .prepare("SELECT id, wallet_account, wallet_seq FROM transfers ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(chained, [(1, 101, 1), (2, 102, 1), (3, 101, 2), (4, 101, 3)]);
        let check = verify(&conn).unwrap();
        assert_eq!((check.examined, check.violations.clone()), (4, Vec::<String>::new()), "{check:?}");
        // The hash of wallet 101's first entry is the documented rule's.
        let first: Vec<u8> =
            conn.query_row("SELECT wallet_hash FROM transfers WHERE id = 1", [], |r| r.get(0)).unwrap();
        let expected = tambah_domain::chain::Entry {
            seq: 1,
            at_ms: 10,
            kind: "DEPOSIT",
            amount_minor: 500_000,
            balance_minor: 500_000,
            refid: "",
        }
        .hash(&tambah_domain::chain::GENESIS);
        assert_eq!(first, expected);
        // The append-only guard is back, and the table (rebuilt by migration
        // 24) refuses a wallet entry outside the chain.
        assert!(conn.execute("UPDATE transfers SET amount_minor = 1 WHERE id = 1", []).is_err());
        assert!(conn.execute("DELETE FROM transfers WHERE id = 4", []).is_err());
        let unchained = conn.execute(
            "INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, created_at_ms, wallet_account,
                 wallet_balance_after_minor) VALUES ('DEPOSIT', 1, 101, 5, 30, 101, 500005)",
            [],
        );
        assert!(unchained.unwrap_err().to_string().contains("wallet_entry_chained"));
    }
}
