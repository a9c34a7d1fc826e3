//! The writer's order inserts on PostgreSQL: the order alone, and the order with its hold and the hold's resolution
//! in one round trip, with the values each statement binds.

use tambah_domain::{AccountId, Amount};
use tambah_store::{order_insert_columns, NewTransfer, OrderRow};
use tokio_postgres::types::ToSql;

/// `INSERT INTO orders (...) VALUES ($1..$18)`: every column but `id`, bound by [`order_values`].
macro_rules! insert_order_sql {
    () => {
        concat!(
            "INSERT INTO orders (",
            order_insert_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        )
    };
}

/// The order alone (`Writer::insert_order`); answers its id.
pub(super) const INSERT_ORDER: &str = concat!(insert_order_sql!(), " RETURNING id");

/// An order's typed columns as the SQL values [`order_values`] binds (held
/// by the caller, as the bound values are references).
pub(super) struct OrderKeys {
    merchant_id: i64,
    /// In minor units, as the column stores it.
    amount: i64,
    /// In minor units, as the column stores it.
    cost: i64,
    /// The column is a SMALLINT.
    status: i16,
}

impl OrderKeys {
    pub(super) fn of(o: &OrderRow) -> OrderKeys {
        OrderKeys {
            merchant_id: o.merchant_id.get(),
            amount: o.amount.minor(),
            cost: o.cost.minor(),
            status: i16::from(o.status.code()),
        }
    }
}

/// The 18 values of [`insert_order_sql`], in order.
pub(super) fn order_values<'a>(o: &'a OrderRow, k: &'a OrderKeys) -> [&'a (dyn ToSql + Sync); 18] {
    [
        &k.merchant_id,
        &o.refid,
        &o.product,
        &o.account,
        &k.amount,
        &k.cost,
        &k.status,
        &o.sn,
        &o.pin,
        &o.expiry,
        &o.note,
        &o.voucherlink,
        &o.remarks,
        &o.extras_json,
        &o.provider,
        &o.recheck_at_ms,
        &o.created_at_ms,
        &o.updated_at_ms,
    ]
}

/// The bound columns of a transfer written with its order, all NULL when
/// there is no such transfer.
pub(super) struct TransferColumns<'a> {
    kind: Option<&'static str>,
    debit: Option<i64>,
    credit: Option<i64>,
    amount: Option<i64>,
    remarks: Option<&'a str>,
    at: Option<i64>,
    wallet: Option<i64>,
    balance_after: Option<i64>,
    seq: Option<i64>,
    hash: Option<&'a [u8]>,
}

impl<'a> TransferColumns<'a> {
    pub(super) fn of(t: Option<&'a NewTransfer>) -> TransferColumns<'a> {
        TransferColumns {
            kind: t.map(|t| t.kind.as_str()),
            debit: t.map(|t| t.debit_account.get()),
            credit: t.map(|t| t.credit_account.get()),
            amount: t.map(|t| t.amount.minor()),
            remarks: t.map(|t| t.remarks.as_str()),
            at: t.map(|t| t.created_at_ms),
            wallet: t.and_then(NewTransfer::wallet_account).map(AccountId::get),
            balance_after: t.and_then(|t| t.wallet_balance_after).map(Amount::minor),
            seq: t.and_then(|t| t.chain).map(|h| h.seq as i64),
            hash: t.and_then(|t| t.chain.as_ref()).map(|h| h.hash.as_slice()),
        }
    }
}

/// `$19..$38` of [`INSERT_ORDER_WITH_TRANSFERS`], after the order's 18.
pub(super) fn transfer_values<'a>(h: &'a TransferColumns, r: &'a TransferColumns) -> [&'a (dyn ToSql + Sync); 20] {
    [
        &h.kind,
        &h.debit,
        &h.credit,
        &h.amount,
        &h.remarks,
        &h.at,
        &r.kind,
        &r.debit,
        &r.credit,
        &r.amount,
        &r.remarks,
        &r.at,
        &h.wallet,
        &h.balance_after,
        &r.wallet,
        &r.balance_after,
        &h.seq,
        &h.hash,
        &r.seq,
        &r.hash,
    ]
}

/// The order (unless its refid exists), its hold and the hold's resolution in
/// one statement; answers the new order's id and the hold's id.
pub(super) const INSERT_ORDER_WITH_TRANSFERS: &str = concat!(
    "WITH o AS (",
    insert_order_sql!(),
    " ON CONFLICT (merchant_id, refid) DO NOTHING RETURNING id),
     h AS (
         INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, order_id, remarks, created_at_ms,
           wallet_account, wallet_balance_after_minor, wallet_seq, wallet_hash)
         SELECT $19::text, $20::bigint, $21::bigint, $22::bigint, o.id, $23::text, $24::bigint, $31::bigint,
           $32::bigint, $35::bigint, $36::bytea
         FROM o WHERE $19::text IS NOT NULL RETURNING id, order_id),
     r AS (
         INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, order_id, pending_id, remarks,
           created_at_ms, wallet_account, wallet_balance_after_minor, wallet_seq, wallet_hash)
         SELECT $25::text, $26::bigint, $27::bigint, $28::bigint, h.order_id, h.id, $29::text, $30::bigint,
           $33::bigint, $34::bigint, $37::bigint, $38::bytea
         FROM h WHERE $25::text IS NOT NULL RETURNING id)
     SELECT (SELECT id FROM o), (SELECT id FROM h)"
);
