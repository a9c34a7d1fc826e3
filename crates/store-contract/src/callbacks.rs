//! Callbacks: the merchant's callback and low-balance settings, the outbox
//! queued inside the writer's transaction, leases on due callbacks, and the
//! attempts log.

use tambah_domain::{AccountId, Amount, CallbackId, Environment, MerchantId, OrderId, StatusCode};
use tambah_store::{
    CallbackAttempt, CallbackKind, CallbackNext, CallbackRow, CallbackSecrets, Claim, LowBalanceWatch, MerchantRow,
    NewCallback, OrderCallbacks, OrderRow, Store, Writer,
};

use crate::fixtures::{
    block, create, expect_constraint, insert_committed, merchant_now, must, order, systems, writer, T0,
};

fn claim_at(node: &str, now_ms: i64, lease_ms: i64, limit: u32) -> Claim {
    Claim { node: node.to_owned(), accepted_before_ms: 0, now_ms, lease_ms, limit }
}

/// Claims with no merchant's cap in the way.
fn claim_callbacks(store: &dyn Store, claim: &Claim) -> Vec<CallbackRow> {
    claim_capped(store, claim, 1_000)
}

fn claim_capped(store: &dyn Store, claim: &Claim, per_merchant: u32) -> Vec<CallbackRow> {
    must("claim_due_callbacks", block(store.claim_due_callbacks(claim, per_merchant)))
}

fn order_callback(order: &OrderRow, status: StatusCode, balance: Amount, created_at_ms: i64) -> NewCallback {
    NewCallback {
        merchant_id: order.merchant_id,
        kind: CallbackKind::Order,
        order_id: Some(order.id),
        status: Some(status),
        balance,
        created_at_ms,
    }
}

fn low_balance_callback(merchant_id: MerchantId, balance: Amount, created_at_ms: i64) -> NewCallback {
    NewCallback { merchant_id, kind: CallbackKind::LowBalance, order_id: None, status: None, balance, created_at_ms }
}

/// The row a callback reads back as before any attempt.
fn queued(id: CallbackId, c: &NewCallback) -> CallbackRow {
    CallbackRow {
        id,
        merchant_id: c.merchant_id,
        kind: c.kind,
        order_id: c.order_id,
        status: c.status,
        balance: c.balance,
        created_at_ms: c.created_at_ms,
        attempts: 0,
        state: "pending".to_owned(),
    }
}

fn callback_log(store: &dyn Store, order_id: OrderId) -> Vec<(CallbackRow, Vec<CallbackAttempt>)> {
    must("callback_log", block(store.callback_log(order_id)))
}

/// Callback URL and method, and the sealed callback secrets with a rotation's
/// previous secret and its end, round-trip exactly and can be cleared.
pub fn callback_settings(store: &dyn Store) {
    let m = create(store, Environment::Staging, "cb-settings");
    let other = create(store, Environment::Staging, "cb-other");
    assert_eq!(
        (m.email.as_str(), m.callback_url.as_str(), m.callback_method.as_str(), m.low_balance_threshold),
        ("", "", "POST", Amount::ZERO),
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
    must("set_low_balance_threshold", block(store.set_low_balance_threshold(a.id, Amount::from_minor(5_000))));
    must("set_low_balance_threshold", block(store.set_low_balance_threshold(c.id, Amount::from_minor(1))));
    assert_eq!(
        merchant_now(store, a.id),
        MerchantRow { low_balance_threshold: Amount::from_minor(5_000), ..a.clone() },
        "set_low_balance_threshold sets the threshold and nothing else"
    );
    assert_eq!(merchant_now(store, b.id), b, "set_low_balance_threshold changes only that merchant");

    let watch_a = |threshold: Amount, notified: bool| watch(&a, threshold, notified);
    let watch_c = LowBalanceWatch {
        wallet_id: c.wallet_id,
        merchant_id: c.id,
        threshold: Amount::from_minor(1),
        notified: false,
    };
    let mut all = vec![a.wallet_id, b.wallet_id, c.wallet_id, s.funding, s.holds, s.revenue];
    all.sort_unstable();
    let mut both = vec![watch_a(Amount::from_minor(5_000), false), watch_c];
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
        vec![watch_a(Amount::from_minor(5_000), true)],
        "set_low_balance_notified is seen in the same transaction"
    );
    must("rollback", w.rollback());
    must("begin", w.begin());
    assert_eq!(
        watched(w.as_mut(), &[a.wallet_id]),
        vec![watch_a(Amount::from_minor(5_000), false)],
        "a rolled-back mark is not kept"
    );
    must("set_low_balance_notified", w.set_low_balance_notified(a.id, true));
    must("commit", w.commit());

    the_mark_is_kept_cleared_and_reset(store, w.as_mut(), &a, watch_c, &all);
}

/// The watch of merchant `m` at `threshold`, notified or not.
fn watch(m: &MerchantRow, threshold: Amount, notified: bool) -> LowBalanceWatch {
    LowBalanceWatch { wallet_id: m.wallet_id, merchant_id: m.id, threshold, notified }
}

/// What low_balance_watch answers for `ids`, by wallet.
fn watched(w: &mut dyn Writer, ids: &[AccountId]) -> Vec<LowBalanceWatch> {
    let mut got = must("low_balance_watch", w.low_balance_watch(ids));
    got.sort_by_key(|x| x.wallet_id);
    got
}

/// With merchant `a` (threshold 5 000) notified and committed: the mark is
/// kept for `a` only, cleared by the writer, and cleared by a new threshold;
/// a threshold of 0 unwatches, a negative one is refused.
fn the_mark_is_kept_cleared_and_reset(
    store: &dyn Store,
    w: &mut dyn Writer,
    a: &MerchantRow,
    watch_c: LowBalanceWatch,
    all: &[AccountId],
) {
    let watch_a = |threshold: Amount, notified: bool| watch(a, threshold, notified);
    must("begin", w.begin());
    assert_eq!(
        watched(w, all),
        {
            let mut v = vec![watch_a(Amount::from_minor(5_000), true), watch_c];
            v.sort_by_key(|x| x.wallet_id);
            v
        },
        "a committed mark is kept, and only for that merchant"
    );
    must("set_low_balance_notified", w.set_low_balance_notified(a.id, false));
    must("commit", w.commit());
    must("begin", w.begin());
    assert_eq!(
        watched(w, &[a.wallet_id]),
        vec![watch_a(Amount::from_minor(5_000), false)],
        "set_low_balance_notified(false) clears the mark"
    );
    must("set_low_balance_notified", w.set_low_balance_notified(a.id, true));
    must("commit", w.commit());

    must("set_low_balance_threshold", block(store.set_low_balance_threshold(a.id, Amount::from_minor(7_000))));
    assert_eq!(
        merchant_now(store, a.id).low_balance_threshold,
        Amount::from_minor(7_000),
        "the threshold can be changed"
    );
    must("begin", w.begin());
    assert_eq!(
        watched(w, &[a.wallet_id]),
        vec![watch_a(Amount::from_minor(7_000), false)],
        "set_low_balance_threshold clears the notified mark"
    );
    must("rollback", w.rollback());

    must("set_low_balance_threshold", block(store.set_low_balance_threshold(a.id, Amount::ZERO)));
    must("begin", w.begin());
    assert_eq!(watched(w, all), vec![watch_c], "a threshold of 0 is no threshold: the wallet is not watched");
    must("rollback", w.rollback());
    expect_constraint(
        "a negative low-balance threshold",
        block(store.set_low_balance_threshold(a.id, Amount::from_minor(-1))),
    );
    assert_eq!(merchant_now(store, a.id).low_balance_threshold, Amount::ZERO, "a refused threshold is not kept");
}

/// insert_callback queues inside the writer's transaction: invisible until
/// commit, gone after a rollback, due at its creation time.
pub fn callback_outbox(store: &dyn Store) {
    let m = create(store, Environment::Staging, "outbox");
    let o = insert_committed(store, &[order(m.id, "outbox-1", StatusCode::INSUFFICIENT_CREDIT, Amount::ZERO, T0)])
        .remove(0);
    let mut w = writer(store);

    let first = order_callback(&o, StatusCode::INSUFFICIENT_CREDIT, Amount::from_minor(1_234), T0 + 10);
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
    let gone = must(
        "insert_callback",
        w.insert_callback(&order_callback(&o, StatusCode::SUCCESSFUL, Amount::from_minor(5), T0 + 11)),
    );
    assert_ne!(gone, id, "insert_callback returns distinct ids");
    must("rollback", w.rollback());
    assert_eq!(
        callback_log(store, o.id),
        vec![(first_row.clone(), vec![])],
        "a callback of a rolled-back transaction is gone"
    );

    let low = low_balance_callback(m.id, Amount::from_minor(99), T0 + 30);
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
        claim_callbacks(store, &claim_at("n", T0 + 10, 10, 100)),
        vec![first_row.clone()],
        "a queued callback is due at its creation time"
    );
    assert_eq!(
        claim_callbacks(store, &claim_at("n", T0 + 30, 1_000, 100)),
        vec![first_row, queued(low_id, &low)],
        "both committed callbacks are due once the lease on the first ran out, ordered by id, full rows"
    );
}

/// order_callbacks counts an order's callbacks inside the writer's
/// transaction: those still pending, and all of them, including one queued
/// in the same transaction; delivered and failed ones count only in all.
pub fn order_callbacks(store: &dyn Store) {
    let m = create(store, Environment::Staging, "counted");
    let orders = insert_committed(
        store,
        &[
            order(m.id, "counted-1", StatusCode::SUCCESSFUL, Amount::ZERO, 0),
            order(m.id, "counted-2", StatusCode::SUCCESSFUL, Amount::ZERO, 0),
        ],
    );
    let (o1, o2) = (&orders[0], &orders[1]);
    let counted = |w: &mut dyn Writer, o: &OrderRow| must("order_callbacks", w.order_callbacks(o.id));
    let mut w = writer(store);
    must("begin", w.begin());
    assert_eq!(counted(w.as_mut(), o1), OrderCallbacks::default(), "an order without callbacks counts none");
    let c1 = must(
        "insert_callback",
        w.insert_callback(&order_callback(o1, StatusCode::SUCCESSFUL, Amount::from_minor(1), 10)),
    );
    assert_eq!(
        counted(w.as_mut(), o1),
        OrderCallbacks { pending: 1, queued: 1 },
        "a callback queued in the transaction is counted in it"
    );
    must("commit", w.commit());
    let c2 = must(
        "enqueue_callback",
        block(store.enqueue_callback(&order_callback(o1, StatusCode::REFUND, Amount::from_minor(2), 20))),
    );
    must(
        "enqueue_callback",
        block(store.enqueue_callback(&order_callback(o2, StatusCode::SUCCESSFUL, Amount::ZERO, 30))),
    );
    must("enqueue_callback", block(store.enqueue_callback(&low_balance_callback(m.id, Amount::ZERO, 40))));
    let ended = |id: CallbackId, next: CallbackNext| {
        let attempt = CallbackAttempt {
            callback_id: id,
            attempt: 1,
            at_ms: 50,
            url: "https://kedai.example/cb".to_owned(),
            http_status: Some(200),
            latency_ms: 5,
            error: String::new(),
            response_excerpt: String::new(),
        };
        must("record_callback_attempt", block(store.record_callback_attempt(&attempt, next)));
    };
    ended(c1, CallbackNext::Delivered);
    must("begin", w.begin());
    assert_eq!(
        counted(w.as_mut(), o1),
        OrderCallbacks { pending: 1, queued: 2 },
        "a delivered callback counts in all only; another order's and a low-balance notice not at all"
    );
    assert_eq!(counted(w.as_mut(), o2), OrderCallbacks { pending: 1, queued: 1 }, "order_callbacks is per order");
    must("rollback", w.rollback());
    ended(c2, CallbackNext::RetryAt(100));
    must("begin", w.begin());
    assert_eq!(counted(w.as_mut(), o1).pending, 1, "a callback waiting for its retry is pending");
    must("rollback", w.rollback());
    ended(c2, CallbackNext::Failed);
    must("begin", w.begin());
    assert_eq!(counted(w.as_mut(), o1), OrderCallbacks { pending: 0, queued: 2 }, "a failed callback is not pending");
    must("rollback", w.rollback());
}

/// claim_due_callbacks leases like claim_due_orders: due (pending, next attempt
/// at or before now) callbacks no node holds a live lease on, ordered by id,
/// at most `limit`; a node does not take again what it holds (in flight).
pub fn claim_due_callbacks(store: &dyn Store) {
    let m = create(store, Environment::Staging, "due-cb");
    let orders = insert_committed(
        store,
        &[0, 2, 4].map(|i| order(m.id, &format!("due-cb-{i}"), StatusCode::SUCCESSFUL, Amount::ZERO, 0)),
    );
    let mut rows = Vec::new();
    for (i, at) in [900, 100, 5_000, 1_000, 1_001, 50].into_iter().enumerate() {
        let new = if i % 2 == 0 {
            order_callback(&orders[i / 2], StatusCode::SUCCESSFUL, Amount::from_minor(10 * i as i64), at)
        } else {
            low_balance_callback(m.id, Amount::from_minor(7), at)
        };
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
        due_by(now)[2..],
        "claim_due_callbacks returns the other callbacks due by now, ordered by id, full rows; not the two the \
         node holds already (they are in flight)"
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
    let mut taken_over = due_by(2_001);
    taken_over.retain(|r| r.created_at_ms != 1_001);
    assert_eq!(
        claim_callbacks(store, &claim_at("b", 2_001, 10_000, 100)),
        taken_over,
        "after the lease ends another node takes the callbacks (the holder died), not the one it holds itself"
    );
    assert!(
        claim_callbacks(store, &claim_at("a", 2_001, 1_000, 100)).is_empty(),
        "and the first node no longer gets them"
    );
    assert_eq!(
        times(&claim_callbacks(store, &claim_at("c", 5_000, 1_000, 100))),
        vec![5_000, 1_001],
        "a callback becomes due at its time, one whose lease ran out is taken again; the others are still leased"
    );
    assert!(
        claim_callbacks(store, &claim_at("d", 49, 1_000, 100)).is_empty(),
        "nothing is due before anything was created"
    );
}

/// The callbacks of one order go one after the other: only the oldest
/// pending one is claimed, the next waits while it waits for a retry, and
/// goes once it is delivered or given up; other orders are not held up.
pub fn callbacks_of_an_order_go_in_turn(store: &dyn Store) {
    let m = create(store, Environment::Staging, "in-turn");
    let orders = insert_committed(
        store,
        &[
            order(m.id, "turn-1", StatusCode::SUCCESSFUL, Amount::ZERO, 0),
            order(m.id, "turn-2", StatusCode::SUCCESSFUL, Amount::ZERO, 0),
        ],
    );
    let enqueue = |c: &NewCallback| queued(must("enqueue_callback", block(store.enqueue_callback(c))), c);
    let c1 = enqueue(&order_callback(&orders[0], StatusCode::SUCCESSFUL, Amount::from_minor(5), 100));
    let c2 = enqueue(&order_callback(&orders[0], StatusCode::REFUND, Amount::from_minor(6), 200));
    let d1 = enqueue(&order_callback(&orders[1], StatusCode::SUCCESSFUL, Amount::from_minor(7), 300));
    let mut first = vec![c1.clone(), d1];
    first.sort_by_key(|r| r.id);
    assert_eq!(
        claim_callbacks(store, &claim_at("a", 1_000, 100_000, 100)),
        first,
        "only the oldest pending callback of an order is claimed; another order's is not held up"
    );
    let attempt = |n: u32, at_ms: i64, http_status: u16| CallbackAttempt {
        callback_id: c1.id,
        attempt: n,
        at_ms,
        url: "https://kedai.example/cb".to_owned(),
        http_status: Some(http_status),
        latency_ms: 5,
        error: String::new(),
        response_excerpt: String::new(),
    };
    let record = |a: &CallbackAttempt, next: CallbackNext| {
        must("record_callback_attempt", block(store.record_callback_attempt(a, next)));
    };
    record(&attempt(1, 1_000, 503), CallbackNext::RetryAt(5_000));
    assert!(
        claim_callbacks(store, &claim_at("b", 2_000, 100_000, 100)).is_empty(),
        "the next callback of the order waits while the one before waits for its retry"
    );
    record(&attempt(2, 2_000, 200), CallbackNext::Delivered);
    assert_eq!(
        claim_callbacks(store, &claim_at("b", 2_001, 100_000, 100)),
        vec![c2.clone()],
        "once the one before is delivered, the next goes"
    );
    record(&CallbackAttempt { callback_id: c2.id, ..attempt(1, 2_001, 404) }, CallbackNext::Failed);
    let c3 = enqueue(&order_callback(&orders[0], StatusCode::SUCCESSFUL, Amount::from_minor(8), 2_002));
    assert_eq!(
        claim_callbacks(store, &claim_at("b", 3_000, 100_000, 100)),
        vec![c3],
        "one given up does not hold up the next either"
    );
}

/// Each merchant has at most `per_merchant` callbacks in flight, counting
/// the live leases of every node; a delivered one or a lease that ran out
/// frees a place; other merchants are not held up.
pub fn callbacks_in_flight_per_merchant(store: &dyn Store) {
    let m = create(store, Environment::Staging, "cap-m");
    let n = create(store, Environment::Staging, "cap-n");
    let enqueue = |c: &NewCallback| queued(must("enqueue_callback", block(store.enqueue_callback(c))), c);
    let ms: Vec<CallbackRow> =
        (0..5).map(|i| enqueue(&low_balance_callback(m.id, Amount::from_minor(i), 100 + i))).collect();
    let ns: Vec<CallbackRow> =
        (0..2).map(|i| enqueue(&low_balance_callback(n.id, Amount::from_minor(i), 200 + i))).collect();
    let sorted = |mut v: Vec<CallbackRow>| {
        v.sort_by_key(|r| r.id);
        v
    };
    assert_eq!(
        claim_capped(store, &claim_at("a", 1_000, 1_000, 100), 2),
        sorted(vec![ms[0].clone(), ms[1].clone(), ns[0].clone(), ns[1].clone()]),
        "at most 2 of a merchant's callbacks are claimed; the other merchant's are not held up"
    );
    assert!(
        claim_capped(store, &claim_at("b", 1_000, 1_000, 100), 2).is_empty(),
        "another node counts the leases the first holds: both merchants are at their cap"
    );
    let delivered = CallbackAttempt {
        callback_id: ms[0].id,
        attempt: 1,
        at_ms: 1_000,
        url: "https://kedai.example/cb".to_owned(),
        http_status: Some(200),
        latency_ms: 5,
        error: String::new(),
        response_excerpt: String::new(),
    };
    must("record_callback_attempt", block(store.record_callback_attempt(&delivered, CallbackNext::Delivered)));
    assert_eq!(
        claim_capped(store, &claim_at("b", 1_000, 1_000, 100), 2),
        vec![ms[2].clone()],
        "a delivered callback frees its place"
    );
    assert_eq!(
        claim_capped(store, &claim_at("b", 1_000, 1_000, 100), 3),
        vec![ms[3].clone()],
        "the cap is the claimer's: with 3, one more"
    );
    assert_eq!(
        claim_capped(store, &claim_at("c", 2_001, 1_000, 100), 2),
        sorted(vec![ms[1].clone(), ms[2].clone(), ns[0].clone(), ns[1].clone()]),
        "leases that ran out count no more (their node died): the callbacks are taken again, within the cap"
    );
}

/// record_callback_attempt logs each attempt and moves the callback on: a
/// retry is due again at its time (for any node), delivered and failed
/// callbacks are never claimed again; callback_log lists an order's
/// callbacks with their attempts, oldest first.
pub fn callback_attempts(store: &dyn Store) {
    let m = create(store, Environment::Staging, "attempts");
    let orders = insert_committed(
        store,
        &[
            order(m.id, "att-1", StatusCode::SUCCESSFUL, Amount::ZERO, 0),
            order(m.id, "att-2", StatusCode::SUCCESSFUL, Amount::ZERO, 0),
        ],
    );
    let (o1, o2) = (&orders[0], &orders[1]);
    let enqueue = |c: &NewCallback| queued(must("enqueue_callback", block(store.enqueue_callback(c))), c);
    let c1 = enqueue(&order_callback(o1, StatusCode::SUCCESSFUL, Amount::from_minor(5_000), 1_000));
    let c1b = enqueue(&order_callback(o1, StatusCode::REFUND, Amount::from_minor(6_000), 1_100));
    let c2 = enqueue(&order_callback(o2, StatusCode::SUCCESSFUL, Amount::from_minor(4_000), 1_000));
    let low = enqueue(&low_balance_callback(m.id, Amount::from_minor(4_000), 1_000));
    assert_eq!(
        callback_log(store, o1.id),
        vec![(c1.clone(), vec![]), (c1b.clone(), vec![])],
        "callback_log lists every callback of the order, by id, without attempts yet"
    );
    let mut all = vec![c1.clone(), c2.clone(), low.clone()];
    all.sort_by_key(|r| r.id);
    assert_eq!(
        claim_callbacks(store, &claim_at("n", 1_100, 10_000, 100)),
        all,
        "all are due; the second of o1 waits for the first"
    );

    let [a1, a2, a3, a4] = retries_then_delivered_and_failed(store, &c1, &c1b);

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
    let unknown = OrderId::new(o1.id.max(o2.id).get() + 1_000);
    assert!(callback_log(store, unknown).is_empty(), "callback_log of an unknown order is empty");
}

/// Records attempts on `c1` (two retries, then delivered) and on `c1b`
/// (failed), checking when each retry is due; returns the four attempts.
fn retries_then_delivered_and_failed(store: &dyn Store, c1: &CallbackRow, c1b: &CallbackRow) -> [CallbackAttempt; 4] {
    let record = |a: &CallbackAttempt, next: CallbackNext| {
        must("record_callback_attempt", block(store.record_callback_attempt(a, next)));
    };

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
    [a1, a2, a3, a4]
}
