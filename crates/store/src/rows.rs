//! Row mapping, written once for every backend: the column lists both
//! dialects select, and the functions that turn a selected row into a store
//! row. A backend only says how to read one column of its row type
//! ([`Columns`]); which column holds what, and how SQL values become store
//! types, is decided here and nowhere else.
//!
//! Column lists are macros so that a backend can `concat!` them into
//! `&'static str` statements (PostgreSQL caches prepared statements by their
//! text).

use crate::{
    ApiKeyListing, ApiKeyRow, AttemptOutcome, AttemptRow, AuditRow, CallbackAttempt, CallbackKind, CallbackRow,
    ChainRow, CostOfGoodsRow, DisputeRow, LiveAccessRow, MerchantRow, OperatorRow, OrderQuery, OrderRow, OrderTotals,
    ProviderKind, ProviderRow, RequestLogRow, RouteRow, SpendingCaps, StatementEntry, StatusGroup, SummaryRow,
    TokenKind, TokenRow, TransferKind, UserRow,
};
use tambah_domain::chain::Head;
use tambah_domain::{
    AccountId, Amount, CallbackId, DisputeId, Environment, MerchantId, OrderId, ProviderId, Role, StatusCode,
    TransferId, UserId,
};

/// One selected row of a backend, read column by column (0-based). Integer
/// columns of any width read as `i64`; booleans stored as integers read as
/// `bool`.
pub trait Columns {
    type Error;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn flag(&self, i: usize) -> Result<bool, Self::Error>;
    fn bytes(&self, i: usize) -> Result<Vec<u8>, Self::Error>;
    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, Self::Error>;
    /// A status code; a number the contract does not define is a conversion
    /// error of the backend (the request fails), never a panic.
    fn status(&self, i: usize) -> Result<StatusCode, Self::Error>;
    fn opt_status(&self, i: usize) -> Result<Option<StatusCode>, Self::Error>;
}

/// How many columns [`merchant_columns!`] lists: where a joined row's next
/// part starts.
pub const MERCHANT_COLUMN_COUNT: usize = 19;

/// The columns of [`merchant`], from `merchants m JOIN ledger_accounts a ON a.merchant_id = m.id`.
#[macro_export]
macro_rules! merchant_columns {
    () => {
        "m.id, m.account, m.name, m.environment, m.level, m.access, m.suspended, m.api_version, \
         m.require_api_key_for_topup, a.id, m.created_at_ms, m.email, m.callback_url, m.callback_method, \
         m.low_balance_threshold_minor, m.rate_limit_per_s, m.ip_allowlist, m.daily_cap_amount_minor, \
         m.daily_cap_count"
    };
}

/// `SELECT` of [`merchant`] rows; append a `WHERE`.
#[macro_export]
macro_rules! merchant_select {
    () => {
        concat!(
            "SELECT ",
            $crate::merchant_columns!(),
            " FROM merchants m JOIN ledger_accounts a ON a.merchant_id = m.id"
        )
    };
}

pub fn merchant<R: Columns>(r: &R) -> Result<MerchantRow, R::Error> {
    Ok(MerchantRow {
        id: MerchantId::new(r.int(0)?),
        account: r.text(1)?,
        name: r.text(2)?,
        environment: environment(&r.text(3)?),
        level: r.text(4)?,
        access: r.int(5)? as u8,
        suspended: r.flag(6)?,
        api_version: r.text(7)?,
        require_api_key_for_topup: r.flag(8)?,
        wallet_id: AccountId::new(r.int(9)?),
        created_at_ms: r.int(10)?,
        email: r.text(11)?,
        callback_url: r.text(12)?,
        callback_method: r.text(13)?,
        low_balance_threshold: Amount::from_minor(r.int(14)?),
        rate_limit_per_s: r.opt_int(15)?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        ip_allowlist: r.text(16)?,
        caps: SpendingCaps {
            amount: r.opt_int(17)?.map(Amount::from_minor),
            count: r.opt_int(18)?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        },
    })
}

fn environment(text: &str) -> Environment {
    Environment::parse(text).expect("environment constrained by CHECK")
}

/// The columns of [`api_key`].
#[macro_export]
macro_rules! api_key_columns {
    () => {
        "key_id, merchant_id, secret_sealed, revoked"
    };
}

pub fn api_key<R: Columns>(r: &R) -> Result<ApiKeyRow, R::Error> {
    Ok(ApiKeyRow {
        key_id: r.text(0)?,
        merchant_id: MerchantId::new(r.int(1)?),
        secret_sealed: r.bytes(2)?,
        revoked: r.flag(3)?,
    })
}

/// The columns of [`user`].
#[macro_export]
macro_rules! user_columns {
    () => {
        "id, merchant_id, username, password_hash, role"
    };
}

/// A role as stored (the column's CHECK admits only the four names; an
/// unknown one reads as the least: a viewer).
pub fn role<R: Columns>(r: &R, i: usize) -> Result<Role, R::Error> {
    Ok(Role::parse(&r.text(i)?).unwrap_or(Role::Viewer))
}

pub fn user<R: Columns>(r: &R) -> Result<UserRow, R::Error> {
    Ok(UserRow {
        id: UserId::new(r.int(0)?),
        merchant_id: MerchantId::new(r.int(1)?),
        username: r.text(2)?,
        password_hash: r.text(3)?,
        role: role(r, 4)?,
    })
}

/// The columns of [`api_key_listing`].
#[macro_export]
macro_rules! api_key_listing_columns {
    () => {
        "key_id, revoked, created_at_ms"
    };
}

pub fn api_key_listing<R: Columns>(r: &R) -> Result<ApiKeyListing, R::Error> {
    Ok(ApiKeyListing { key_id: r.text(0)?, revoked: r.flag(1)?, created_at_ms: r.int(2)? })
}

/// The columns of [`live_access`].
#[macro_export]
macro_rules! live_access_columns {
    () => {
        "staging_merchant_id, requested_at_ms, live_merchant_id, approved_at_ms"
    };
}

pub fn live_access<R: Columns>(r: &R) -> Result<LiveAccessRow, R::Error> {
    Ok(LiveAccessRow {
        staging_merchant_id: MerchantId::new(r.int(0)?),
        requested_at_ms: r.int(1)?,
        live_merchant_id: r.opt_int(2)?.map(MerchantId::new),
        approved_at_ms: r.opt_int(3)?,
    })
}

/// The columns of [`operator`].
#[macro_export]
macro_rules! operator_columns {
    () => {
        "o.id, o.email, o.password_hash, o.totp_sealed, o.created_at_ms"
    };
}

pub fn operator<R: Columns>(r: &R) -> Result<OperatorRow, R::Error> {
    Ok(OperatorRow {
        id: r.int(0)?,
        email: r.text(1)?,
        password_hash: r.text(2)?,
        totp_sealed: r.bytes(3)?,
        created_at_ms: r.int(4)?,
    })
}

/// The columns of [`audit`], from `audit_log l JOIN operators o LEFT JOIN merchants m`.
#[macro_export]
macro_rules! audit_columns {
    () => {
        "l.id, o.email, l.action, m.account, l.detail, l.created_at_ms"
    };
}

pub fn audit<R: Columns>(r: &R) -> Result<AuditRow, R::Error> {
    Ok(AuditRow {
        id: r.int(0)?,
        operator_email: r.text(1)?,
        action: r.text(2)?,
        merchant_account: r.opt_text(3)?,
        detail: r.text(4)?,
        created_at_ms: r.int(5)?,
    })
}

/// The columns of [`request_log`].
#[macro_export]
macro_rules! request_log_columns {
    () => {
        "merchant_id, at_ms, method, path, status, error, message, request_id, client_ip"
    };
}

pub fn request_log<R: Columns>(r: &R) -> Result<RequestLogRow, R::Error> {
    Ok(RequestLogRow {
        merchant_id: MerchantId::new(r.int(0)?),
        at_ms: r.int(1)?,
        method: r.text(2)?,
        path: r.text(3)?,
        status: u16::try_from(r.int(4)?).unwrap_or(0),
        error: r.text(5)?,
        message: r.text(6)?,
        request_id: r.text(7)?,
        client_ip: r.text(8)?,
    })
}

/// The columns of [`token`].
#[macro_export]
macro_rules! token_columns {
    () => {
        "token_hash, kind, merchant_id, user_id, expires_at_ms, revoked"
    };
}

pub fn token<R: Columns>(r: &R) -> Result<TokenRow, R::Error> {
    Ok(TokenRow {
        token_hash: r.text(0)?,
        kind: TokenKind::parse(&r.text(1)?).expect("kind constrained by CHECK"),
        merchant_id: MerchantId::new(r.int(2)?),
        user_id: UserId::new(r.int(3)?),
        expires_at_ms: r.int(4)?,
        revoked: r.flag(5)?,
    })
}

/// The columns of [`order`], unqualified (`FROM orders`).
#[macro_export]
macro_rules! order_columns {
    () => {
        "id, merchant_id, refid, product, account, amount_minor, cost_minor, status, sn, pin, expiry, note, \
         voucherlink, remarks, extras_json, provider, recheck_at_ms, created_at_ms, updated_at_ms"
    };
}

/// The columns an order insert writes: [`order_columns!`] but `id`, in the same order.
#[macro_export]
macro_rules! order_insert_columns {
    () => {
        "merchant_id, refid, product, account, amount_minor, cost_minor, status, sn, pin, expiry, note, \
         voucherlink, remarks, extras_json, provider, recheck_at_ms, created_at_ms, updated_at_ms"
    };
}

pub fn order<R: Columns>(r: &R) -> Result<OrderRow, R::Error> {
    Ok(OrderRow {
        id: OrderId::new(r.int(0)?),
        merchant_id: MerchantId::new(r.int(1)?),
        refid: r.text(2)?,
        product: r.text(3)?,
        account: r.text(4)?,
        amount: Amount::from_minor(r.int(5)?),
        cost: Amount::from_minor(r.int(6)?),
        status: r.status(7)?,
        sn: r.text(8)?,
        pin: r.text(9)?,
        expiry: r.text(10)?,
        note: r.text(11)?,
        voucherlink: r.text(12)?,
        remarks: r.text(13)?,
        extras_json: r.text(14)?,
        provider: r.text(15)?,
        recheck_at_ms: r.opt_int(16)?,
        created_at_ms: r.int(17)?,
        updated_at_ms: r.int(18)?,
    })
}

/// The columns of [`provider`].
#[macro_export]
macro_rules! provider_columns {
    () => {
        "id, name, kind, base_url, auth_url, ref_prefix, secrets_sealed, timeout_ms, enabled, created_at_ms, \
         updated_at_ms, low_balance_minor, codes_json"
    };
}

pub fn provider<R: Columns>(r: &R) -> Result<ProviderRow, R::Error> {
    Ok(ProviderRow {
        id: ProviderId::new(r.int(0)?),
        name: r.text(1)?,
        kind: ProviderKind::parse(&r.text(2)?).expect("kind constrained by CHECK"),
        base_url: r.text(3)?,
        auth_url: r.text(4)?,
        ref_prefix: r.text(5)?,
        secrets_sealed: r.bytes(6)?,
        timeout_ms: r.int(7)?,
        enabled: r.flag(8)?,
        created_at_ms: r.int(9)?,
        updated_at_ms: r.int(10)?,
        low_balance: r.opt_int(11)?.map(Amount::from_minor),
        codes_json: r.text(12)?,
    })
}

/// The columns of [`route`].
#[macro_export]
macro_rules! route_columns {
    () => {
        "product, provider_id, upstream_product, priority, weight, buy_price_minor"
    };
}

pub fn route<R: Columns>(r: &R) -> Result<RouteRow, R::Error> {
    Ok(RouteRow {
        product: r.text(0)?,
        provider_id: ProviderId::new(r.int(1)?),
        upstream_product: r.text(2)?,
        priority: r.int(3)? as u32,
        weight: r.int(4)? as u32,
        buy_price: r.opt_int(5)?.map(Amount::from_minor),
    })
}

/// The columns of [`attempt`].
#[macro_export]
macro_rules! attempt_columns {
    () => {
        "order_id, attempt, provider_id, upstream_ref, upstream_product, sent_at_ms, outcome, upstream_code, \
         answer_excerpt, answered_at_ms, cost_minor"
    };
}

pub fn attempt<R: Columns>(r: &R) -> Result<AttemptRow, R::Error> {
    Ok(AttemptRow {
        order_id: OrderId::new(r.int(0)?),
        attempt: r.int(1)? as u32,
        provider_id: ProviderId::new(r.int(2)?),
        upstream_ref: r.text(3)?,
        upstream_product: r.text(4)?,
        sent_at_ms: r.int(5)?,
        outcome: AttemptOutcome::parse(&r.text(6)?).expect("outcome constrained by CHECK"),
        upstream_code: r.text(7)?,
        answer_excerpt: r.text(8)?,
        answered_at_ms: r.opt_int(9)?,
        cost: r.opt_int(10)?.map(Amount::from_minor),
    })
}

/// The columns of [`callback`].
#[macro_export]
macro_rules! callback_columns {
    () => {
        "id, merchant_id, kind, order_id, status, balance_minor, created_at_ms, attempts, state"
    };
}

pub fn callback<R: Columns>(r: &R) -> Result<CallbackRow, R::Error> {
    Ok(CallbackRow {
        id: CallbackId::new(r.int(0)?),
        merchant_id: MerchantId::new(r.int(1)?),
        kind: CallbackKind::parse(&r.text(2)?).expect("kind constrained by CHECK"),
        order_id: r.opt_int(3)?.map(OrderId::new),
        status: r.opt_status(4)?,
        balance: Amount::from_minor(r.int(5)?),
        created_at_ms: r.int(6)?,
        attempts: r.int(7)? as u32,
        state: r.text(8)?,
    })
}

/// The columns of [`callback_attempt`].
#[macro_export]
macro_rules! callback_attempt_columns {
    () => {
        "callback_id, attempt, at_ms, url, http_status, latency_ms, error, response_excerpt"
    };
}

pub fn callback_attempt<R: Columns>(r: &R) -> Result<CallbackAttempt, R::Error> {
    Ok(CallbackAttempt {
        callback_id: CallbackId::new(r.int(0)?),
        attempt: r.int(1)? as u32,
        at_ms: r.int(2)?,
        url: r.text(3)?,
        http_status: r.opt_int(4)?.map(|s| s as u16),
        latency_ms: r.int(5)?,
        error: r.text(6)?,
        response_excerpt: r.text(7)?,
    })
}

/// `SELECT` of [`dispute`] rows; append a `WHERE`.
#[macro_export]
macro_rules! dispute_select {
    () => {
        "SELECT d.id, d.merchant_id, d.order_id, o.refid, d.emails, d.state, d.resolution, d.created_at_ms, \
         d.resolved_at_ms FROM disputes d JOIN orders o ON o.id = d.order_id"
    };
}

pub fn dispute<R: Columns>(r: &R) -> Result<DisputeRow, R::Error> {
    Ok(DisputeRow {
        id: DisputeId::new(r.int(0)?),
        merchant_id: MerchantId::new(r.int(1)?),
        order_id: OrderId::new(r.int(2)?),
        refid: r.text(3)?,
        emails: r.text(4)?,
        state: r.text(5)?,
        resolution: r.text(6)?,
        created_at_ms: r.int(7)?,
        resolved_at_ms: r.opt_int(8)?,
    })
}

/// The columns of [`statement_entry`], from `transfers t LEFT JOIN orders o ON o.id = t.order_id`.
#[macro_export]
macro_rules! statement_columns {
    () => {
        "t.id, t.created_at_ms, t.kind, CASE WHEN t.kind = 'HOLD' THEN -t.amount_minor ELSE t.amount_minor END, \
         t.wallet_balance_after_minor, t.remarks, o.refid, o.product, t.wallet_seq, t.wallet_hash"
    };
}

pub fn statement_entry<R: Columns>(r: &R) -> Result<StatementEntry, R::Error> {
    Ok(StatementEntry {
        transfer_id: TransferId::new(r.int(0)?),
        at_ms: r.int(1)?,
        kind: TransferKind::parse(&r.text(2)?).expect("kind constrained by CHECK"),
        amount: Amount::from_minor(r.int(3)?),
        balance_after: Amount::from_minor(r.int(4)?),
        remarks: r.text(5)?,
        refid: r.opt_text(6)?,
        product: r.opt_text(7)?,
        chain: match r.opt_int(8)? {
            Some(seq) => Some(Head::stored(seq, r.bytes(9)?)),
            None => None,
        },
    })
}

/// `SELECT` of [`chain_row`] rows (every wallet entry with what its hash
/// covers); append `AND …` and an `ORDER BY`.
#[macro_export]
macro_rules! chain_select {
    () => {
        "SELECT t.id, t.wallet_account, t.wallet_seq, t.wallet_hash, t.created_at_ms, t.kind, t.amount_minor, \
         t.wallet_balance_after_minor, COALESCE(o.refid, '') \
         FROM transfers t LEFT JOIN orders o ON o.id = t.order_id WHERE t.wallet_account IS NOT NULL"
    };
}

pub fn chain_row<R: Columns>(r: &R) -> Result<ChainRow, R::Error> {
    Ok(ChainRow {
        transfer_id: TransferId::new(r.int(0)?),
        wallet: AccountId::new(r.int(1)?),
        seq: r.opt_int(2)?,
        hash: r.opt_bytes(3)?,
        at_ms: r.int(4)?,
        kind: TransferKind::parse(&r.text(5)?).expect("kind constrained by CHECK"),
        amount: Amount::from_minor(r.int(6)?),
        balance_after: Amount::from_minor(r.opt_int(7)?.unwrap_or(0)),
        refid: r.text(8)?,
    })
}

/// A daily summary row: `day, product, count, amount sum, cost sum`.
pub fn summary<R: Columns>(r: &R) -> Result<SummaryRow, R::Error> {
    Ok(SummaryRow {
        day: r.int(0)?,
        product: r.text(1)?,
        count: r.int(2)? as u64,
        amount: Amount::from_minor(r.int(3)?),
        cost: Amount::from_minor(r.int(4)?),
    })
}

/// Order totals: count, amount sum, cost sum, then the counts of the
/// successful, pending, failed and refund groups, then amount and cost sums
/// of the successful orders.
pub fn order_totals<R: Columns>(r: &R) -> Result<OrderTotals, R::Error> {
    Ok(OrderTotals {
        count: r.int(0)? as u64,
        amount: Amount::from_minor(r.int(1)?),
        cost: Amount::from_minor(r.int(2)?),
        successful: r.int(3)? as u64,
        pending: r.int(4)? as u64,
        failed: r.int(5)? as u64,
        refund: r.int(6)? as u64,
        successful_amount: Amount::from_minor(r.int(7)?),
        successful_cost: Amount::from_minor(r.int(8)?),
    })
}

/// A cost-of-goods row: `product, provider_id, count, sales sum, cost sum, uncosted count`.
pub fn cost_of_goods<R: Columns>(r: &R) -> Result<CostOfGoodsRow, R::Error> {
    Ok(CostOfGoodsRow {
        product: r.text(0)?,
        provider_id: ProviderId::new(r.int(1)?),
        count: r.int(2)? as u64,
        sales: Amount::from_minor(r.int(3)?),
        cost_of_goods: Amount::from_minor(r.int(4)?),
        uncosted: r.int(5)? as u64,
    })
}

/// The `WHERE` condition of a status group of the transaction listing (the
/// same text in both dialects).
pub fn status_group_sql(g: StatusGroup) -> &'static str {
    match g {
        StatusGroup::Successful => "status = 20",
        StatusGroup::Pending => "status IN (0, 1)",
        StatusGroup::Failed => "(status >= 40 AND status <> 53)",
        StatusGroup::Refund => "status = 53",
    }
}

/// A value bound to a filter's placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterValue {
    Int(i64),
    Text(String),
}

/// The `WHERE` condition and bound values of an order listing.
/// `placeholder(n)` writes the dialect's n-th placeholder (1-based).
pub fn order_filter(q: &OrderQuery, placeholder: impl Fn(usize) -> String) -> (String, Vec<FilterValue>) {
    let mut values = vec![FilterValue::Int(q.merchant_id.get())];
    let mut clauses = vec![format!("merchant_id = {}", placeholder(1))];
    let mut bind = |clause: &str, value: FilterValue, values: &mut Vec<FilterValue>| {
        values.push(value);
        clauses.push(format!("{clause} {}", placeholder(values.len())));
    };
    if let Some(from) = q.from_ms {
        bind("created_at_ms >=", FilterValue::Int(from), &mut values);
    }
    if let Some(to) = q.to_ms {
        bind("created_at_ms <", FilterValue::Int(to), &mut values);
    }
    for (field, value) in [("account", &q.account), ("product", &q.product), ("refid", &q.refid), ("sn", &q.sn)] {
        if let Some(v) = value {
            bind(&format!("{field} ="), FilterValue::Text(v.clone()), &mut values);
        }
    }
    if !q.statuses.is_empty() {
        let groups: Vec<&str> = q.statuses.iter().map(|g| status_group_sql(*g)).collect();
        clauses.push(format!("({})", groups.join(" OR ")));
    }
    (clauses.join(" AND "), values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_filter_numbers_its_placeholders_in_binding_order() {
        let q = OrderQuery {
            merchant_id: MerchantId::new(7),
            to_ms: Some(9),
            product: Some("D".into()),
            statuses: vec![StatusGroup::Pending, StatusGroup::Refund],
            ..OrderQuery::default()
        };
        let (sql, values) = order_filter(&q, |n| format!("${n}"));
        assert_eq!(
            sql,
            "merchant_id = $1 AND created_at_ms < $2 AND product = $3 AND (status IN (0, 1) OR status = 53)"
        );
        assert_eq!(values, vec![FilterValue::Int(7), FilterValue::Int(9), FilterValue::Text("D".into())]);
        let (sql, _) = order_filter(&q, |_| "?".into());
        assert!(sql.starts_with("merchant_id = ? AND created_at_ms < ?"));
    }
}
