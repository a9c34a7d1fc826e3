//! The fixtures every contract check shares: the `block` executor, the
//! error expectations, and the rows, merchants, orders, transfers and books
//! the checks build their scenarios from.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tambah_domain::chain::{Entry, Head};
use tambah_domain::{AccountId, Amount, Environment, MerchantId, OrderId, StatusCode, TransferId};
use tambah_store::{
    AccountState, Check, MerchantRow, NewMerchant, NewTransfer, OrderRow, OrderUpdate, Result, Store, StoreError,
    SystemAccounts, TransferKind, Writer,
};

pub(crate) const T0: i64 = 1_700_000_000_000;

/// Waits for a store future on this thread (the contract is written as
/// plain sequential code; a backend's futures must not need the caller's
/// runtime to make progress).
pub fn block<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

pub(crate) fn must<T>(what: &str, r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: unexpected error: {e}"))
}

pub(crate) fn expect_unique<T: Debug>(what: &str, r: Result<T>) {
    match r {
        Err(StoreError::Unique(_)) => {}
        other => panic!("{what}: expected StoreError::Unique, got {other:?}"),
    }
}

pub(crate) fn expect_constraint<T: Debug>(what: &str, r: Result<T>) {
    match r {
        Err(StoreError::Constraint(_)) => {}
        other => panic!("{what}: expected StoreError::Constraint, got {other:?}"),
    }
}

pub(crate) fn new_merchant(environment: Environment, username: &str) -> NewMerchant {
    NewMerchant {
        name: format!("Kedai {username}"),
        environment,
        level: "gold".to_owned(),
        api_version: "2024-01".to_owned(),
        username: username.to_owned(),
        password_hash: format!("$argon2id$v=19$hash-of-{username}"),
        created_at_ms: T0,
    }
}

pub fn create(store: &dyn Store, environment: Environment, username: &str) -> MerchantRow {
    must(&format!("create_merchant({username})"), block(store.create_merchant(&new_merchant(environment, username))))
}

pub(crate) fn writer(store: &dyn Store) -> Box<dyn Writer> {
    must("Store::writer", store.writer())
}

pub(crate) fn systems(store: &dyn Store, environment: Environment) -> SystemAccounts {
    must("system_accounts", block(store.system_accounts(environment)))
}

/// A plain order row: the fields the engine fills at acceptance.
pub fn order(merchant_id: MerchantId, refid: &str, status: StatusCode, cost: Amount, created_at_ms: i64) -> OrderRow {
    OrderRow {
        id: OrderId::new(0),
        merchant_id,
        refid: refid.to_owned(),
        product: "HI10".to_owned(),
        account: "0123456789".to_owned(),
        amount: Amount::from_rm(10),
        cost,
        status,
        sn: String::new(),
        pin: String::new(),
        expiry: String::new(),
        note: String::new(),
        voucherlink: String::new(),
        remarks: String::new(),
        extras_json: "{}".to_owned(),
        provider: String::new(),
        recheck_at_ms: None,
        created_at_ms,
        updated_at_ms: created_at_ms,
    }
}

/// An order row with every field set to something worth round-tripping.
pub(crate) fn rich_order(merchant_id: MerchantId, refid: &str, recheck_at_ms: Option<i64>) -> OrderRow {
    OrderRow {
        id: OrderId::new(0),
        merchant_id,
        refid: refid.to_owned(),
        product: "CELCOM-RM30".to_owned(),
        account: "+60 12-345 6789".to_owned(),
        amount: Amount::from_rm(30),
        cost: Amount::from_minor(291_000),
        status: StatusCode::PROCESSING,
        sn: "SN'1\"2;--".to_owned(),
        pin: "1234-5678-9012".to_owned(),
        expiry: "2031-12-31".to_owned(),
        note: "line one\nline two\ttabbed".to_owned(),
        voucherlink: "https://example.com/v?a=1&b=2".to_owned(),
        remarks: "Tambah nilai — 充值 ✓ ñ 🚀 \u{0301}".to_owned(),
        extras_json: r#"{"ü":"x","list":[1,2,3],"nested":{"k":null}}"#.to_owned(),
        provider: "sim-a".to_owned(),
        recheck_at_ms,
        created_at_ms: T0 + 7,
        updated_at_ms: T0 + 9,
    }
}

pub(crate) fn insert(w: &mut dyn Writer, row: &OrderRow) -> OrderRow {
    let id = must(&format!("insert_order({})", row.refid), w.insert_order(row));
    OrderRow { id, ..row.clone() }
}

pub(crate) fn new_transfer(
    kind: TransferKind,
    debit_account: AccountId,
    credit_account: AccountId,
    amount: Amount,
    order_id: Option<OrderId>,
    pending_id: Option<TransferId>,
) -> NewTransfer {
    NewTransfer {
        kind,
        debit_account,
        credit_account,
        amount,
        order_id,
        pending_id,
        remarks: format!("contract {}", kind.as_str()),
        created_at_ms: T0,
        wallet_balance_after: None,
        // A wallet entry must carry a chain entry (the store refuses one
        // without); checks that write one directly get a placeholder, and
        // `Books::transfer` the real one.
        chain: (kind != TransferKind::Post).then_some(Head::EMPTY),
    }
}

/// `a + b`: the contract's sums stay within a few hundred ringgit, far inside `i64`.
pub(crate) fn plus(a: Amount, b: Amount) -> Amount {
    a.checked_add(b).expect("contract amounts stay far inside i64")
}

/// `a - b`: the contract's sums stay within a few hundred ringgit, far inside `i64`.
pub(crate) fn minus(a: Amount, b: Amount) -> Amount {
    a.checked_sub(b).expect("contract amounts stay far inside i64")
}

/// The balances of one open transaction, kept the way the engine keeps them:
/// read with `lock_balances`, moved by transfers, written with `set_balance`.
pub(crate) struct Books {
    accounts: HashMap<AccountId, AccountState>,
}

impl Books {
    pub(crate) fn open(w: &mut dyn Writer, accounts: &[AccountId]) -> Books {
        let mut ids = accounts.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let locked = must("lock_balances", w.lock_balances(&ids));
        let got: Vec<AccountId> = locked.iter().map(|(id, _)| *id).collect();
        assert_eq!(got, ids, "lock_balances returns one (id, balance) pair per id, in the order given");
        Books { accounts: locked.into_iter().collect() }
    }

    /// Writes a transfer with the balance of its wallet after it and the
    /// wallet's next chain entry, as the engine's ledger does.
    pub(crate) fn transfer(&mut self, w: &mut dyn Writer, t: &NewTransfer) -> TransferId {
        let debit = self.accounts.get_mut(&t.debit_account).expect("debit account was locked");
        debit.balance = minus(debit.balance, t.amount);
        let credit = self.accounts.get_mut(&t.credit_account).expect("credit account was locked");
        credit.balance = plus(credit.balance, t.amount);
        let refid = match t.order_id {
            Some(id) => must("get_order", w.get_order(id)).expect("the transfer's order exists").refid,
            None => String::new(),
        };
        let mut t = t.clone();
        if let Some(wallet) = t.wallet_account() {
            let state = self.accounts.get_mut(&wallet).expect("wallet was locked");
            let signed = if t.kind == TransferKind::Hold { -t.amount.minor() } else { t.amount.minor() };
            let entry = Entry {
                seq: state.head.seq + 1,
                at_ms: t.created_at_ms,
                kind: t.kind.as_str(),
                amount_minor: signed,
                balance_minor: state.balance.minor(),
                refid: &refid,
            };
            (state.head, state.head_at_ms) = (entry.append_to(&state.head), t.created_at_ms);
            (t.wallet_balance_after, t.chain) = (Some(state.balance), Some(state.head));
        }
        must(&format!("insert_transfer({})", t.kind.as_str()), w.insert_transfer(&t))
    }

    pub(crate) fn flush(&self, w: &mut dyn Writer) {
        let mut ids: Vec<AccountId> = self.accounts.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            must(&format!("set_balance({id})"), w.set_balance(id, &self.accounts[&id]));
        }
    }
}

/// Deposits `amount` into `wallet` in a transaction of its own.
pub(crate) fn deposit(store: &dyn Store, environment: Environment, wallet: AccountId, amount: Amount) {
    let s = systems(store, environment);
    let mut w = writer(store);
    must("begin", w.begin());
    let mut books = Books::open(w.as_mut(), &[wallet, s.funding, s.holds, s.revenue]);
    books.transfer(w.as_mut(), &new_transfer(TransferKind::Deposit, s.funding, wallet, amount, None, None));
    books.flush(w.as_mut());
    must("commit (deposit)", w.commit());
}

pub(crate) fn balance(store: &dyn Store, account: AccountId) -> Amount {
    must(&format!("balance({account})"), block(store.balance(account)))
}

pub(crate) fn assert_verified(store: &dyn Store, when: &str) {
    let checks: Vec<Check> = must("verify", block(store.verify()));
    assert!(!checks.is_empty(), "verify ({when}): returned no checks at all");
    let broken: Vec<String> =
        checks.iter().filter(|c| !c.violations.is_empty()).map(|c| format!("{}: {:?}", c.name, c.violations)).collect();
    assert!(broken.is_empty(), "verify ({when}): expected no violations, got {broken:#?}");
}

pub(crate) fn set_order_status(w: &mut dyn Writer, order: &OrderRow, status: StatusCode) {
    must(
        &format!("update_order({}) to status {}", order.refid, status.code()),
        w.update_order(&OrderUpdate {
            id: order.id,
            status,
            sn: order.sn.clone(),
            pin: order.pin.clone(),
            expiry: order.expiry.clone(),
            note: order.note.clone(),
            voucherlink: order.voucherlink.clone(),
            provider: order.provider.clone(),
            recheck_at_ms: None,
            updated_at_ms: order.updated_at_ms + 1,
        }),
    );
}

pub(crate) fn merchant_now(store: &dyn Store, merchant_id: MerchantId) -> MerchantRow {
    must("merchant", block(store.merchant(merchant_id))).unwrap_or_else(|| panic!("merchant {merchant_id} exists"))
}

/// Inserts orders (as given, whatever their status) in one committed
/// transaction, without transfers.
pub(crate) fn insert_committed(store: &dyn Store, rows: &[OrderRow]) -> Vec<OrderRow> {
    let mut w = writer(store);
    must("begin", w.begin());
    let out = rows.iter().map(|r| insert(w.as_mut(), r)).collect();
    must("commit", w.commit());
    out
}
