//! The write session and the store itself: savepoints inside a `Writer`'s
//! transaction, and `ping`.

use tambah_domain::{Amount, Environment, StatusCode};
use tambah_store::{Store, TransferKind};

use crate::fixtures::{
    assert_verified, balance, block, create, expect_unique, insert, must, new_transfer, order, systems, writer, Books,
    T0,
};

/// rollback_to_savepoint undoes only the work since the savepoint (orders and
/// transfers alike); release_savepoint keeps it.
pub fn savepoints(store: &dyn Store) {
    let m = create(store, Environment::Staging, "sp");
    let s = systems(store, Environment::Staging);
    let mut w = writer(store);
    must("begin", w.begin());
    let books = Books::open(w.as_mut(), &[m.wallet_id, s.funding, s.holds, s.revenue]);
    let a = insert(w.as_mut(), &order(m.id, "A", StatusCode::INSUFFICIENT_CREDIT, Amount::ZERO, T0));

    must("savepoint", w.savepoint());
    insert(w.as_mut(), &order(m.id, "B", StatusCode::INSUFFICIENT_CREDIT, Amount::ZERO, T0));
    must(
        "insert_transfer",
        w.insert_transfer(&new_transfer(
            TransferKind::Deposit,
            s.funding,
            m.wallet_id,
            Amount::from_minor(500),
            None,
            None,
        )),
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
    let c = insert(w.as_mut(), &order(m.id, "C", StatusCode::INSUFFICIENT_CREDIT, Amount::ZERO, T0));
    must("release_savepoint", w.release_savepoint());
    assert_eq!(
        must("find_order", w.find_order(m.id, "C")),
        Some(c.clone()),
        "release_savepoint keeps the work done since the savepoint"
    );

    // A failed statement inside a savepoint does not sink the transaction.
    must("savepoint", w.savepoint());
    expect_unique(
        "insert_order of a refid the merchant already has",
        w.insert_order(&order(m.id, "A", StatusCode::INSUFFICIENT_CREDIT, Amount::ZERO, T0)),
    );
    must("rollback_to_savepoint", w.rollback_to_savepoint());
    let d = insert(w.as_mut(), &order(m.id, "D", StatusCode::INSUFFICIENT_CREDIT, Amount::ZERO, T0));

    books.flush(w.as_mut());
    must("commit", w.commit());

    for (refid, expected) in [("A", Some(a)), ("B", None), ("C", Some(c)), ("D", Some(d))] {
        assert_eq!(
            must("order_by_refid", block(store.order_by_refid(m.id, refid))),
            expected,
            "after commit, order {refid} is visible exactly when its savepoint was kept"
        );
    }
    assert_eq!(balance(store, m.wallet_id), Amount::ZERO, "no money moved");
    assert_verified(store, "after a transfer rolled back to a savepoint (it must leave no entry)");
}

/// ping answers on a healthy store; a heartbeat is a write that can be
/// repeated (one row per node, the latest time).
pub fn ping(store: &dyn Store) {
    must("ping", block(store.ping()));
    must("heartbeat", block(store.heartbeat("node-a", 1_000)));
    must("heartbeat again", block(store.heartbeat("node-a", 2_000)));
    must("heartbeat of another node", block(store.heartbeat("node-b", 2_000)));
}
