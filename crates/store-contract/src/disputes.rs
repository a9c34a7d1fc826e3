//! Disputes: opened once per order while open, resolved once, listed.

use tambah_domain::{Amount, DisputeId, Environment, StatusCode};
use tambah_store::{DisputeRow, OrderRow, Store};

use crate::fixtures::{block, create, insert_committed, must, order, T0};

/// Disputes: opening twice returns the one open dispute; resolving closes it
/// once; listings of open ones and of all.
pub fn disputes(store: &dyn Store) {
    let m = create(store, Environment::Staging, "disputes");
    let orders = insert_committed(
        store,
        &[
            order(m.id, "d-1", StatusCode::SUCCESSFUL, Amount::ZERO, T0),
            order(m.id, "d-2", StatusCode::REFUND, Amount::ZERO, T0),
        ],
    );
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
    let mine =
        |order: Option<tambah_domain::OrderId>| must("merchant_disputes", block(store.merchant_disputes(m.id, order)));
    assert_eq!(mine(None), vec![d2.clone(), d1.clone()], "a merchant's disputes, newest first");
    assert_eq!(mine(Some(o1.id)), vec![d1.clone()], "of one order");
    let other = create(store, Environment::Staging, "no-disputes");
    assert!(
        must("merchant_disputes", block(store.merchant_disputes(other.id, None))).is_empty(),
        "another merchant's are not its"
    );

    assert!(
        must("resolve_dispute", block(store.resolve_dispute(d1.id, "refunded ✓", T0 + 10))),
        "resolving an open dispute returns true"
    );
    assert!(
        !must("resolve_dispute", block(store.resolve_dispute(d1.id, "again", T0 + 11))),
        "resolving a resolved dispute returns false"
    );
    let unknown = DisputeId::new(d1.id.max(d2.id).get() + 1_000);
    assert!(
        !must("resolve_dispute", block(store.resolve_dispute(unknown, "x", T0 + 11))),
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
