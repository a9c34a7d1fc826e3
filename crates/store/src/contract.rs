//! The store contract: the behaviour every `Store` / `Writer` backend must
//! show, as plain functions that panic with a message naming the broken
//! promise. Each backend's tests call [`run_all`] with a function that opens a
//! fresh, empty, migrated store; a single check can be called on its own
//! while debugging.
//!
//! The checks only use the traits, so they hold for any backend. Writes that
//! are expected to fail inside a transaction are wrapped in a savepoint and
//! rolled back to it, as the engine does, so that backends whose transactions
//! are poisoned by a failed statement (PostgreSQL) pass as well.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tambah_domain::Environment;

use crate::{
    ApiKeyRow, CallbackAttempt, CallbackKind, CallbackNext, CallbackRow, CallbackSecrets, Check, Claim, DisputeRow,
    Inserted, LowBalanceWatch, MerchantRow, MerchantSettings, Movements, NewCallback, NewMerchant, NewTransfer,
    OrderQuery, OrderRow, OrderTotals, OrderTransfers, OrderUpdate, Result, StatementEntry, StatementQuery,
    StatusGroup, Store, StoreError, SummaryRow, SystemAccounts, TokenKind, TokenRow, TransferKind, UserRow, Writer,
};

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

/// One contract check, run against a fresh store.
pub type ContractCheck = fn(&dyn Store);

/// Every check, by name, in the order [`run_all`] runs them.
pub const CHECKS: &[(&str, ContractCheck)] = &[
    ("merchants", merchants),
    ("merchant_settings", merchant_settings),
    ("system_accounts", system_accounts),
    ("api_keys", api_keys),
    ("users_and_tokens", users_and_tokens),
    ("writer_orders", writer_orders),
    ("savepoints", savepoints),
    ("ledger_deposit", ledger_deposit),
    ("ledger_hold_post", ledger_hold_post),
    ("ledger_constraints", ledger_constraints),
    ("lock_balances_order", lock_balances_order),
    ("claim_due_orders", claim_due_orders),
    ("insert_order_with_transfers", insert_order_with_transfers),
    ("nonces", nonces),
    ("ping", ping),
    ("verify_fresh", verify_fresh),
    ("verify_consistent_sequence", verify_consistent_sequence),
    ("verify_detects_drift", verify_detects_drift),
    ("callback_settings", callback_settings),
    ("low_balance_watch", low_balance_watch),
    ("callback_outbox", callback_outbox),
    ("claim_due_callbacks", claim_due_callbacks),
    ("callback_attempts", callback_attempts),
    ("order_by_id", order_by_id),
    ("orders_with_refid", orders_with_refid),
    ("combined_lookups", combined_lookups),
    ("list_orders", list_orders),
    ("statement", statement),
    ("movements", movements),
    ("daily_summary", daily_summary),
    ("disputes", disputes),
];

/// Runs every check, each on a store freshly returned by `open` (empty and
/// migrated), and panics naming the checks that failed.
pub fn run_all(open: &dyn Fn() -> Box<dyn Store>) {
    let mut failed = Vec::new();
    for (name, check) in CHECKS {
        let store = open();
        let outcome = catch_unwind(AssertUnwindSafe(|| check(store.as_ref())));
        drop(store);
        if outcome.is_err() {
            failed.push(*name);
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} store contract checks failed: {} (their panic messages are above)",
        failed.len(),
        CHECKS.len(),
        failed.join(", ")
    );
}

// ---- helpers ----

const T0: i64 = 1_700_000_000_000;

fn must<T>(what: &str, r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: unexpected error: {e}"))
}

fn expect_unique<T: Debug>(what: &str, r: Result<T>) {
    match r {
        Err(StoreError::Unique(_)) => {}
        other => panic!("{what}: expected StoreError::Unique, got {other:?}"),
    }
}

fn expect_constraint<T: Debug>(what: &str, r: Result<T>) {
    match r {
        Err(StoreError::Constraint(_)) => {}
        other => panic!("{what}: expected StoreError::Constraint, got {other:?}"),
    }
}

fn new_merchant(environment: Environment, username: &str) -> NewMerchant {
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

fn create(store: &dyn Store, environment: Environment, username: &str) -> MerchantRow {
    must(&format!("create_merchant({username})"), block(store.create_merchant(&new_merchant(environment, username))))
}

fn writer(store: &dyn Store) -> Box<dyn Writer> {
    must("Store::writer", store.writer())
}

fn systems(store: &dyn Store, environment: Environment) -> SystemAccounts {
    must("system_accounts", block(store.system_accounts(environment)))
}

/// A plain order row: the fields the engine fills at acceptance.
fn order(merchant_id: i64, refid: &str, status: u8, cost_minor: i64, created_at_ms: i64) -> OrderRow {
    OrderRow {
        id: 0,
        merchant_id,
        refid: refid.to_owned(),
        product: "HI10".to_owned(),
        account: "0123456789".to_owned(),
        amount_minor: 100_000,
        cost_minor,
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
fn rich_order(merchant_id: i64, refid: &str, recheck_at_ms: Option<i64>) -> OrderRow {
    OrderRow {
        id: 0,
        merchant_id,
        refid: refid.to_owned(),
        product: "CELCOM-RM30".to_owned(),
        account: "+60 12-345 6789".to_owned(),
        amount_minor: 300_000,
        cost_minor: 291_000,
        status: 1,
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

fn insert(w: &mut dyn Writer, row: &OrderRow) -> OrderRow {
    let id = must(&format!("insert_order({})", row.refid), w.insert_order(row));
    OrderRow { id, ..row.clone() }
}

fn new_transfer(
    kind: TransferKind,
    debit_account: i64,
    credit_account: i64,
    amount_minor: i64,
    order_id: Option<i64>,
    pending_id: Option<i64>,
) -> NewTransfer {
    NewTransfer {
        kind,
        debit_account,
        credit_account,
        amount_minor,
        order_id,
        pending_id,
        remarks: format!("contract {}", kind.as_str()),
        created_at_ms: T0,
        wallet_balance_after_minor: None,
    }
}

/// The balances of one open transaction, kept the way the engine keeps them:
/// read with `lock_balances`, moved by transfers, written with `set_balance`.
struct Books {
    balances: HashMap<i64, i64>,
}

impl Books {
    fn open(w: &mut dyn Writer, accounts: &[i64]) -> Books {
        let mut ids = accounts.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let locked = must("lock_balances", w.lock_balances(&ids));
        let got: Vec<i64> = locked.iter().map(|(id, _)| *id).collect();
        assert_eq!(got, ids, "lock_balances returns one (id, balance) pair per id, in the order given");
        Books { balances: locked.into_iter().collect() }
    }

    /// Writes a transfer with the balance of its wallet after it, as the
    /// engine's ledger does.
    fn transfer(&mut self, w: &mut dyn Writer, t: &NewTransfer) -> i64 {
        *self.balances.get_mut(&t.debit_account).expect("debit account was locked") -= t.amount_minor;
        *self.balances.get_mut(&t.credit_account).expect("credit account was locked") += t.amount_minor;
        let t = NewTransfer { wallet_balance_after_minor: t.wallet_account().map(|a| self.balances[&a]), ..t.clone() };
        must(&format!("insert_transfer({})", t.kind.as_str()), w.insert_transfer(&t))
    }

    fn flush(&self, w: &mut dyn Writer) {
        let mut ids: Vec<i64> = self.balances.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            must(&format!("set_balance({id})"), w.set_balance(id, self.balances[&id]));
        }
    }
}

/// Deposits `amount` into `wallet` in a transaction of its own.
fn deposit(store: &dyn Store, environment: Environment, wallet: i64, amount: i64) {
    let s = systems(store, environment);
    let mut w = writer(store);
    must("begin", w.begin());
    let mut books = Books::open(w.as_mut(), &[wallet, s.funding, s.holds, s.revenue]);
    books.transfer(w.as_mut(), &new_transfer(TransferKind::Deposit, s.funding, wallet, amount, None, None));
    books.flush(w.as_mut());
    must("commit (deposit)", w.commit());
}

fn balance(store: &dyn Store, account: i64) -> i64 {
    must(&format!("balance({account})"), block(store.balance(account)))
}

fn assert_verified(store: &dyn Store, when: &str) {
    let checks: Vec<Check> = must("verify", block(store.verify()));
    assert!(!checks.is_empty(), "verify ({when}): returned no checks at all");
    let broken: Vec<String> =
        checks.iter().filter(|c| !c.violations.is_empty()).map(|c| format!("{}: {:?}", c.name, c.violations)).collect();
    assert!(broken.is_empty(), "verify ({when}): expected no violations, got {broken:#?}");
}

fn set_order_status(w: &mut dyn Writer, order: &OrderRow, status: u8) {
    must(
        &format!("update_order({}) to status {status}", order.refid),
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

// ---- the checks ----

/// create_merchant, the merchant and user look-ups, and username uniqueness.
pub fn merchants(store: &dyn Store) {
    assert_eq!(must("merchant_count", block(store.merchant_count())), 0, "a fresh store has no merchants");
    let alice = create(store, Environment::Staging, "alice");
    let bob = create(store, Environment::Live, "bob");

    for (m, env, username) in [(&alice, Environment::Staging, "alice"), (&bob, Environment::Live, "bob")] {
        let expected = new_merchant(env, username);
        assert_eq!(m.name, expected.name, "create_merchant keeps the name");
        assert_eq!(m.environment, env, "create_merchant keeps the environment");
        assert_eq!(m.level, expected.level, "create_merchant keeps the level");
        assert_eq!(m.api_version, expected.api_version, "create_merchant keeps the api version");
        assert_eq!(m.created_at_ms, expected.created_at_ms, "create_merchant keeps created_at_ms");
        assert_eq!(m.access, 0, "a new merchant has full access (0)");
        assert!(!m.suspended, "a new merchant is not suspended");
        assert!(!m.account.is_empty(), "a new merchant has an account number");
        assert_eq!(balance(store, m.wallet_id), 0, "a new merchant's wallet starts at 0");
        assert_eq!(
            must("merchant", block(store.merchant(m.id))).as_ref(),
            Some(m),
            "merchant(id) returns the row create_merchant returned"
        );
        assert_eq!(
            must("merchant_by_account", block(store.merchant_by_account(&m.account))).as_ref(),
            Some(m),
            "merchant_by_account returns the row create_merchant returned"
        );
        let user = must("user_by_username", block(store.user_by_username(username)))
            .unwrap_or_else(|| panic!("create_merchant creates user {username}"));
        assert_eq!(
            user,
            UserRow {
                id: user.id,
                merchant_id: m.id,
                username: username.to_owned(),
                password_hash: expected.password_hash.clone(),
            },
            "the merchant's user keeps its merchant, username and password hash"
        );
        assert_eq!(
            must("user", block(store.user(user.id))),
            Some(user),
            "user(id) returns the same row as user_by_username"
        );
    }

    assert_ne!(alice.id, bob.id, "merchant ids are distinct");
    assert_ne!(alice.account, bob.account, "account numbers are distinct");
    assert_ne!(alice.wallet_id, bob.wallet_id, "wallets are distinct");
    for env in [Environment::Staging, Environment::Live] {
        let s = systems(store, env);
        for wallet in [alice.wallet_id, bob.wallet_id] {
            assert!(![s.funding, s.holds, s.revenue].contains(&wallet), "a wallet is never a system account");
        }
    }
    assert_eq!(must("merchant_count", block(store.merchant_count())), 2, "merchant_count counts created merchants");

    let unknown = alice.id.max(bob.id) + 1000;
    assert_eq!(must("merchant", block(store.merchant(unknown))), None, "merchant of an unknown id is None");
    assert_eq!(
        must("merchant_by_account", block(store.merchant_by_account("no-such-account"))),
        None,
        "merchant_by_account of an unknown account is None"
    );
    assert_eq!(
        must("user_by_username", block(store.user_by_username("nobody"))),
        None,
        "user_by_username of an unknown username is None"
    );

    let mut again = new_merchant(Environment::Live, "alice");
    again.name = "Another alice".to_owned();
    expect_unique("create_merchant with a username already taken", block(store.create_merchant(&again)));
    assert_eq!(
        must("merchant_count", block(store.merchant_count())),
        2,
        "a refused create_merchant leaves no merchant behind"
    );
    let user = must("user_by_username", block(store.user_by_username("alice"))).expect("alice");
    assert_eq!(user.merchant_id, alice.id, "a refused create_merchant leaves the existing user alone");

    must("set_password_hash", block(store.set_password_hash(user.id, "$argon2id$new")));
    assert_eq!(
        must("user", block(store.user(user.id))).map(|u| u.password_hash),
        Some("$argon2id$new".to_owned()),
        "set_password_hash changes the hash"
    );
    let bob_user = must("user_by_username", block(store.user_by_username("bob"))).expect("bob");
    assert_eq!(
        bob_user.password_hash,
        new_merchant(Environment::Live, "bob").password_hash,
        "set_password_hash changes only that user"
    );
}

/// Each environment has its own funding, holds and revenue accounts.
pub fn system_accounts(store: &dyn Store) {
    let staging = systems(store, Environment::Staging);
    let live = systems(store, Environment::Live);
    assert_ne!(staging, live, "staging and live have different system accounts");
    let mut ids = vec![staging.funding, staging.holds, staging.revenue, live.funding, live.holds, live.revenue];
    for id in &ids {
        assert_eq!(balance(store, *id), 0, "system account {id} starts at 0");
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6, "all six system accounts are distinct: {staging:?} {live:?}");
    assert_eq!(systems(store, Environment::Staging), staging, "system_accounts is stable");
}

/// API keys round-trip with their sealed secret intact and can be revoked.
pub fn api_keys(store: &dyn Store) {
    let m = create(store, Environment::Staging, "keys");
    let mut sealed: Vec<u8> = (0..=255u8).collect();
    sealed.extend_from_slice(&[0, 0, 0xff, 0xfe, 0x80]);
    let key = ApiKeyRow { key_id: "tbh_test_k1".to_owned(), merchant_id: m.id, secret_sealed: sealed, revoked: false };
    let other =
        ApiKeyRow { key_id: "tbh_test_k2".to_owned(), merchant_id: m.id, secret_sealed: vec![0; 48], revoked: false };
    must("insert_api_key", block(store.insert_api_key(&key, T0)));
    must("insert_api_key", block(store.insert_api_key(&other, T0)));
    assert_eq!(
        must("api_key", block(store.api_key(&key.key_id))),
        Some(key.clone()),
        "api_key returns the inserted row, sealed bytes exactly preserved"
    );
    assert_eq!(must("api_key", block(store.api_key("tbh_test_unknown"))), None, "api_key of an unknown id is None");
    expect_unique("insert_api_key with an existing key id", block(store.insert_api_key(&other, T0)));

    assert!(
        must("revoke_api_key", block(store.revoke_api_key(&key.key_id))),
        "revoke_api_key of an existing key returns true"
    );
    assert_eq!(
        must("api_key", block(store.api_key(&key.key_id))),
        Some(ApiKeyRow { revoked: true, ..key.clone() }),
        "a revoked key reads back revoked, otherwise unchanged"
    );
    assert_eq!(
        must("api_key", block(store.api_key(&other.key_id))),
        Some(other),
        "revoking one key leaves the others alone"
    );
    assert!(
        !must("revoke_api_key", block(store.revoke_api_key("tbh_test_unknown"))),
        "revoke_api_key of an unknown key returns false"
    );
}

/// Tokens round-trip; revoke_user_tokens revokes only that user's tokens.
pub fn users_and_tokens(store: &dyn Store) {
    let a = create(store, Environment::Staging, "tok-a");
    let b = create(store, Environment::Staging, "tok-b");
    let ua = must("user_by_username", block(store.user_by_username("tok-a"))).expect("user a");
    let ub = must("user_by_username", block(store.user_by_username("tok-b"))).expect("user b");
    let token = |hash: &str, kind: TokenKind, m: &MerchantRow, u: &UserRow| TokenRow {
        token_hash: hash.to_owned(),
        kind,
        merchant_id: m.id,
        user_id: u.id,
        expires_at_ms: T0 + 3_600_000,
        revoked: false,
    };
    let a_tokens = [
        token("aa01", TokenKind::Id, &a, &ua),
        token("aa02", TokenKind::Access, &a, &ua),
        token("aa03", TokenKind::Refresh, &a, &ua),
    ];
    let b_token = token("bb01", TokenKind::Access, &b, &ub);
    for t in a_tokens.iter().chain([&b_token]) {
        must("insert_token", block(store.insert_token(t, T0)));
        assert_eq!(
            must("token", block(store.token(&t.token_hash))).as_ref(),
            Some(t),
            "token returns the inserted row ({:?})",
            t.kind
        );
    }
    assert_eq!(must("token", block(store.token("ffff"))), None, "token of an unknown hash is None");
    expect_unique("insert_token with an existing hash", block(store.insert_token(&b_token, T0)));

    must("revoke_user_tokens", block(store.revoke_user_tokens(ua.id)));
    for t in &a_tokens {
        assert_eq!(
            must("token", block(store.token(&t.token_hash))),
            Some(TokenRow { revoked: true, ..t.clone() }),
            "revoke_user_tokens revokes every token of the user"
        );
    }
    assert_eq!(
        must("token", block(store.token(&b_token.token_hash))),
        Some(b_token),
        "revoke_user_tokens leaves other users' tokens alone"
    );
}

/// Orders written through a Writer: visibility, uniqueness, updates, rollback.
pub fn writer_orders(store: &dyn Store) {
    let m1 = create(store, Environment::Staging, "ord-1");
    let m2 = create(store, Environment::Staging, "ord-2");
    let mut w = writer(store);

    must("begin", w.begin());
    let mut with_recheck = rich_order(m1.id, "R1", Some(T0 + 60_000));
    with_recheck.id = 987_654; // ignored by insert_order
    let r1 = insert(w.as_mut(), &with_recheck);
    let r2 = insert(w.as_mut(), &rich_order(m1.id, "R2", None));
    assert_ne!(r1.id, r2.id, "insert_order returns distinct ids");
    for row in [&r1, &r2] {
        assert_eq!(
            must("get_order", w.get_order(row.id)).as_ref(),
            Some(row),
            "get_order sees an order inserted earlier in the same transaction, every field preserved"
        );
        assert_eq!(
            must("find_order", w.find_order(m1.id, &row.refid)).as_ref(),
            Some(row),
            "find_order sees an order inserted earlier in the same transaction, every field preserved"
        );
    }
    assert_eq!(must("find_order", w.find_order(m1.id, "nope")), None, "find_order of an unknown refid is None");
    assert_eq!(must("find_order", w.find_order(m2.id, "R1")), None, "find_order is per merchant");
    assert_eq!(must("get_order", w.get_order(r1.id.max(r2.id) + 1000)), None, "get_order of an unknown id is None");
    assert_eq!(
        must("order_by_refid", block(store.order_by_refid(m1.id, "R1"))),
        None,
        "readers do not see an order before its transaction commits"
    );

    must("savepoint", w.savepoint());
    expect_unique("insert_order of a refid the merchant already has", w.insert_order(&order(m1.id, "R1", 0, 1, T0)));
    must("rollback_to_savepoint", w.rollback_to_savepoint());
    let other = insert(w.as_mut(), &rich_order(m2.id, "R1", None));
    assert_ne!(other.id, r1.id, "the same refid for another merchant is a new order");
    must("commit", w.commit());

    for row in [&r1, &r2, &other] {
        assert_eq!(
            must("order_by_refid", block(store.order_by_refid(row.merchant_id, &row.refid))).as_ref(),
            Some(row),
            "order_by_refid sees a committed order, every field preserved"
        );
    }

    // update_order changes the provider-facing fields and nothing else.
    must("begin", w.begin());
    let update = OrderUpdate {
        id: r1.id,
        status: 20,
        sn: "SN-9 ✓".to_owned(),
        pin: "9999".to_owned(),
        expiry: "2032-01-01".to_owned(),
        note: "delivered".to_owned(),
        voucherlink: "https://example.com/voucher/9".to_owned(),
        provider: "sim-b".to_owned(),
        recheck_at_ms: None,
        updated_at_ms: T0 + 99,
    };
    must("update_order", w.update_order(&update));
    let updated = OrderRow {
        status: update.status,
        sn: update.sn.clone(),
        pin: update.pin.clone(),
        expiry: update.expiry.clone(),
        note: update.note.clone(),
        voucherlink: update.voucherlink.clone(),
        provider: update.provider.clone(),
        recheck_at_ms: update.recheck_at_ms,
        updated_at_ms: update.updated_at_ms,
        ..r1.clone()
    };
    assert_eq!(
        must("get_order", w.get_order(r1.id)),
        Some(updated.clone()),
        "update_order changes status, sn, pin, expiry, note, voucherlink, provider, recheck_at_ms and updated_at_ms, and nothing else"
    );
    let rescheduled = OrderUpdate {
        id: r2.id,
        status: 1,
        recheck_at_ms: Some(T0 + 120_000),
        updated_at_ms: T0 + 100,
        sn: r2.sn.clone(),
        pin: r2.pin.clone(),
        expiry: r2.expiry.clone(),
        note: r2.note.clone(),
        voucherlink: r2.voucherlink.clone(),
        provider: r2.provider.clone(),
    };
    must("update_order", w.update_order(&rescheduled));
    let r2_after = OrderRow { recheck_at_ms: Some(T0 + 120_000), updated_at_ms: T0 + 100, ..r2.clone() };
    must("savepoint", w.savepoint());
    let missing = OrderUpdate { id: r1.id.max(r2.id).max(other.id) + 1000, ..update.clone() };
    assert!(w.update_order(&missing).is_err(), "update_order of an unknown order id is an error");
    must("rollback_to_savepoint", w.rollback_to_savepoint());
    must("commit", w.commit());
    assert_eq!(
        must("order_by_refid", block(store.order_by_refid(m1.id, "R1"))),
        Some(updated),
        "a committed update_order is visible to readers"
    );
    assert_eq!(
        must("order_by_refid", block(store.order_by_refid(m1.id, "R2"))),
        Some(r2_after),
        "update_order can set recheck_at_ms from None to Some"
    );

    // A rolled-back transaction leaves nothing behind, and the writer goes on.
    must("begin", w.begin());
    insert(w.as_mut(), &order(m1.id, "R3", 43, 0, T0));
    must("rollback", w.rollback());
    assert_eq!(
        must("order_by_refid", block(store.order_by_refid(m1.id, "R3"))),
        None,
        "an order of a rolled-back transaction is not visible"
    );
    must("begin", w.begin());
    assert_eq!(
        must("find_order", w.find_order(m1.id, "R3")),
        None,
        "an order of a rolled-back transaction is not visible to the writer either"
    );
    let r3 = insert(w.as_mut(), &order(m1.id, "R3", 43, 0, T0));
    must("commit", w.commit());
    assert_eq!(
        must("order_by_refid", block(store.order_by_refid(m1.id, "R3"))),
        Some(r3),
        "the refid of a rolled-back order is free, and the writer is usable after a rollback"
    );
}

/// rollback_to_savepoint undoes only the work since the savepoint (orders and
/// transfers alike); release_savepoint keeps it.
pub fn savepoints(store: &dyn Store) {
    let m = create(store, Environment::Staging, "sp");
    let s = systems(store, Environment::Staging);
    let mut w = writer(store);
    must("begin", w.begin());
    let books = Books::open(w.as_mut(), &[m.wallet_id, s.funding, s.holds, s.revenue]);
    let a = insert(w.as_mut(), &order(m.id, "A", 43, 0, T0));

    must("savepoint", w.savepoint());
    insert(w.as_mut(), &order(m.id, "B", 43, 0, T0));
    must(
        "insert_transfer",
        w.insert_transfer(&new_transfer(TransferKind::Deposit, s.funding, m.wallet_id, 500, None, None)),
    );
    must("rollback_to_savepoint", w.rollback_to_savepoint());
    assert_eq!(
        must("find_order", w.find_order(m.id, "B")),
        None,
        "rollback_to_savepoint removes the order inserted after the savepoint"
    );
    assert_eq!(
        must("find_order", w.find_order(m.id, "A")),
        Some(a.clone()),
        "rollback_to_savepoint keeps the work done before the savepoint"
    );

    must("savepoint", w.savepoint());
    let c = insert(w.as_mut(), &order(m.id, "C", 43, 0, T0));
    must("release_savepoint", w.release_savepoint());
    assert_eq!(
        must("find_order", w.find_order(m.id, "C")),
        Some(c.clone()),
        "release_savepoint keeps the work done since the savepoint"
    );

    // A failed statement inside a savepoint does not sink the transaction.
    must("savepoint", w.savepoint());
    expect_unique("insert_order of a refid the merchant already has", w.insert_order(&order(m.id, "A", 43, 0, T0)));
    must("rollback_to_savepoint", w.rollback_to_savepoint());
    let d = insert(w.as_mut(), &order(m.id, "D", 43, 0, T0));

    books.flush(w.as_mut());
    must("commit", w.commit());

    for (refid, expected) in [("A", Some(a)), ("B", None), ("C", Some(c)), ("D", Some(d))] {
        assert_eq!(
            must("order_by_refid", block(store.order_by_refid(m.id, refid))),
            expected,
            "after commit, order {refid} is visible exactly when its savepoint was kept"
        );
    }
    assert_eq!(balance(store, m.wallet_id), 0, "no money moved");
    assert_verified(store, "after a transfer rolled back to a savepoint (it must leave no entry)");
}

/// A DEPOSIT moves money from funding (which may go negative) to a wallet.
pub fn ledger_deposit(store: &dyn Store) {
    let m = create(store, Environment::Staging, "dep");
    let s = systems(store, Environment::Staging);
    let live = systems(store, Environment::Live);
    deposit(store, Environment::Staging, m.wallet_id, 10_000);
    assert_eq!(balance(store, m.wallet_id), 10_000, "a committed deposit shows in the wallet balance");
    assert_eq!(balance(store, s.funding), -10_000, "the funding account may go negative");
    assert_eq!(balance(store, live.funding), 0, "other environments are untouched");
    assert_verified(store, "after a deposit");

    deposit(store, Environment::Staging, m.wallet_id, 2_500);
    let mut w = writer(store);
    must("begin", w.begin());
    let mut ids = vec![m.wallet_id, s.funding];
    ids.sort_unstable();
    let locked = must("lock_balances", w.lock_balances(&ids));
    let expected: Vec<(i64, i64)> =
        ids.iter().map(|&id| (id, if id == m.wallet_id { 12_500 } else { -12_500 })).collect();
    assert_eq!(locked, expected, "lock_balances reads the committed balances");
    must("rollback", w.rollback());
    assert_verified(store, "after two deposits");
}

/// HOLD then POST of an order, order_hold before and after, and that a hold
/// is resolved at most once.
pub fn ledger_hold_post(store: &dyn Store) {
    let m = create(store, Environment::Staging, "hold");
    let s = systems(store, Environment::Staging);
    deposit(store, Environment::Staging, m.wallet_id, 10_000);
    let accounts = [m.wallet_id, s.funding, s.holds, s.revenue];

    let mut w = writer(store);
    must("begin", w.begin());
    let mut books = Books::open(w.as_mut(), &accounts);
    let o = insert(w.as_mut(), &order(m.id, "H1", 0, 3_000, T0));
    let plain = insert(w.as_mut(), &order(m.id, "H2", 43, 0, T0));
    assert_eq!(must("order_hold", w.order_hold(o.id)), None, "order_hold of an order without a hold is None");
    let hold =
        books.transfer(w.as_mut(), &new_transfer(TransferKind::Hold, m.wallet_id, s.holds, 3_000, Some(o.id), None));
    assert_eq!(
        must("order_hold", w.order_hold(o.id)),
        Some((hold, 3_000, false)),
        "order_hold reports (hold id, amount, unresolved) right after the hold"
    );
    books.flush(w.as_mut());
    must("commit", w.commit());
    assert_eq!(balance(store, m.wallet_id), 7_000, "the hold left the wallet");
    assert_eq!(balance(store, s.holds), 3_000, "the hold sits in the holds account");
    assert_verified(store, "with an unresolved hold of an accepted order");

    must("begin", w.begin());
    let mut books = Books::open(w.as_mut(), &accounts);
    assert_eq!(
        must("order_hold", w.order_hold(o.id)),
        Some((hold, 3_000, false)),
        "order_hold reports a committed unresolved hold"
    );
    let post = books
        .transfer(w.as_mut(), &new_transfer(TransferKind::Post, s.holds, s.revenue, 3_000, Some(o.id), Some(hold)));
    assert_ne!(post, hold, "transfer ids are distinct");
    set_order_status(w.as_mut(), &o, 20);
    assert_eq!(
        must("order_hold", w.order_hold(o.id)),
        Some((hold, 3_000, true)),
        "order_hold reports the hold resolved once it is posted"
    );
    assert_eq!(must("order_hold", w.order_hold(plain.id)), None, "order_hold of an order without a hold stays None");
    books.flush(w.as_mut());
    must("commit", w.commit());

    must("begin", w.begin());
    must("savepoint", w.savepoint());
    expect_unique(
        "a second POST of the same hold",
        w.insert_transfer(&new_transfer(TransferKind::Post, s.holds, s.revenue, 3_000, Some(o.id), Some(hold))),
    );
    must("rollback_to_savepoint", w.rollback_to_savepoint());
    must("savepoint", w.savepoint());
    expect_unique(
        "a VOID of a hold already posted",
        w.insert_transfer(&new_transfer(TransferKind::Void, s.holds, m.wallet_id, 3_000, Some(o.id), Some(hold))),
    );
    must("rollback_to_savepoint", w.rollback_to_savepoint());
    must("commit", w.commit());

    assert_eq!(balance(store, m.wallet_id), 7_000, "wallet after the post");
    assert_eq!(balance(store, s.holds), 0, "holds after the post");
    assert_eq!(balance(store, s.revenue), 3_000, "revenue after the post");
    assert_eq!(balance(store, s.funding), -10_000, "funding after the post");
    assert_verified(store, "after deposit, hold, post and refused second resolutions");
}

/// Zero or negative amounts and negative non-funding balances are refused
/// with `StoreError::Constraint`, and a refused balance commits nothing.
pub fn ledger_constraints(store: &dyn Store) {
    let m = create(store, Environment::Staging, "cons");
    let s = systems(store, Environment::Staging);
    deposit(store, Environment::Staging, m.wallet_id, 1_000);
    let mut w = writer(store);

    must("begin", w.begin());
    for amount in [0, -5] {
        must("savepoint", w.savepoint());
        expect_constraint(
            &format!("a transfer of amount {amount}"),
            w.insert_transfer(&new_transfer(TransferKind::Deposit, s.funding, m.wallet_id, amount, None, None)),
        );
        must("rollback_to_savepoint", w.rollback_to_savepoint());
    }
    must("commit", w.commit());

    let before: Vec<(i64, i64)> =
        [m.wallet_id, s.holds, s.revenue].iter().map(|&id| (id, balance(store, id))).collect();
    for (i, &(account, was)) in before.iter().enumerate() {
        let marker = format!("neg-{i}");
        must("begin", w.begin());
        let _ = Books::open(w.as_mut(), &[m.wallet_id, s.funding, s.holds, s.revenue]);
        insert(w.as_mut(), &order(m.id, &marker, 43, 0, T0));
        match w.set_balance(account, -1) {
            Err(StoreError::Constraint(_)) => {}
            Ok(()) => expect_constraint(&format!("commit after set_balance({account}, -1)"), w.commit()),
            Err(e) => {
                panic!("set_balance({account}, -1): expected StoreError::Constraint (now or at commit), got {e:?}")
            }
        }
        must("rollback", w.rollback());
        assert_eq!(balance(store, account), was, "a refused negative balance of account {account} is not committed");
        assert_eq!(
            must("order_by_refid", block(store.order_by_refid(m.id, &marker))),
            None,
            "nothing of a transaction refused for a negative balance is committed"
        );
    }

    // The writer is still usable, and funding may go negative.
    deposit(store, Environment::Staging, m.wallet_id, 500);
    assert_eq!(balance(store, m.wallet_id), 1_500, "deposit after refusals");
    assert_eq!(balance(store, s.funding), -1_500, "funding may go negative");
    assert_verified(store, "after refused writes");
}

/// lock_balances returns one (id, balance) pair per id, in the order given.
pub fn lock_balances_order(store: &dyn Store) {
    let a = create(store, Environment::Staging, "lock-a");
    let b = create(store, Environment::Live, "lock-b");
    let staging = systems(store, Environment::Staging);
    let live = systems(store, Environment::Live);
    deposit(store, Environment::Staging, a.wallet_id, 111);
    deposit(store, Environment::Live, b.wallet_id, 2_222);

    let expected_of = |id: i64| -> i64 {
        if id == a.wallet_id {
            111
        } else if id == b.wallet_id {
            2_222
        } else if id == staging.funding {
            -111
        } else if id == live.funding {
            -2_222
        } else {
            0
        }
    };
    let mut ids = vec![
        a.wallet_id,
        b.wallet_id,
        staging.funding,
        staging.holds,
        staging.revenue,
        live.funding,
        live.holds,
        live.revenue,
    ];
    ids.sort_unstable();
    let mut w = writer(store);
    must("begin", w.begin());
    let locked = must("lock_balances", w.lock_balances(&ids));
    let expected: Vec<(i64, i64)> = ids.iter().map(|&id| (id, expected_of(id))).collect();
    assert_eq!(locked, expected, "lock_balances returns (id, balance) for every id, in the order given");
    let subset = [ids[1], ids[4], ids[6]];
    let locked = must("lock_balances", w.lock_balances(&subset));
    let expected: Vec<(i64, i64)> = subset.iter().map(|&id| (id, expected_of(id))).collect();
    assert_eq!(locked, expected, "lock_balances of a subset, in the order given");
    assert_eq!(
        must("lock_balances", w.lock_balances(&[])),
        Vec::<(i64, i64)>::new(),
        "lock_balances of no ids is empty"
    );
    must("commit", w.commit());
}

/// claim_due_orders: accepted orders created before the cutoff, plus re-checks due
/// by now, each once, ordered by id, at most `limit`.
pub fn claim_due_orders(store: &dyn Store) {
    let m = create(store, Environment::Staging, "due");
    let cutoff = 1_000;
    let now = 5_000;
    // (refid, status, created_at_ms, recheck_at_ms, due)
    let cases: &[(&str, u8, i64, Option<i64>, bool)] = &[
        ("k-posted-recheck", 20, 500, Some(4_500), true),
        ("h-final", 20, 500, None, false),
        ("c-accepted-late", 0, 2_000, None, false),
        ("a-accepted-early", 0, 500, None, true),
        ("g-recheck-later", 1, 3_000, Some(5_001), false),
        ("i-both", 0, 400, Some(100), true),
        ("b-accepted-at-cutoff", 0, 1_000, None, false),
        ("f-recheck-now", 1, 3_000, Some(5_000), true),
        ("d-processing-early", 1, 500, None, false),
        ("e-recheck-due", 1, 3_000, Some(4_000), true),
        ("j-failed", 48, 10, None, false),
    ];
    let mut w = writer(store);
    must("begin", w.begin());
    let mut rows = Vec::new();
    for &(refid, status, created, recheck, due) in cases {
        let mut row = order(m.id, refid, status, 0, created);
        row.recheck_at_ms = recheck;
        rows.push((insert(w.as_mut(), &row), due));
    }
    must("commit", w.commit());
    rows.sort_by_key(|(r, _)| r.id);
    let expected: Vec<OrderRow> = rows.iter().filter(|(_, due)| *due).map(|(r, _)| r.clone()).collect();
    let names = |v: &[OrderRow]| v.iter().map(|r| r.refid.clone()).collect::<Vec<_>>();

    let claim = |node: &str, accepted_before_ms: i64, now_ms: i64, limit: u32| Claim {
        node: node.to_owned(),
        accepted_before_ms,
        now_ms,
        lease_ms: 1_000,
        limit,
    };
    let got = must("claim_due_orders", block(store.claim_due_orders(&claim("a", cutoff, now, 2))));
    assert_eq!(names(&got), names(&expected[..2]), "claim_due_orders respects the limit, keeping the lowest ids");
    let got = must("claim_due_orders", block(store.claim_due_orders(&claim("a", cutoff, now, 100))));
    assert_eq!(
        names(&got),
        names(&expected),
        "claim_due_orders returns status-0 orders created before the cutoff and orders with recheck_at_ms <= now, each once, ordered by id (a node may re-claim its own leases)"
    );
    assert_eq!(got, expected, "claim_due_orders returns full rows");
    assert!(
        must("claim_due_orders", block(store.claim_due_orders(&claim("a", cutoff, now, 0)))).is_empty(),
        "claim_due_orders with limit 0 is empty"
    );
    assert!(
        must("claim_due_orders", block(store.claim_due_orders(&claim("b", cutoff, now, 100)))).is_empty(),
        "orders leased to node a are not given to node b while the lease lives"
    );
    let later = now + 1_001;
    // By then the re-check scheduled just after `now` is due as well.
    let due_later: Vec<OrderRow> = rows
        .iter()
        .filter(|(r, due)| *due || r.recheck_at_ms.is_some_and(|t| t <= later))
        .map(|(r, _)| r.clone())
        .collect();
    let got = must("claim_due_orders", block(store.claim_due_orders(&claim("b", cutoff, later, 100))));
    assert_eq!(names(&got), names(&due_later), "after the lease ends another node takes the orders (the holder died)");
    assert!(
        must("claim_due_orders", block(store.claim_due_orders(&claim("a", cutoff, later, 100)))).is_empty(),
        "and the first node no longer gets them"
    );
    assert!(
        must("claim_due_orders", block(store.claim_due_orders(&claim("c", 0, 0, 100)))).is_empty(),
        "nothing is due before anything was created or scheduled"
    );
}

/// Nonces: the first use is accepted, a repeat by the same key refused, the
/// same nonce under another key accepted.
pub fn nonces(store: &dyn Store) {
    let now = 1_700_000_000;
    assert!(
        must("remember_nonce", block(store.remember_nonce("key-a", "nonce-0123456789", now + 300, now))),
        "first use"
    );
    assert!(
        !must("remember_nonce", block(store.remember_nonce("key-a", "nonce-0123456789", now + 300, now))),
        "replay refused"
    );
    assert!(
        must("remember_nonce", block(store.remember_nonce("key-b", "nonce-0123456789", now + 300, now))),
        "other key"
    );
    assert!(
        must("remember_nonce", block(store.remember_nonce("key-a", "nonce-9876543210", now + 300, now))),
        "other nonce"
    );
}

/// ping answers on a healthy store.
pub fn ping(store: &dyn Store) {
    must("ping", block(store.ping()));
}

/// verify on a fresh store: checks exist and none is violated.
pub fn verify_fresh(store: &dyn Store) {
    assert_verified(store, "on a fresh store");
}

/// verify stays clean through a consistent history: deposits in both
/// environments, hold + post (20), hold + void (48), hold + post + refund (53),
/// an unresolved hold (0) and an order refused without transfers (43).
pub fn verify_consistent_sequence(store: &dyn Store) {
    let m = create(store, Environment::Staging, "seq");
    let other = create(store, Environment::Live, "seq-live");
    let s = systems(store, Environment::Staging);
    deposit(store, Environment::Staging, m.wallet_id, 50_000);
    deposit(store, Environment::Live, other.wallet_id, 7_000);
    assert_verified(store, "after deposits in both environments");
    let accounts = [m.wallet_id, s.funding, s.holds, s.revenue];
    let mut w = writer(store);

    // Three holds in one batch, each command in its own savepoint.
    must("begin", w.begin());
    let mut books = Books::open(w.as_mut(), &accounts);
    let mut held = Vec::new();
    for (refid, cost) in [("posted", 4_000), ("voided", 2_500), ("refunded", 1_500)] {
        must("savepoint", w.savepoint());
        let o = insert(w.as_mut(), &order(m.id, refid, 0, cost, T0));
        let hold =
            books.transfer(w.as_mut(), &new_transfer(TransferKind::Hold, m.wallet_id, s.holds, cost, Some(o.id), None));
        must("release_savepoint", w.release_savepoint());
        held.push((o, hold));
    }
    let refused = insert(w.as_mut(), &order(m.id, "refused", 43, 900, T0));
    books.flush(w.as_mut());
    must("commit", w.commit());
    assert_verified(store, "after three unresolved holds and a refused order");

    // Resolve them.
    must("begin", w.begin());
    let mut books = Books::open(w.as_mut(), &accounts);
    let (posted, posted_hold) = &held[0];
    books.transfer(
        w.as_mut(),
        &new_transfer(TransferKind::Post, s.holds, s.revenue, posted.cost_minor, Some(posted.id), Some(*posted_hold)),
    );
    set_order_status(w.as_mut(), posted, 20);
    let (voided, voided_hold) = &held[1];
    books.transfer(
        w.as_mut(),
        &new_transfer(TransferKind::Void, s.holds, m.wallet_id, voided.cost_minor, Some(voided.id), Some(*voided_hold)),
    );
    set_order_status(w.as_mut(), voided, 48);
    let (refunded, refunded_hold) = &held[2];
    books.transfer(
        w.as_mut(),
        &new_transfer(
            TransferKind::Post,
            s.holds,
            s.revenue,
            refunded.cost_minor,
            Some(refunded.id),
            Some(*refunded_hold),
        ),
    );
    set_order_status(w.as_mut(), refunded, 20);
    books.flush(w.as_mut());
    must("commit", w.commit());
    assert_verified(store, "after a post and a void");

    must("begin", w.begin());
    let mut books = Books::open(w.as_mut(), &accounts);
    books.transfer(
        w.as_mut(),
        &new_transfer(TransferKind::Refund, s.revenue, m.wallet_id, refunded.cost_minor, Some(refunded.id), None),
    );
    set_order_status(w.as_mut(), refunded, 53);
    // One more order left accepted with its hold unresolved.
    let open = insert(w.as_mut(), &order(m.id, "open", 0, 1_000, T0));
    books.transfer(w.as_mut(), &new_transfer(TransferKind::Hold, m.wallet_id, s.holds, 1_000, Some(open.id), None));
    books.flush(w.as_mut());
    must("commit", w.commit());

    assert_eq!(balance(store, m.wallet_id), 50_000 - 4_000 - 1_000, "wallet after post, void, refund and an open hold");
    assert_eq!(balance(store, s.holds), 1_000, "holds: only the open hold");
    assert_eq!(balance(store, s.revenue), 4_000, "revenue: only the posted order");
    assert_eq!(
        must("order_by_refid", block(store.order_by_refid(m.id, "refused"))),
        Some(refused),
        "the refused order is unchanged"
    );
    assert_verified(
        store,
        "after deposit, hold+post (20), hold+void (48), hold+post+refund (53), an open hold (0) and a refused order (43)",
    );
}

/// verify is not vacuous: a balance that no transfer explains is reported.
pub fn verify_detects_drift(store: &dyn Store) {
    let m = create(store, Environment::Staging, "drift");
    let mut w = writer(store);
    must("begin", w.begin());
    let _ = Books::open(w.as_mut(), &[m.wallet_id]);
    must("set_balance", w.set_balance(m.wallet_id, 5));
    must("commit", w.commit());
    let checks = must("verify", block(store.verify()));
    assert!(
        checks.iter().any(|c| !c.violations.is_empty()),
        "verify must report a wallet balance of 5 that no transfer explains; got {checks:#?}"
    );
}

/// Operator settings replace the old ones and read back exactly; an unknown
/// merchant is reported, not created.
pub fn merchant_settings(store: &dyn Store) {
    let m = create(store, Environment::Staging, "settings-user");
    assert!(!m.require_api_key_for_topup, "new merchants accept tokens for topups");
    let settings = MerchantSettings {
        name: "Kedai Baru".into(),
        level: "15".into(),
        access: 50,
        suspended: true,
        api_version: "2025-05-20".into(),
        require_api_key_for_topup: true,
        email: "ops@kedai.my".into(),
    };
    assert!(block(store.update_merchant(m.id, &settings)).expect("update_merchant"), "existing merchant updated");
    let after = block(store.merchant(m.id)).expect("merchant").expect("still there");
    assert_eq!(
        (
            after.name.as_str(),
            after.level.as_str(),
            after.access,
            after.suspended,
            after.api_version.as_str(),
            after.require_api_key_for_topup
        ),
        ("Kedai Baru", "15", 50, true, "2025-05-20", true),
        "settings read back"
    );
    assert_eq!(after.email, "ops@kedai.my", "the e-mail setting reads back");
    assert_eq!(
        (after.callback_url.as_str(), after.callback_method.as_str(), after.low_balance_threshold_minor),
        (m.callback_url.as_str(), m.callback_method.as_str(), m.low_balance_threshold_minor),
        "update_merchant leaves the callback and low-balance settings alone"
    );
    assert_eq!(
        (after.account, after.wallet_id, after.environment),
        (m.account, m.wallet_id, m.environment),
        "identity unchanged"
    );
    assert!(
        !block(store.update_merchant(m.id + 1000, &settings)).expect("update_merchant"),
        "unknown merchant reported"
    );
}

/// An order written with its hold and the hold's resolution in one call; a
/// refid already used writes nothing and says so.
pub fn insert_order_with_transfers(store: &dyn Store) {
    let m = create(store, Environment::Staging, "compound");
    let s = systems(store, Environment::Staging);
    deposit(store, Environment::Staging, m.wallet_id, 10_000);
    let transfer = |kind, debit_account, credit_account, wallet_balance_after_minor| NewTransfer {
        kind,
        debit_account,
        credit_account,
        amount_minor: 4_000,
        order_id: None,
        pending_id: None,
        remarks: String::new(),
        created_at_ms: 7,
        wallet_balance_after_minor,
    };
    let mut w = writer(store);
    must("begin", w.begin());
    let mut posted = order(m.id, "compound-posted", 20, 4_000, 7);
    let both = OrderTransfers {
        hold: Some(transfer(TransferKind::Hold, m.wallet_id, s.holds, Some(6_000))),
        resolution: Some(transfer(TransferKind::Post, s.holds, s.revenue, None)),
    };
    let Inserted::New { order_id, hold_id } =
        must("insert_order_with_transfers", w.insert_order_with_transfers(&posted, &both))
    else {
        panic!("a new refid is inserted");
    };
    posted.id = order_id;
    let hold_id = hold_id.expect("the hold's id is reported");
    assert_eq!(must("order_hold", w.order_hold(order_id)), Some((hold_id, 4_000, true)), "hold written and resolved");
    assert_eq!(must("get_order", w.get_order(order_id)).as_ref(), Some(&posted), "order written as given");
    let again = must("insert_order_with_transfers", w.insert_order_with_transfers(&posted, &both));
    assert_eq!(again, Inserted::Exists, "a used refid is reported, not written");
    let refused = order(m.id, "compound-43", 43, 4_000, 7);
    let Inserted::New { order_id: refused_id, hold_id: none } =
        must("insert_order_with_transfers", w.insert_order_with_transfers(&refused, &OrderTransfers::default()))
    else {
        panic!("a new refid is inserted");
    };
    assert_eq!(none, None, "no hold asked, none written");
    assert_eq!(must("order_hold", w.order_hold(refused_id)), None);
    // Balances are the caller's to write (the engine stages them per batch).
    for (account, balance) in [(m.wallet_id, 6_000), (s.holds, 0), (s.revenue, 4_000)] {
        must("set_balance", w.set_balance(account, balance));
    }
    must("commit", w.commit());
    assert_verified(store, "after orders written with their transfers");
}

// ---- after the sale ----

fn merchant_now(store: &dyn Store, merchant_id: i64) -> MerchantRow {
    must("merchant", block(store.merchant(merchant_id))).unwrap_or_else(|| panic!("merchant {merchant_id} exists"))
}

fn claim_at(node: &str, now_ms: i64, lease_ms: i64, limit: u32) -> Claim {
    Claim { node: node.to_owned(), accepted_before_ms: 0, now_ms, lease_ms, limit }
}

fn claim_callbacks(store: &dyn Store, claim: &Claim) -> Vec<CallbackRow> {
    must("claim_due_callbacks", block(store.claim_due_callbacks(claim)))
}

fn order_callback(order: &OrderRow, status: u8, balance_minor: i64, created_at_ms: i64) -> NewCallback {
    NewCallback {
        merchant_id: order.merchant_id,
        kind: CallbackKind::Order,
        order_id: Some(order.id),
        status: Some(status),
        balance_minor,
        created_at_ms,
    }
}

fn low_balance_callback(merchant_id: i64, balance_minor: i64, created_at_ms: i64) -> NewCallback {
    NewCallback {
        merchant_id,
        kind: CallbackKind::LowBalance,
        order_id: None,
        status: None,
        balance_minor,
        created_at_ms,
    }
}

/// The row a callback reads back as before any attempt.
fn queued(id: i64, c: &NewCallback) -> CallbackRow {
    CallbackRow {
        id,
        merchant_id: c.merchant_id,
        kind: c.kind,
        order_id: c.order_id,
        status: c.status,
        balance_minor: c.balance_minor,
        created_at_ms: c.created_at_ms,
        attempts: 0,
        state: "pending".to_owned(),
    }
}

fn callback_log(store: &dyn Store, order_id: i64) -> Vec<(CallbackRow, Vec<CallbackAttempt>)> {
    must("callback_log", block(store.callback_log(order_id)))
}

/// Inserts orders (as given, whatever their status) in one committed
/// transaction, without transfers.
fn insert_committed(store: &dyn Store, rows: &[OrderRow]) -> Vec<OrderRow> {
    let mut w = writer(store);
    must("begin", w.begin());
    let out = rows.iter().map(|r| insert(w.as_mut(), r)).collect();
    must("commit", w.commit());
    out
}

/// Callback URL and method, and the sealed callback secrets with a rotation's
/// previous secret and its end, round-trip exactly and can be cleared.
pub fn callback_settings(store: &dyn Store) {
    let m = create(store, Environment::Staging, "cb-settings");
    let other = create(store, Environment::Staging, "cb-other");
    assert_eq!(
        (m.email.as_str(), m.callback_url.as_str(), m.callback_method.as_str(), m.low_balance_threshold_minor),
        ("", "", "POST", 0),
        "a new merchant has no e-mail, no callback URL (method POST) and no low-balance threshold"
    );
    assert_eq!(
        must("callback_secrets", block(store.callback_secrets(m.id))),
        CallbackSecrets::default(),
        "a new merchant has no callback secrets"
    );

    let url = "https://kedai.example/callback?merchant=1&x=ü'\"";
    must("set_callback_url", block(store.set_callback_url(m.id, url, "GET")));
    assert_eq!(
        merchant_now(store, m.id),
        MerchantRow { callback_url: url.to_owned(), callback_method: "GET".to_owned(), ..m.clone() },
        "set_callback_url changes the URL and the method, and nothing else"
    );
    assert_eq!(merchant_now(store, other.id), other, "set_callback_url changes only that merchant");
    must("set_callback_url", block(store.set_callback_url(m.id, "", "POST")));
    assert_eq!(merchant_now(store, m.id), m, "set_callback_url can clear the URL again");
    expect_constraint("a callback method other than GET or POST", block(store.set_callback_url(m.id, url, "PUT")));
    assert_eq!(merchant_now(store, m.id), m, "a refused callback setting is not kept");

    let mut first: Vec<u8> = (0..=255u8).rev().collect();
    first.extend_from_slice(&[0, 0, 0x80]);
    let second = vec![0u8, 1, 2, 0xff, 0xfe, 0];
    let only = CallbackSecrets { current: Some(first.clone()), previous: None };
    must("set_callback_secrets", block(store.set_callback_secrets(m.id, &only)));
    assert_eq!(
        must("callback_secrets", block(store.callback_secrets(m.id))),
        only,
        "callback_secrets returns the current secret, sealed bytes exactly preserved"
    );
    let rotated = CallbackSecrets { current: Some(second.clone()), previous: Some((first.clone(), T0 + 86_400_000)) };
    must("set_callback_secrets", block(store.set_callback_secrets(m.id, &rotated)));
    assert_eq!(
        must("callback_secrets", block(store.callback_secrets(m.id))),
        rotated,
        "during a rotation the previous secret is kept with the time it is valid until"
    );
    assert_eq!(
        must("callback_secrets", block(store.callback_secrets(other.id))),
        CallbackSecrets::default(),
        "set_callback_secrets changes only that merchant"
    );
    let settled = CallbackSecrets { current: Some(second), previous: None };
    must("set_callback_secrets", block(store.set_callback_secrets(m.id, &settled)));
    assert_eq!(
        must("callback_secrets", block(store.callback_secrets(m.id))),
        settled,
        "the previous secret can be cleared, keeping the current one"
    );
    must("set_callback_secrets", block(store.set_callback_secrets(m.id, &CallbackSecrets::default())));
    assert_eq!(
        must("callback_secrets", block(store.callback_secrets(m.id))),
        CallbackSecrets::default(),
        "every secret can be cleared"
    );
    assert_eq!(merchant_now(store, m.id), m, "the secrets are not part of the merchant row's settings");
}

/// Low-balance thresholds: only merchants with one are watched, the
/// "notified" mark is set and cleared by the writer and cleared by a new
/// threshold.
pub fn low_balance_watch(store: &dyn Store) {
    let a = create(store, Environment::Staging, "low-a");
    let b = create(store, Environment::Staging, "low-b");
    let c = create(store, Environment::Live, "low-c");
    let s = systems(store, Environment::Staging);
    must("set_low_balance_threshold", block(store.set_low_balance_threshold(a.id, 5_000)));
    must("set_low_balance_threshold", block(store.set_low_balance_threshold(c.id, 1)));
    assert_eq!(
        merchant_now(store, a.id),
        MerchantRow { low_balance_threshold_minor: 5_000, ..a.clone() },
        "set_low_balance_threshold sets the threshold and nothing else"
    );
    assert_eq!(merchant_now(store, b.id), b, "set_low_balance_threshold changes only that merchant");

    let watch_a = |threshold_minor: i64, notified: bool| LowBalanceWatch {
        wallet_id: a.wallet_id,
        merchant_id: a.id,
        threshold_minor,
        notified,
    };
    let watch_c = LowBalanceWatch { wallet_id: c.wallet_id, merchant_id: c.id, threshold_minor: 1, notified: false };
    let watched = |w: &mut dyn Writer, ids: &[i64]| -> Vec<LowBalanceWatch> {
        let mut got = must("low_balance_watch", w.low_balance_watch(ids));
        got.sort_by_key(|x| x.wallet_id);
        got
    };
    let mut all = vec![a.wallet_id, b.wallet_id, c.wallet_id, s.funding, s.holds, s.revenue];
    all.sort_unstable();
    let mut both = vec![watch_a(5_000, false), watch_c];
    both.sort_by_key(|x| x.wallet_id);

    let mut w = writer(store);
    must("begin", w.begin());
    assert_eq!(
        watched(w.as_mut(), &all),
        both,
        "low_balance_watch lists the wallets whose merchant has a threshold, with it, not yet notified"
    );
    assert_eq!(
        watched(w.as_mut(), &[b.wallet_id, s.holds]),
        vec![],
        "wallets without a threshold (or system accounts) are not watched"
    );
    assert_eq!(watched(w.as_mut(), &[]), vec![], "low_balance_watch of no wallets is empty");
    must("set_low_balance_notified", w.set_low_balance_notified(a.id, true));
    assert_eq!(
        watched(w.as_mut(), &[a.wallet_id]),
        vec![watch_a(5_000, true)],
        "set_low_balance_notified is seen in the same transaction"
    );
    must("rollback", w.rollback());
    must("begin", w.begin());
    assert_eq!(watched(w.as_mut(), &[a.wallet_id]), vec![watch_a(5_000, false)], "a rolled-back mark is not kept");
    must("set_low_balance_notified", w.set_low_balance_notified(a.id, true));
    must("commit", w.commit());

    must("begin", w.begin());
    assert_eq!(
        watched(w.as_mut(), &all),
        {
            let mut v = vec![watch_a(5_000, true), watch_c];
            v.sort_by_key(|x| x.wallet_id);
            v
        },
        "a committed mark is kept, and only for that merchant"
    );
    must("set_low_balance_notified", w.set_low_balance_notified(a.id, false));
    must("commit", w.commit());
    must("begin", w.begin());
    assert_eq!(
        watched(w.as_mut(), &[a.wallet_id]),
        vec![watch_a(5_000, false)],
        "set_low_balance_notified(false) clears the mark"
    );
    must("set_low_balance_notified", w.set_low_balance_notified(a.id, true));
    must("commit", w.commit());

    must("set_low_balance_threshold", block(store.set_low_balance_threshold(a.id, 7_000)));
    assert_eq!(merchant_now(store, a.id).low_balance_threshold_minor, 7_000, "the threshold can be changed");
    must("begin", w.begin());
    assert_eq!(
        watched(w.as_mut(), &[a.wallet_id]),
        vec![watch_a(7_000, false)],
        "set_low_balance_threshold clears the notified mark"
    );
    must("rollback", w.rollback());

    must("set_low_balance_threshold", block(store.set_low_balance_threshold(a.id, 0)));
    must("begin", w.begin());
    assert_eq!(watched(w.as_mut(), &all), vec![watch_c], "a threshold of 0 is no threshold: the wallet is not watched");
    must("rollback", w.rollback());
    expect_constraint("a negative low-balance threshold", block(store.set_low_balance_threshold(a.id, -1)));
    assert_eq!(merchant_now(store, a.id).low_balance_threshold_minor, 0, "a refused threshold is not kept");
}

/// insert_callback queues inside the writer's transaction: invisible until
/// commit, gone after a rollback, due at its creation time.
pub fn callback_outbox(store: &dyn Store) {
    let m = create(store, Environment::Staging, "outbox");
    let o = insert_committed(store, &[order(m.id, "outbox-1", 43, 0, T0)]).remove(0);
    let mut w = writer(store);

    let first = order_callback(&o, 43, 1_234, T0 + 10);
    must("begin", w.begin());
    let id = must("insert_callback", w.insert_callback(&first));
    assert!(callback_log(store, o.id).is_empty(), "a callback queued in an open transaction is invisible to readers");
    assert!(
        claim_callbacks(store, &claim_at("n", T0 + 10, 1_000, 100)).is_empty(),
        "a callback queued in an open transaction cannot be claimed"
    );
    must("commit", w.commit());
    let first_row = queued(id, &first);
    assert_eq!(
        callback_log(store, o.id),
        vec![(first_row.clone(), vec![])],
        "a committed callback is in its order's log, pending, with no attempts"
    );

    must("begin", w.begin());
    let gone = must("insert_callback", w.insert_callback(&order_callback(&o, 20, 5, T0 + 11)));
    assert_ne!(gone, id, "insert_callback returns distinct ids");
    must("rollback", w.rollback());
    assert_eq!(
        callback_log(store, o.id),
        vec![(first_row.clone(), vec![])],
        "a callback of a rolled-back transaction is gone"
    );

    let low = low_balance_callback(m.id, 99, T0 + 30);
    must("begin", w.begin());
    let low_id = must("insert_callback", w.insert_callback(&low));
    must("savepoint", w.savepoint());
    expect_constraint(
        "an order callback without an order",
        w.insert_callback(&NewCallback { order_id: None, ..first.clone() }),
    );
    must("rollback_to_savepoint", w.rollback_to_savepoint());
    must("commit", w.commit());
    assert_eq!(
        callback_log(store, o.id),
        vec![(first_row.clone(), vec![])],
        "a low-balance callback belongs to no order's log"
    );

    assert!(
        claim_callbacks(store, &claim_at("n", T0 + 9, 1_000, 100)).is_empty(),
        "a queued callback is not due before its creation time"
    );
    assert_eq!(
        claim_callbacks(store, &claim_at("n", T0 + 10, 1_000, 100)),
        vec![first_row.clone()],
        "a queued callback is due at its creation time"
    );
    assert_eq!(
        claim_callbacks(store, &claim_at("n", T0 + 30, 1_000, 100)),
        vec![first_row, queued(low_id, &low)],
        "both committed callbacks are due, ordered by id, full rows"
    );
}

/// claim_due_callbacks leases like claim_due_orders: due (pending, next attempt
/// at or before now) callbacks no other node holds a live lease on, ordered
/// by id, at most `limit`.
pub fn claim_due_callbacks(store: &dyn Store) {
    let m = create(store, Environment::Staging, "due-cb");
    let o = insert_committed(store, &[order(m.id, "due-cb-1", 20, 0, 0)]).remove(0);
    let mut rows = Vec::new();
    for (i, at) in [900, 100, 5_000, 1_000, 1_001, 50].into_iter().enumerate() {
        let new =
            if i % 2 == 0 { order_callback(&o, 20, 10 * i as i64, at) } else { low_balance_callback(m.id, 7, at) };
        let id = must("enqueue_callback", block(store.enqueue_callback(&new)));
        rows.push(queued(id, &new));
    }
    rows.sort_by_key(|r| r.id);
    let due_by = |at: i64| -> Vec<CallbackRow> { rows.iter().filter(|r| r.created_at_ms <= at).cloned().collect() };
    let times = |v: &[CallbackRow]| v.iter().map(|r| r.created_at_ms).collect::<Vec<_>>();
    let now = 1_000;

    let got = claim_callbacks(store, &claim_at("a", now, 1_000, 2));
    assert_eq!(times(&got), times(&due_by(now)[..2]), "claim_due_callbacks respects the limit, keeping the lowest ids");
    let got = claim_callbacks(store, &claim_at("a", now, 1_000, 100));
    assert_eq!(
        got,
        due_by(now),
        "claim_due_callbacks returns the callbacks due by now, ordered by id, full rows (a node may re-claim its own leases)"
    );
    assert!(claim_callbacks(store, &claim_at("a", now, 1_000, 0)).is_empty(), "limit 0 claims nothing");
    assert!(
        claim_callbacks(store, &claim_at("b", now, 1_000, 100)).is_empty(),
        "callbacks leased to node a are not given to node b while the lease lives"
    );
    assert_eq!(
        times(&claim_callbacks(store, &claim_at("b", 2_000, 1_000, 100))),
        vec![1_001],
        "at the lease's last moment node b gets only the callback node a does not hold"
    );
    assert_eq!(
        claim_callbacks(store, &claim_at("b", 2_001, 10_000, 100)),
        due_by(2_001),
        "after the lease ends another node takes the callbacks (the holder died)"
    );
    assert!(
        claim_callbacks(store, &claim_at("a", 2_001, 1_000, 100)).is_empty(),
        "and the first node no longer gets them"
    );
    assert_eq!(
        times(&claim_callbacks(store, &claim_at("c", 5_000, 1_000, 100))),
        vec![5_000],
        "a callback becomes due at its time; the others are still leased"
    );
    assert!(
        claim_callbacks(store, &claim_at("d", 49, 1_000, 100)).is_empty(),
        "nothing is due before anything was created"
    );
}

/// record_callback_attempt logs each attempt and moves the callback on: a
/// retry is due again at its time (for any node), delivered and failed
/// callbacks are never claimed again; callback_log lists an order's
/// callbacks with their attempts, oldest first.
pub fn callback_attempts(store: &dyn Store) {
    let m = create(store, Environment::Staging, "attempts");
    let orders = insert_committed(store, &[order(m.id, "att-1", 20, 0, 0), order(m.id, "att-2", 20, 0, 0)]);
    let (o1, o2) = (&orders[0], &orders[1]);
    let enqueue = |c: &NewCallback| queued(must("enqueue_callback", block(store.enqueue_callback(c))), c);
    let c1 = enqueue(&order_callback(o1, 20, 5_000, 1_000));
    let c1b = enqueue(&order_callback(o1, 53, 6_000, 1_100));
    let c2 = enqueue(&order_callback(o2, 20, 4_000, 1_000));
    let low = enqueue(&low_balance_callback(m.id, 4_000, 1_000));
    assert_eq!(
        callback_log(store, o1.id),
        vec![(c1.clone(), vec![]), (c1b.clone(), vec![])],
        "callback_log lists every callback of the order, by id, without attempts yet"
    );
    let record = |a: &CallbackAttempt, next: CallbackNext| {
        must("record_callback_attempt", block(store.record_callback_attempt(a, next)));
    };

    let mut all = vec![c1.clone(), c1b.clone(), c2.clone(), low.clone()];
    all.sort_by_key(|r| r.id);
    assert_eq!(claim_callbacks(store, &claim_at("n", 1_100, 10_000, 100)), all, "all four are due");

    let a1 = CallbackAttempt {
        callback_id: c1.id,
        attempt: 1,
        at_ms: 1_100,
        url: "https://kedai.example/cb?x=1".to_owned(),
        http_status: Some(503),
        latency_ms: 120,
        error: String::new(),
        response_excerpt: "Service Unavailable ✗ \"quoted\"\nline".to_owned(),
    };
    record(&a1, CallbackNext::RetryAt(1_500));
    assert!(
        claim_callbacks(store, &claim_at("other", 1_499, 1_000, 100)).is_empty(),
        "a retry is not due before its time (the rest stay leased)"
    );
    let after_one = CallbackRow { attempts: 1, ..c1.clone() };
    assert_eq!(
        claim_callbacks(store, &claim_at("other", 1_500, 1_000, 100)),
        vec![after_one.clone()],
        "a retry is due at its time, for any node (the attempt ended the lease), with its attempts counted"
    );

    let a2 = CallbackAttempt {
        callback_id: c1.id,
        attempt: 2,
        at_ms: 1_500,
        url: a1.url.clone(),
        http_status: None,
        latency_ms: 10_000,
        error: "connection refused".to_owned(),
        response_excerpt: String::new(),
    };
    record(&a2, CallbackNext::RetryAt(3_000));
    assert_eq!(
        claim_callbacks(store, &claim_at("other", 3_000, 1_000, 100)),
        vec![CallbackRow { attempts: 2, ..c1.clone() }],
        "a second retry, two attempts counted"
    );
    let a3 = CallbackAttempt {
        callback_id: c1.id,
        attempt: 3,
        at_ms: 3_000,
        url: "https://kedai.example/cb?x=2".to_owned(),
        http_status: Some(200),
        latency_ms: 35,
        error: String::new(),
        response_excerpt: "OK".to_owned(),
    };
    record(&a3, CallbackNext::Delivered);
    let a4 = CallbackAttempt {
        callback_id: c1b.id,
        attempt: 1,
        at_ms: 3_001,
        url: a1.url.clone(),
        http_status: Some(404),
        latency_ms: 8,
        error: String::new(),
        response_excerpt: "Not Found".to_owned(),
    };
    record(&a4, CallbackNext::Failed);

    let mut left = vec![c2.clone(), low.clone()];
    left.sort_by_key(|r| r.id);
    assert_eq!(
        claim_callbacks(store, &claim_at("late", 1_000_000, 1_000, 100)),
        left,
        "delivered and failed callbacks are never claimed again; the untouched ones still are"
    );
    assert_eq!(
        callback_log(store, o1.id),
        vec![
            (CallbackRow { attempts: 3, state: "delivered".to_owned(), ..c1 }, vec![a1, a2, a3]),
            (CallbackRow { attempts: 1, state: "failed".to_owned(), ..c1b }, vec![a4]),
        ],
        "callback_log returns the order's callbacks with their state and attempts, in order, every field preserved"
    );
    assert_eq!(callback_log(store, o2.id), vec![(c2, vec![])], "callback_log is per order");
    assert!(callback_log(store, o1.id.max(o2.id) + 1_000).is_empty(), "callback_log of an unknown order is empty");
}

/// order(id) returns a committed order with every field, None otherwise.
pub fn order_by_id(store: &dyn Store) {
    let m = create(store, Environment::Staging, "by-id");
    let mut w = writer(store);
    must("begin", w.begin());
    let r = insert(w.as_mut(), &rich_order(m.id, "by-id-1", Some(T0 + 60_000)));
    assert_eq!(must("order", block(store.order(r.id))), None, "order(id) does not see an uncommitted order");
    must("commit", w.commit());
    assert_eq!(must("order", block(store.order(r.id))), Some(r.clone()), "order(id) returns every field");
    assert_eq!(must("order", block(store.order(r.id + 1_000))), None, "order of an unknown id is None");
}

fn status_group(status: u8) -> Option<StatusGroup> {
    match status {
        20 => Some(StatusGroup::Successful),
        0 | 1 => Some(StatusGroup::Pending),
        53 => Some(StatusGroup::Refund),
        s if s >= 40 => Some(StatusGroup::Failed),
        _ => None,
    }
}

/// What list_orders must answer, computed from the rows.
fn expected_listing(all: &[OrderRow], q: &OrderQuery) -> (Vec<OrderRow>, OrderTotals) {
    let text = |field: &Option<String>, value: &str| field.as_deref().is_none_or(|f| f == value);
    let mut rows: Vec<OrderRow> = all
        .iter()
        .filter(|o| {
            o.merchant_id == q.merchant_id
                && q.from_ms.is_none_or(|from| o.created_at_ms >= from)
                && q.to_ms.is_none_or(|to| o.created_at_ms < to)
                && (q.statuses.is_empty() || status_group(o.status).is_some_and(|g| q.statuses.contains(&g)))
                && text(&q.account, &o.account)
                && text(&q.product, &o.product)
                && text(&q.refid, &o.refid)
                && text(&q.sn, &o.sn)
        })
        .cloned()
        .collect();
    rows.sort_by_key(|o| (o.created_at_ms, o.id));
    if !q.ascending {
        rows.reverse();
    }
    let mut t = OrderTotals::default();
    for o in &rows {
        t.count += 1;
        t.amount_minor += o.amount_minor;
        t.cost_minor += o.cost_minor;
        match status_group(o.status) {
            Some(StatusGroup::Successful) => {
                t.successful += 1;
                t.successful_amount_minor += o.amount_minor;
                t.successful_cost_minor += o.cost_minor;
            }
            Some(StatusGroup::Pending) => t.pending += 1,
            Some(StatusGroup::Failed) => t.failed += 1,
            Some(StatusGroup::Refund) => t.refund += 1,
            None => {}
        }
    }
    let page = rows.into_iter().skip(q.offset as usize).take(q.limit as usize).collect();
    (page, t)
}

/// list_orders: every filter (time range [from, to), status groups, account,
/// product, refid, sn), paging, both directions (ties broken by id), and
/// totals over the whole filtered set.
pub fn list_orders(store: &dyn Store) {
    let m = create(store, Environment::Staging, "list");
    let x = create(store, Environment::Staging, "list-other");
    let statuses = [0u8, 1, 20, 43, 48, 53, 20, 40, 20, 52];
    let products = ["HI10", "CELCOM-RM30", "DIGI5"];
    let mut rows = Vec::new();
    for i in 0..24usize {
        let status = statuses[i % statuses.len()];
        // Created times out of insertion order, each shared by two or three orders.
        let mut row =
            order(m.id, &format!("L-{i:02}"), status, 9_500 * (i as i64 + 1), T0 + ((i * 7) % 10) as i64 * 1_000);
        row.amount_minor = 10_000 * (i as i64 + 1);
        row.product = products[i % products.len()].to_owned();
        row.account = if i % 4 < 2 { "0111111111".to_owned() } else { "0122222222".to_owned() };
        row.sn = if status == 20 { format!("SN-{i}") } else { String::new() };
        rows.push(row);
    }
    for i in 0..4usize {
        let mut row = order(x.id, &format!("L-{i:02}"), 20, 1_000, T0 + i as i64 * 1_000);
        row.sn = format!("SN-{i}");
        rows.push(row);
    }
    let all = insert_committed(store, &rows);

    let base = OrderQuery { merchant_id: m.id, limit: 100, ..OrderQuery::default() };
    let some = |s: &str| Some(s.to_owned());
    let mut queries: Vec<(&str, OrderQuery)> = vec![
        ("everything, newest first", base.clone()),
        ("everything, oldest first", OrderQuery { ascending: true, ..base.clone() }),
        ("the other merchant", OrderQuery { merchant_id: x.id, ..base.clone() }),
        ("an unknown merchant", OrderQuery { merchant_id: m.id.max(x.id) + 1_000, ..base.clone() }),
        ("from", OrderQuery { from_ms: Some(T0 + 4_000), ..base.clone() }),
        ("to", OrderQuery { to_ms: Some(T0 + 4_000), ..base.clone() }),
        ("from and to", OrderQuery { from_ms: Some(T0 + 2_000), to_ms: Some(T0 + 7_000), ..base.clone() }),
        ("an empty range", OrderQuery { from_ms: Some(T0 + 3_000), to_ms: Some(T0 + 3_000), ..base.clone() }),
        ("account", OrderQuery { account: some("0122222222"), ..base.clone() }),
        ("product", OrderQuery { product: some("CELCOM-RM30"), ..base.clone() }),
        ("refid", OrderQuery { refid: some("L-07"), ..base.clone() }),
        ("an unknown refid", OrderQuery { refid: some("L-99"), ..base.clone() }),
        ("sn", OrderQuery { sn: some("SN-8"), ..base.clone() }),
        (
            "product, successful, from and to, oldest first",
            OrderQuery {
                product: some("HI10"),
                statuses: vec![StatusGroup::Successful],
                from_ms: Some(T0 + 1_000),
                to_ms: Some(T0 + 9_000),
                ascending: true,
                ..base.clone()
            },
        ),
        (
            "account and pending or refund",
            OrderQuery {
                account: some("0111111111"),
                statuses: vec![StatusGroup::Pending, StatusGroup::Refund],
                ..base.clone()
            },
        ),
        (
            "every group",
            OrderQuery {
                statuses: vec![StatusGroup::Successful, StatusGroup::Pending, StatusGroup::Failed, StatusGroup::Refund],
                ..base.clone()
            },
        ),
    ];
    for (name, group) in [
        ("successful (20)", StatusGroup::Successful),
        ("pending (0, 1)", StatusGroup::Pending),
        ("failed (40 and up but 53)", StatusGroup::Failed),
        ("refund (53)", StatusGroup::Refund),
    ] {
        queries.push((name, OrderQuery { statuses: vec![group], ..base.clone() }));
    }
    for (name, limit, offset) in [
        ("first page", 5, 0),
        ("second page", 5, 5),
        ("last, partial page", 5, 20),
        ("a page past the end", 5, 24),
        ("a page of none", 0, 0),
    ] {
        for ascending in [false, true] {
            queries.push((name, OrderQuery { limit, offset, ascending, ..base.clone() }));
        }
    }
    queries.push((
        "a filtered page",
        OrderQuery { statuses: vec![StatusGroup::Failed], limit: 2, offset: 1, ..base.clone() },
    ));

    for (name, q) in &queries {
        let expected = expected_listing(&all, q);
        let got = must("list_orders", block(store.list_orders(q)));
        let refids = |v: &[OrderRow]| v.iter().map(|o| o.refid.clone()).collect::<Vec<_>>();
        assert_eq!(refids(&got.0), refids(&expected.0), "list_orders ({name}): the page, in order; query {q:?}");
        assert_eq!(got.0, expected.0, "list_orders ({name}): full rows");
        assert_eq!(got.1, expected.1, "list_orders ({name}): totals over the whole filtered set; query {q:?}");
    }

    // The model above is not vacuous.
    let totals = expected_listing(&all, &base).1;
    assert_eq!(
        (totals.count, totals.successful, totals.pending, totals.failed, totals.refund),
        (24, 7, 6, 9, 2),
        "the listing's data set covers every group"
    );
    let (page, t) = must("list_orders", block(store.list_orders(&OrderQuery { sn: some("SN-8"), ..base.clone() })));
    assert_eq!(
        (page.len(), t.count, t.successful_amount_minor, t.successful_cost_minor),
        (1, 1, 90_000, 85_500),
        "an sn finds its one order; successful sums are its amount and cost"
    );
    let (page, _) = must("list_orders", block(store.list_orders(&OrderQuery { limit: 3, ..base.clone() })));
    assert_eq!(
        page.iter().map(|o| (o.created_at_ms, o.refid.as_str())).collect::<Vec<_>>(),
        vec![(T0 + 9_000, "L-17"), (T0 + 9_000, "L-07"), (T0 + 8_000, "L-14")],
        "newest first: by creation time, then by id, both descending"
    );
}

/// One movement of a wallet as the statement must show it.
#[derive(Clone)]
struct Movement {
    id: i64,
    at_ms: i64,
    kind: TransferKind,
    signed: i64,
    remarks: String,
    order: Option<(String, String)>,
}

/// A wallet's history: deposits, orders posted (20), voided (48), refunded
/// (53), left open (0) and refused (43), with their ledger entries at distinct
/// times, plus another merchant's movements. Returns the merchant and its
/// wallet's movements in id order.
fn wallet_history(store: &dyn Store) -> (MerchantRow, Vec<Movement>) {
    let m = create(store, Environment::Staging, "history");
    let other = create(store, Environment::Staging, "history-other");
    let s = systems(store, Environment::Staging);
    let at = |k: i64| T0 + k * 1_000;
    let mut w = writer(store);
    must("begin", w.begin());
    let mut books = Books::open(w.as_mut(), &[m.wallet_id, other.wallet_id, s.funding, s.holds, s.revenue]);
    let mut moves = Vec::new();
    let wallet = m.wallet_id;
    // Writes a transfer (of an order, if given) and notes it if it moves the wallet.
    let mut ledger = |w: &mut dyn Writer, books: &mut Books, o: Option<&OrderRow>, t: NewTransfer| -> i64 {
        let remarks = format!("{} at {}", t.kind.as_str(), t.created_at_ms);
        let t = NewTransfer { order_id: o.map(|o| o.id), remarks: remarks.clone(), ..t };
        let id = books.transfer(w, &t);
        let signed = if t.credit_account == wallet {
            t.amount_minor
        } else if t.debit_account == wallet {
            -t.amount_minor
        } else {
            return id;
        };
        moves.push(Movement {
            id,
            at_ms: t.created_at_ms,
            kind: t.kind,
            signed,
            remarks,
            order: o.map(|o| (o.refid.clone(), o.product.clone())),
        });
        id
    };
    let move_at = |kind, debit, credit, amount, at_ms| NewTransfer {
        created_at_ms: at_ms,
        ..new_transfer(kind, debit, credit, amount, None, None)
    };
    let resolve_at = |kind, debit, credit, amount, hold, at_ms| NewTransfer {
        pending_id: Some(hold),
        ..move_at(kind, debit, credit, amount, at_ms)
    };
    let named = |merchant_id: i64, refid: &str, status: u8, cost: i64, at_ms: i64, product: &str| {
        let mut row = order(merchant_id, refid, status, cost, at_ms);
        row.product = product.to_owned();
        row
    };
    let (w, b) = (w.as_mut(), &mut books);
    use TransferKind::{Deposit, Hold, Post, Refund, Void};

    ledger(w, b, None, move_at(Deposit, s.funding, wallet, 50_000, at(1)));
    ledger(w, b, None, move_at(Deposit, s.funding, other.wallet_id, 9_000, at(2)));
    let posted = insert(w, &named(m.id, "posted", 20, 4_000, at(2), "HI10"));
    let hold = ledger(w, b, Some(&posted), move_at(Hold, wallet, s.holds, 4_000, at(2)));
    ledger(w, b, Some(&posted), resolve_at(Post, s.holds, s.revenue, 4_000, hold, at(3)));
    let voided = insert(w, &named(m.id, "voided", 48, 2_500, at(3), "DIGI5"));
    let hold = ledger(w, b, Some(&voided), move_at(Hold, wallet, s.holds, 2_500, at(3)));
    ledger(w, b, Some(&voided), resolve_at(Void, s.holds, wallet, 2_500, hold, at(4)));
    let theirs = insert(w, &named(other.id, "theirs", 20, 1_000, at(4), "HI10"));
    let hold = ledger(w, b, Some(&theirs), move_at(Hold, other.wallet_id, s.holds, 1_000, at(4)));
    ledger(w, b, Some(&theirs), resolve_at(Post, s.holds, s.revenue, 1_000, hold, at(4)));
    ledger(w, b, None, move_at(Deposit, s.funding, wallet, 10_000, at(5)));
    let refunded = insert(w, &named(m.id, "refunded", 53, 1_500, at(5), "HI10"));
    let hold = ledger(w, b, Some(&refunded), move_at(Hold, wallet, s.holds, 1_500, at(5)));
    ledger(w, b, Some(&refunded), resolve_at(Post, s.holds, s.revenue, 1_500, hold, at(6)));
    ledger(w, b, Some(&refunded), move_at(Refund, s.revenue, wallet, 1_500, at(7)));
    insert(w, &named(m.id, "refused", 43, 900, at(7), "HI10"));
    let open = insert(w, &named(m.id, "open", 0, 1_000, at(8), "CELCOM-RM30"));
    ledger(w, b, Some(&open), move_at(Hold, wallet, s.holds, 1_000, at(8)));
    books.flush(w);
    must("commit", w.commit());
    assert_verified(store, "after the wallet history");
    (m, moves)
}

/// statement: signed amounts, the true balance after each entry even when a
/// page or a filter skips earlier ones, kind and time filters, the count of
/// every match.
pub fn statement(store: &dyn Store) {
    let (m, moves) = wallet_history(store);
    let mut running = 0;
    let entries: Vec<StatementEntry> = moves
        .iter()
        .map(|mv| {
            running += mv.signed;
            StatementEntry {
                transfer_id: mv.id,
                at_ms: mv.at_ms,
                kind: mv.kind.as_str().to_owned(),
                amount_minor: mv.signed,
                balance_after_minor: running,
                remarks: mv.remarks.clone(),
                refid: mv.order.as_ref().map(|(r, _)| r.clone()),
                product: mv.order.as_ref().map(|(_, p)| p.clone()),
            }
        })
        .collect();
    assert_eq!(entries.len(), 8, "the history moves the wallet eight times (POSTs do not touch it)");
    assert_eq!(running, balance(store, m.wallet_id), "the last running balance is the wallet's balance");

    let base = StatementQuery { wallet_id: m.wallet_id, limit: 100, ..StatementQuery::default() };
    let kinds = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: Vec<(&str, StatementQuery)> = vec![
        ("everything", base.clone()),
        ("a page", StatementQuery { limit: 3, offset: 2, ..base.clone() }),
        ("a page past the end", StatementQuery { limit: 3, offset: 8, ..base.clone() }),
        ("a page of none", StatementQuery { limit: 0, ..base.clone() }),
        ("holds", StatementQuery { kinds: kinds(&["HOLD"]), ..base.clone() }),
        ("deposits and refunds", StatementQuery { kinds: kinds(&["DEPOSIT", "REFUND"]), ..base.clone() }),
        ("posts (never the wallet's)", StatementQuery { kinds: kinds(&["POST"]), ..base.clone() }),
        ("from", StatementQuery { from_ms: Some(T0 + 5_000), ..base.clone() }),
        ("to", StatementQuery { to_ms: Some(T0 + 5_000), ..base.clone() }),
        ("from and to", StatementQuery { from_ms: Some(T0 + 3_000), to_ms: Some(T0 + 7_000), ..base.clone() }),
        (
            "from, to, a kind and a page",
            StatementQuery {
                from_ms: Some(T0 + 2_000),
                to_ms: Some(T0 + 9_000),
                kinds: kinds(&["HOLD", "VOID"]),
                limit: 2,
                offset: 1,
                ..base.clone()
            },
        ),
    ];
    for (name, q) in &cases {
        let matching: Vec<StatementEntry> = entries
            .iter()
            .filter(|e| {
                q.from_ms.is_none_or(|f| e.at_ms >= f)
                    && q.to_ms.is_none_or(|t| e.at_ms < t)
                    && (q.kinds.is_empty() || q.kinds.contains(&e.kind))
            })
            .cloned()
            .collect();
        let total = matching.len() as u64;
        let page: Vec<StatementEntry> = matching.into_iter().skip(q.offset as usize).take(q.limit as usize).collect();
        assert_eq!(
            must("statement", block(store.statement(q))),
            (page, total),
            "statement ({name}): the page with true running balances, and the count of every match; query {q:?}"
        );
    }
    let (page, total) = must("statement", block(store.statement(&cases[1].1)));
    assert_eq!(
        (page.first().map(|e| e.balance_after_minor), total),
        (Some(50_000 - 4_000 - 2_500), 8),
        "the first entry of a later page carries the balance after every earlier entry"
    );

    let fresh = create(store, Environment::Staging, "history-none");
    assert_eq!(
        must("statement", block(store.statement(&StatementQuery { wallet_id: fresh.wallet_id, ..base.clone() }))),
        (vec![], 0),
        "a wallet that never moved has an empty statement"
    );
}

/// movements: the balance before `from`, and per kind the sum and count of
/// the wallet's movements within [from, to).
pub fn movements(store: &dyn Store) {
    let (m, moves) = wallet_history(store);
    let expected = |from: Option<i64>, to: Option<i64>| {
        let mut out = Movements::default();
        for mv in &moves {
            if from.is_some_and(|f| mv.at_ms < f) {
                out.opening_minor += mv.signed;
                continue;
            }
            if to.is_some_and(|t| mv.at_ms >= t) {
                continue;
            }
            let amount = mv.signed.abs();
            match mv.kind {
                TransferKind::Deposit => (out.deposits_minor += amount, out.deposit_count += 1),
                TransferKind::Hold => (out.holds_minor += amount, out.hold_count += 1),
                TransferKind::Void => (out.voids_minor += amount, out.void_count += 1),
                TransferKind::Refund => (out.refunds_minor += amount, out.refund_count += 1),
                TransferKind::Post => unreachable!("a POST never moves a wallet"),
            };
        }
        out
    };
    let everything = must("movements", block(store.movements(m.wallet_id, None, None)));
    assert_eq!(
        everything,
        Movements {
            opening_minor: 0,
            deposits_minor: 60_000,
            deposit_count: 2,
            holds_minor: 9_000,
            hold_count: 4,
            voids_minor: 2_500,
            void_count: 1,
            refunds_minor: 1_500,
            refund_count: 1,
        },
        "movements over all time: every deposit, hold, void and refund, opening at 0"
    );
    for (from, to) in [
        (None, None),
        (Some(T0 + 3_000), None),
        (None, Some(T0 + 5_000)),
        (Some(T0 + 3_000), Some(T0 + 7_000)),
        (Some(T0 + 5_000), Some(T0 + 5_001)),
        (Some(T0 + 9_000), None),
        (Some(T0 + 4_000), Some(T0 + 4_000)),
    ] {
        assert_eq!(
            must("movements", block(store.movements(m.wallet_id, from, to))),
            expected(from, to),
            "movements in [{from:?}, {to:?}): the balance before from, sums and counts per kind within"
        );
    }
    assert_eq!(
        must("movements", block(store.movements(m.wallet_id, Some(T0 + 9_000), None))).opening_minor,
        balance(store, m.wallet_id),
        "the opening balance after every movement is the wallet's balance"
    );
}

/// daily_summary: successful orders per Malaysia-time (UTC+8) day and product;
/// the day changes at 16:00 UTC; [from, to).
pub fn daily_summary(store: &dyn Store) {
    let m = create(store, Environment::Staging, "summary");
    let x = create(store, Environment::Staging, "summary-other");
    // 2023-11-15T16:00:00.000Z is 2023-11-16 00:00 in Malaysia: day 19677.
    let midnight: i64 = 1_700_064_000_000;
    let day = 86_400_000;
    let row = |merchant_id: i64, refid: &str, product: &str, status: u8, amount: i64, cost: i64, at: i64| {
        let mut o = order(merchant_id, refid, status, cost, at);
        o.product = product.to_owned();
        o.amount_minor = amount;
        o
    };
    insert_committed(
        store,
        &[
            row(m.id, "s-before", "HI10", 20, 1_000, 900, midnight - day - 1),
            row(m.id, "s-from", "HI10", 20, 20_000, 19_000, midnight - day),
            row(m.id, "s-last-ms", "HI10", 20, 10_000, 9_500, midnight - 1),
            row(m.id, "s-midnight", "HI10", 20, 30_000, 28_500, midnight),
            row(m.id, "s-digi", "DIGI5", 20, 5_000, 4_900, midnight + 1),
            row(m.id, "s-day-end", "HI10", 20, 40_000, 38_000, midnight + day - 1),
            row(m.id, "s-to", "HI10", 20, 1_000, 900, midnight + day),
            row(m.id, "s-failed", "HI10", 43, 1_000, 900, midnight),
            row(m.id, "s-accepted", "HI10", 0, 1_000, 900, midnight),
            row(m.id, "s-processing", "DIGI5", 1, 1_000, 900, midnight),
            row(m.id, "s-refunded", "HI10", 53, 1_000, 900, midnight),
            row(m.id, "s-voided", "AAA", 48, 1_000, 900, midnight),
            row(x.id, "s-other", "HI10", 20, 1_000, 900, midnight),
        ],
    );
    let summary = |from: i64, to: i64| must("daily_summary", block(store.daily_summary(m.id, from, to)));
    let line = |day: i64, product: &str, count: u64, amount_minor: i64, cost_minor: i64| SummaryRow {
        day,
        product: product.to_owned(),
        count,
        amount_minor,
        cost_minor,
    };
    assert_eq!(
        summary(midnight - day, midnight + day),
        vec![
            line(19_676, "HI10", 2, 30_000, 28_500),
            line(19_677, "DIGI5", 1, 5_000, 4_900),
            line(19_677, "HI10", 2, 70_000, 66_500),
        ],
        "15:59:59.999 UTC is the day before 16:00:00.000 UTC; only status 20 counts; [from, to); by day then product"
    );
    assert_eq!(
        summary(midnight, midnight + 1),
        vec![line(19_677, "HI10", 1, 30_000, 28_500)],
        "a one-millisecond range at Malaysian midnight"
    );
    assert_eq!(
        summary(midnight - 1, midnight + 1),
        vec![line(19_676, "HI10", 1, 10_000, 9_500), line(19_677, "HI10", 1, 30_000, 28_500)],
        "the last millisecond of a day and the first of the next are different days"
    );
    assert!(summary(midnight, midnight).is_empty(), "an empty range has no lines");
    assert_eq!(
        must("daily_summary", block(store.daily_summary(x.id, midnight - day, midnight + day))),
        vec![line(19_677, "HI10", 1, 1_000, 900)],
        "daily_summary is per merchant"
    );
}

/// Disputes: opening twice returns the one open dispute; resolving closes it
/// once; listings of open ones and of all.
pub fn disputes(store: &dyn Store) {
    let m = create(store, Environment::Staging, "disputes");
    let orders = insert_committed(store, &[order(m.id, "d-1", 20, 0, T0), order(m.id, "d-2", 53, 0, T0)]);
    let (o1, o2) = (&orders[0], &orders[1]);
    let open = |o: &OrderRow, emails: &str, now: i64| must("open_dispute", block(store.open_dispute(o, emails, now)));
    let list = |open_only: bool| must("disputes", block(store.disputes(open_only)));
    assert!(list(false).is_empty(), "a fresh store has no disputes");

    let d1 = open(o1, "a@kedai.my, b@kedai.my", T0 + 1);
    assert_eq!(
        d1,
        DisputeRow {
            id: d1.id,
            merchant_id: m.id,
            order_id: o1.id,
            refid: "d-1".to_owned(),
            emails: "a@kedai.my, b@kedai.my".to_owned(),
            state: "open".to_owned(),
            resolution: String::new(),
            created_at_ms: T0 + 1,
            resolved_at_ms: None,
        },
        "open_dispute returns the new open dispute with the order's refid"
    );
    assert_eq!(open(o1, "c@kedai.my", T0 + 2), d1, "opening a dispute again returns the open one, unchanged");
    let d2 = open(o2, "", T0 + 3);
    assert_ne!(d2.id, d1.id, "another order has its own dispute");
    assert_eq!(list(true), vec![d1.clone(), d2.clone()], "disputes(open only) lists the open ones by id");

    assert!(
        must("resolve_dispute", block(store.resolve_dispute(d1.id, "refunded ✓", T0 + 10))),
        "resolving an open dispute returns true"
    );
    assert!(
        !must("resolve_dispute", block(store.resolve_dispute(d1.id, "again", T0 + 11))),
        "resolving a resolved dispute returns false"
    );
    assert!(
        !must("resolve_dispute", block(store.resolve_dispute(d1.id.max(d2.id) + 1_000, "x", T0 + 11))),
        "resolving an unknown dispute returns false"
    );
    let resolved = DisputeRow {
        state: "resolved".to_owned(),
        resolution: "refunded ✓".to_owned(),
        resolved_at_ms: Some(T0 + 10),
        ..d1.clone()
    };
    assert_eq!(list(true), vec![d2.clone()], "a resolved dispute is no longer listed as open");
    assert_eq!(
        list(false),
        vec![resolved.clone(), d2.clone()],
        "disputes(all) lists resolved ones with their resolution"
    );

    let d3 = open(o1, "c@kedai.my", T0 + 20);
    assert!(d3.id != d1.id && d3.state == "open", "once resolved, an order can be disputed again: {d3:?}");
    assert_eq!(list(false), vec![resolved, d2, d3], "all disputes, by id");
}

/// An operator looks a refid up across merchants.
pub fn orders_with_refid(store: &dyn Store) {
    let a = create(store, Environment::Staging, "refid-a");
    let b = create(store, Environment::Staging, "refid-b");
    let mut w = writer(store);
    must("begin", w.begin());
    let first = insert(w.as_mut(), &order(a.id, "SHARED-1", 43, 100, T0));
    let second = insert(w.as_mut(), &order(b.id, "SHARED-1", 43, 100, T0));
    insert(w.as_mut(), &order(a.id, "ONLY-A", 43, 100, T0));
    must("commit", w.commit());
    let found = must("orders_with_refid", block(store.orders_with_refid("SHARED-1")));
    assert_eq!(found, vec![first, second], "both merchants' orders, by id");
    assert_eq!(must("orders_with_refid", block(store.orders_with_refid("ONLY-A"))).len(), 1);
    assert!(must("orders_with_refid", block(store.orders_with_refid("NONE"))).is_empty());
}

/// The one-query look-ups of the hot path answer exactly what their parts do.
pub fn combined_lookups(store: &dyn Store) {
    let m = create(store, Environment::Staging, "combined");
    let user = must("user_by_username", block(store.user_by_username("combined"))).expect("user");
    let key = ApiKeyRow {
        key_id: "tbh_test_combined".into(),
        merchant_id: m.id,
        secret_sealed: vec![1, 2, 3],
        revoked: false,
    };
    must("insert_api_key", block(store.insert_api_key(&key, T0)));
    let token = TokenRow {
        token_hash: "combined-hash".into(),
        kind: TokenKind::Id,
        merchant_id: m.id,
        user_id: user.id,
        expires_at_ms: T0 + 1_000,
        revoked: false,
    };
    must("insert_token", block(store.insert_token(&token, T0)));
    deposit(store, Environment::Staging, m.wallet_id, 5_000);
    let mut w = writer(store);
    must("begin", w.begin());
    let o = insert(w.as_mut(), &order(m.id, "COMBINED-1", 43, 100, T0));
    must("commit", w.commit());
    let merchant = must("merchant", block(store.merchant(m.id))).expect("merchant");
    assert_eq!(
        must("api_key_with_merchant", block(store.api_key_with_merchant("tbh_test_combined"))),
        Some((key, merchant.clone())),
        "key and merchant"
    );
    assert_eq!(must("api_key_with_merchant", block(store.api_key_with_merchant("nope"))), None);
    assert_eq!(
        must("token_with_merchant", block(store.token_with_merchant("combined-hash"))),
        Some((token, merchant)),
        "token and merchant"
    );
    assert_eq!(must("token_with_merchant", block(store.token_with_merchant("nope"))), None);
    assert_eq!(
        must("order_with_balance", block(store.order_with_balance(m.id, "COMBINED-1", m.wallet_id))),
        (Some(o), 5_000),
        "order and balance"
    );
    assert_eq!(
        must("order_with_balance", block(store.order_with_balance(m.id, "NONE", m.wallet_id))),
        (None, 5_000),
        "no order, still the balance"
    );
}
