//! The wallets' statement chains on PostgreSQL: the same as the SQLite
//! backend's `chain.rs` — chaining the entries written before the chains
//! existed (once, inside the migration's transaction), and reading every
//! chain back for `verify`.

use tambah_domain::{chain::Head, AccountId};
use tambah_store::{chain_select, chain_unchained, rows, ChainCheck, ChainRow, Check, Result};
use tokio_postgres::{Client, Row};

use crate::{err, Cols};

fn chain_row(r: &Row) -> Result<ChainRow> {
    rows::chain_row(&Cols::new(r)).map_err(err)
}

/// Chains the wallet entries that have no number yet, in id order (the
/// append-only guard is lifted for these updates and put back).
pub(crate) async fn backfill(c: &Client) -> Result<()> {
    const SQL: &str = concat!(chain_select!(), " AND t.wallet_seq IS NULL ORDER BY t.wallet_account, t.id");
    let rows = c.query(SQL, &[]).await.map_err(err)?.iter().map(chain_row).collect::<Result<Vec<_>>>()?;
    if rows.is_empty() {
        return Ok(());
    }
    let (entries, heads) = chain_unchained(&rows);
    c.batch_execute("ALTER TABLE transfers DISABLE TRIGGER transfers_no_change").await.map_err(err)?;
    let set = c.prepare("UPDATE transfers SET wallet_seq = $1, wallet_hash = $2 WHERE id = $3").await.map_err(err)?;
    for (id, head) in entries {
        c.execute(&set, &[&(head.seq as i64), &head.hash.as_slice(), &id.get()]).await.map_err(err)?;
    }
    let set = c
        .prepare("UPDATE ledger_accounts SET chain_seq = $1, chain_hash = $2, chain_at_ms = $3 WHERE id = $4")
        .await
        .map_err(err)?;
    for (wallet, (head, at_ms)) in heads {
        c.execute(&set, &[&(head.seq as i64), &head.hash.as_slice(), &at_ms, &wallet.get()]).await.map_err(err)?;
    }
    c.batch_execute("ALTER TABLE transfers ENABLE TRIGGER transfers_no_change").await.map_err(err)
}

/// Recomputes every wallet's chain and compares it with the recorded heads.
pub(crate) async fn verify(c: &Client) -> Result<Check> {
    let mut check = ChainCheck::default();
    const SQL: &str = concat!(chain_select!(), " ORDER BY t.wallet_account, t.wallet_seq, t.id");
    for r in c.query(SQL, &[]).await.map_err(err)? {
        check.entry(&chain_row(&r)?);
    }
    for r in c
        .query("SELECT id, chain_seq, chain_hash FROM ledger_accounts WHERE kind = 'wallet'", &[])
        .await
        .map_err(err)?
    {
        let hash: Vec<u8> = r.get(2);
        let head = Head::stored(r.get::<_, i64>(1), hash);
        check.head(AccountId::new(r.get(0)), head);
    }
    Ok(check.finish())
}
