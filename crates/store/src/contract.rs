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
    ApiKeyRow, Check, Claim, Inserted, MerchantRow, MerchantSettings, NewMerchant, NewTransfer, OrderRow,
    OrderTransfers, OrderUpdate, Result, Store, StoreError, SystemAccounts, TokenKind, TokenRow, TransferKind, UserRow,
    Writer,
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

    fn transfer(&mut self, w: &mut dyn Writer, t: &NewTransfer) -> i64 {
        let id = must(&format!("insert_transfer({})", t.kind.as_str()), w.insert_transfer(t));
        *self.balances.get_mut(&t.debit_account).expect("debit account was locked") -= t.amount_minor;
        *self.balances.get_mut(&t.credit_account).expect("credit account was locked") += t.amount_minor;
        id
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
    let transfer = |kind, debit_account, credit_account| NewTransfer {
        kind,
        debit_account,
        credit_account,
        amount_minor: 4_000,
        order_id: None,
        pending_id: None,
        remarks: String::new(),
        created_at_ms: 7,
    };
    let mut w = writer(store);
    must("begin", w.begin());
    let mut posted = order(m.id, "compound-posted", 20, 4_000, 7);
    let both = OrderTransfers {
        hold: Some(transfer(TransferKind::Hold, m.wallet_id, s.holds)),
        resolution: Some(transfer(TransferKind::Post, s.holds, s.revenue)),
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
