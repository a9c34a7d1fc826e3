//! Orders: writing them through a `Writer` (visibility, uniqueness, updates,
//! rollback), leasing due orders to nodes, and the readers' look-ups.

use tambah_domain::{Amount, Environment, OrderId, StatusCode};
use tambah_store::{Claim, MerchantRow, OrderRow, OrderUpdate, Store, Writer};

use crate::fixtures::{block, create, expect_unique, insert, must, order, rich_order, writer, T0};

/// Orders written through a Writer: visibility, uniqueness, updates, rollback.
pub fn writer_orders(store: &dyn Store) {
    let m1 = create(store, Environment::Staging, "ord-1");
    let m2 = create(store, Environment::Staging, "ord-2");
    let mut w = writer(store);
    let [r1, r2, other] = inserts_are_seen_in_their_transaction(store, w.as_mut(), &m1, &m2);
    update_order_changes_the_provider_fields(store, w.as_mut(), &m1, [&r1, &r2, &other]);
    a_rollback_leaves_nothing(store, w.as_mut(), &m1);
}

/// Inserted orders are seen by the writer at once and by readers at commit;
/// a refid is unique per merchant. Returns m1's R1 and R2 and m2's R1.
fn inserts_are_seen_in_their_transaction(
    store: &dyn Store,
    w: &mut dyn Writer,
    m1: &MerchantRow,
    m2: &MerchantRow,
) -> [OrderRow; 3] {
    must("begin", w.begin());
    let mut with_recheck = rich_order(m1.id, "R1", Some(T0 + 60_000));
    with_recheck.id = OrderId::new(987_654); // ignored by insert_order
    let r1 = insert(w, &with_recheck);
    let r2 = insert(w, &rich_order(m1.id, "R2", None));
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
    let unknown = OrderId::new(r1.id.max(r2.id).get() + 1000);
    assert_eq!(must("get_order", w.get_order(unknown)), None, "get_order of an unknown id is None");
    assert_eq!(
        must("order_by_refid", block(store.order_by_refid(m1.id, "R1"))),
        None,
        "readers do not see an order before its transaction commits"
    );

    must("savepoint", w.savepoint());
    expect_unique(
        "insert_order of a refid the merchant already has",
        w.insert_order(&order(m1.id, "R1", StatusCode::ACCEPTED, Amount::from_minor(1), T0)),
    );
    must("rollback_to_savepoint", w.rollback_to_savepoint());
    let other = insert(w, &rich_order(m2.id, "R1", None));
    assert_ne!(other.id, r1.id, "the same refid for another merchant is a new order");
    must("commit", w.commit());

    for row in [&r1, &r2, &other] {
        assert_eq!(
            must("order_by_refid", block(store.order_by_refid(row.merchant_id, &row.refid))).as_ref(),
            Some(row),
            "order_by_refid sees a committed order, every field preserved"
        );
    }
    [r1, r2, other]
}

/// update_order changes the provider-facing fields and nothing else.
fn update_order_changes_the_provider_fields(
    store: &dyn Store,
    w: &mut dyn Writer,
    m1: &MerchantRow,
    [r1, r2, other]: [&OrderRow; 3],
) {
    must("begin", w.begin());
    let update = OrderUpdate {
        id: r1.id,
        status: StatusCode::SUCCESSFUL,
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
        status: StatusCode::PROCESSING,
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
    let missing = OrderUpdate { id: OrderId::new(r1.id.max(r2.id).max(other.id).get() + 1000), ..update.clone() };
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
}

/// A rolled-back transaction leaves nothing behind, and the writer goes on.
fn a_rollback_leaves_nothing(store: &dyn Store, w: &mut dyn Writer, m1: &MerchantRow) {
    must("begin", w.begin());
    insert(w, &order(m1.id, "R3", StatusCode::INSUFFICIENT_CREDIT, Amount::ZERO, T0));
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
    let r3 = insert(w, &order(m1.id, "R3", StatusCode::INSUFFICIENT_CREDIT, Amount::ZERO, T0));
    must("commit", w.commit());
    assert_eq!(
        must("order_by_refid", block(store.order_by_refid(m1.id, "R3"))),
        Some(r3),
        "the refid of a rolled-back order is free, and the writer is usable after a rollback"
    );
}

/// claim_due_orders: accepted orders created before the cutoff, plus re-checks due
/// by now, each once, ordered by id, at most `limit`.
pub fn claim_due_orders(store: &dyn Store) {
    let m = create(store, Environment::Staging, "due");
    let cutoff = 1_000;
    let now = 5_000;
    // (refid, status, created_at_ms, recheck_at_ms, due)
    let cases: &[(&str, StatusCode, i64, Option<i64>, bool)] = &[
        ("k-posted-recheck", StatusCode::SUCCESSFUL, 500, Some(4_500), true),
        ("h-final", StatusCode::SUCCESSFUL, 500, None, false),
        ("c-accepted-late", StatusCode::ACCEPTED, 2_000, None, false),
        ("a-accepted-early", StatusCode::ACCEPTED, 500, None, true),
        ("g-recheck-later", StatusCode::PROCESSING, 3_000, Some(5_001), false),
        ("i-both", StatusCode::ACCEPTED, 400, Some(100), true),
        ("b-accepted-at-cutoff", StatusCode::ACCEPTED, 1_000, None, false),
        ("f-recheck-now", StatusCode::PROCESSING, 3_000, Some(5_000), true),
        ("d-processing-early", StatusCode::PROCESSING, 500, None, false),
        ("e-recheck-due", StatusCode::PROCESSING, 3_000, Some(4_000), true),
        ("j-failed", StatusCode::REJECTED, 10, None, false),
    ];
    let mut w = writer(store);
    must("begin", w.begin());
    let mut rows = Vec::new();
    for &(refid, status, created, recheck, due) in cases {
        let mut row = order(m.id, refid, status, Amount::ZERO, created);
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

/// order(id) returns a committed order with every field, None otherwise.
pub fn order_by_id(store: &dyn Store) {
    let m = create(store, Environment::Staging, "by-id");
    let mut w = writer(store);
    must("begin", w.begin());
    let r = insert(w.as_mut(), &rich_order(m.id, "by-id-1", Some(T0 + 60_000)));
    assert_eq!(must("order", block(store.order(r.id))), None, "order(id) does not see an uncommitted order");
    must("commit", w.commit());
    assert_eq!(must("order", block(store.order(r.id))), Some(r.clone()), "order(id) returns every field");
    let unknown = OrderId::new(r.id.get() + 1_000);
    assert_eq!(must("order", block(store.order(unknown))), None, "order of an unknown id is None");
}

/// An operator looks a refid up across merchants.
pub fn orders_with_refid(store: &dyn Store) {
    let a = create(store, Environment::Staging, "refid-a");
    let b = create(store, Environment::Staging, "refid-b");
    let mut w = writer(store);
    must("begin", w.begin());
    let first =
        insert(w.as_mut(), &order(a.id, "SHARED-1", StatusCode::INSUFFICIENT_CREDIT, Amount::from_minor(100), T0));
    let second =
        insert(w.as_mut(), &order(b.id, "SHARED-1", StatusCode::INSUFFICIENT_CREDIT, Amount::from_minor(100), T0));
    insert(w.as_mut(), &order(a.id, "ONLY-A", StatusCode::INSUFFICIENT_CREDIT, Amount::from_minor(100), T0));
    must("commit", w.commit());
    let found = must("orders_with_refid", block(store.orders_with_refid("SHARED-1")));
    assert_eq!(found, vec![first, second], "both merchants' orders, by id");
    assert_eq!(must("orders_with_refid", block(store.orders_with_refid("ONLY-A"))).len(), 1);
    assert!(must("orders_with_refid", block(store.orders_with_refid("NONE"))).is_empty());
}

pub fn pending_orders(store: &dyn Store) {
    let a = create(store, Environment::Staging, "pending-a");
    let b = create(store, Environment::Live, "pending-b");
    let mut w = writer(store);
    must("begin", w.begin());
    let cost = Amount::from_minor(100);
    let old_b = insert(w.as_mut(), &order(b.id, "P-OLD-B", StatusCode::PROCESSING, cost, T0 + 1));
    let old_a = insert(w.as_mut(), &order(a.id, "P-OLD-A", StatusCode::ACCEPTED, cost, T0));
    insert(w.as_mut(), &order(a.id, "P-DONE", StatusCode::SUCCESSFUL, cost, T0));
    insert(w.as_mut(), &order(a.id, "P-FAILED", StatusCode::REJECTED, cost, T0));
    insert(w.as_mut(), &order(a.id, "P-NEW", StatusCode::PROCESSING, cost, T0 + 10_000));
    must("commit", w.commit());
    let found = must("pending_orders", block(store.pending_orders(T0 + 5_000, 100)));
    assert_eq!(
        found,
        vec![old_a.clone(), old_b],
        "pending orders of every merchant created before the cut, oldest first"
    );
    assert_eq!(must("pending_orders", block(store.pending_orders(T0 + 5_000, 1))), vec![old_a], "at most the limit");
    assert!(must("pending_orders", block(store.pending_orders(T0, 100))).is_empty(), "created before, strictly");
}
