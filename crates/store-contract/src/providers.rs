//! Providers: the connectors the operator configures (unique names, enabled
//! or not), the routes of each product to them, and the attempts at sending
//! an order, written through a `Writer` and answered later.

use tambah_domain::{Amount, Environment, OrderId, ProviderId, StatusCode};
use tambah_store::{
    AttemptAnswer, AttemptOutcome, AttemptRow, Bucket, CostOfGoodsRow, NewAttempt, NewProvider, ProviderKind,
    ProviderRow, RouteRow, Store, Writer,
};

use crate::fixtures::{block, create, expect_unique, insert_committed, must, order, writer, T0};

fn new_provider(name: &str, kind: ProviderKind) -> NewProvider {
    NewProvider {
        name: name.to_owned(),
        kind,
        base_url: format!("https://{name}.example.com/v2"),
        auth_url: if kind == ProviderKind::Reloadly { "https://auth.example.com".to_owned() } else { String::new() },
        ref_prefix: format!("tb{}x", name.len()),
        // Sealed bytes are binary: every byte value must survive.
        secrets_sealed: (0..=255).rev().collect(),
        timeout_ms: 25_000,
        low_balance: (kind == ProviderKind::Ding).then_some(Amount::from_rm(250)),
        now_ms: T0,
    }
}

fn add_provider(store: &dyn Store, name: &str, kind: ProviderKind) -> ProviderRow {
    must(&format!("create_provider({name})"), block(store.create_provider(&new_provider(name, kind))))
}

fn list_providers(store: &dyn Store) -> Vec<ProviderRow> {
    must("providers", block(store.providers()))
}

/// Providers round-trip every field and kind, are listed by name (in byte
/// order on every backend), and a name is unique.
pub fn providers(store: &dyn Store) {
    assert!(list_providers(store).is_empty(), "a fresh store has no providers");
    let mut created = Vec::new();
    // "ding-2" sorts before "ding1" in byte order (a locale's collation may
    // ignore the dash and put it after).
    for (name, kind) in
        [("sim-b", ProviderKind::Iimmpact), ("ding1", ProviderKind::Ding), ("ding-2", ProviderKind::Ding)]
    {
        let row = add_provider(store, name, kind);
        let asked = new_provider(name, kind);
        assert_eq!(
            row,
            ProviderRow {
                id: row.id,
                name: asked.name,
                kind,
                base_url: asked.base_url,
                auth_url: asked.auth_url,
                ref_prefix: asked.ref_prefix,
                secrets_sealed: asked.secrets_sealed,
                timeout_ms: 25_000,
                low_balance: asked.low_balance,
                enabled: true,
                created_at_ms: T0,
                updated_at_ms: T0,
                codes_json: "{}".into(),
            },
            "create_provider returns the new provider, enabled, every field preserved"
        );
        created.push(row);
    }
    let reloadly = add_provider(store, "Reloadly", ProviderKind::Reloadly);
    assert_eq!(reloadly.auth_url, "https://auth.example.com", "create_provider keeps the auth URL");
    let ids: std::collections::BTreeSet<ProviderId> = created.iter().map(|p| p.id).chain([reloadly.id]).collect();
    assert_eq!(ids.len(), 4, "create_provider returns distinct ids");

    let [sim, ding1, ding2] = [&created[0], &created[1], &created[2]];
    let by_name = vec![reloadly.clone(), ding2.clone(), ding1.clone(), sim.clone()];
    assert_eq!(list_providers(store), by_name, "providers() lists every provider by name, in byte order");

    let mut again = new_provider("sim-b", ProviderKind::Ding);
    again.base_url = "https://elsewhere.example.com".to_owned();
    expect_unique("create_provider with a name that is taken", block(store.create_provider(&again)));
    assert_eq!(list_providers(store), by_name, "a refused create_provider changes nothing");
}

/// Disabling and enabling a provider by name stamps it; an unknown name is false.
pub fn provider_enabled(store: &dyn Store) {
    let p = add_provider(store, "sim-b", ProviderKind::Iimmpact);
    let other = add_provider(store, "sim-c", ProviderKind::Iimmpact);
    let set = |name: &str, enabled: bool, now: i64| {
        must("set_provider_enabled", block(store.set_provider_enabled(name, enabled, now)))
    };
    assert!(set("sim-b", false, T0 + 5), "disabling a known provider returns true");
    let disabled = ProviderRow { enabled: false, updated_at_ms: T0 + 5, ..p.clone() };
    assert_eq!(
        list_providers(store),
        vec![disabled, other.clone()],
        "a disabled provider is listed as disabled with its update time, the others unchanged"
    );
    assert!(set("sim-b", true, T0 + 9), "enabling a known provider returns true");
    assert_eq!(
        list_providers(store),
        vec![ProviderRow { updated_at_ms: T0 + 9, ..p }, other],
        "an enabled provider is listed as enabled again"
    );
    assert!(!set("nope", false, T0 + 10), "set_provider_enabled of an unknown name returns false");
    assert!(!set("SIM-B", false, T0 + 10), "provider names are matched exactly");
}

/// A provider starts with no code-table changes; setting them by name stamps
/// it and leaves the others alone; an unknown name is false.
pub fn provider_codes(store: &dyn Store) {
    let p = add_provider(store, "codes-a", ProviderKind::Ding);
    let other = add_provider(store, "codes-b", ProviderKind::Ding);
    assert_eq!(p.codes_json, "{}", "a new provider has no code-table changes");
    let json = r#"{"error:NewCode":"unavailable"}"#;
    let set = |name: &str, now: i64| must("set_provider_codes", block(store.set_provider_codes(name, json, now)));
    assert!(set("codes-a", T0 + 7), "setting the codes of a known provider returns true");
    assert_eq!(
        list_providers(store),
        vec![ProviderRow { codes_json: json.into(), updated_at_ms: T0 + 7, ..p }, other],
        "the changes are kept as given, the row stamped, the other provider unchanged"
    );
    assert!(!set("nope", T0 + 8), "set_provider_codes of an unknown name returns false");
}

fn route(product: &str, provider_id: ProviderId, priority: u32, buy_price: Option<Amount>) -> RouteRow {
    RouteRow {
        product: product.to_owned(),
        provider_id,
        upstream_product: format!("UP-{product}"),
        priority,
        weight: 1,
        buy_price,
    }
}

/// Routes: put_route adds, or replaces the route of the same product and
/// provider; remove_route; listed by product, priority, then provider.
pub fn routes(store: &dyn Store) {
    let list = || must("routes", block(store.routes()));
    let put = |r: &RouteRow| must(&format!("put_route({}, {})", r.product, r.provider_id), block(store.put_route(r)));
    let p1 = add_provider(store, "sim-b", ProviderKind::Iimmpact).id;
    let p2 = add_provider(store, "ding", ProviderKind::Ding).id;
    let p3 = add_provider(store, "reloadly", ProviderKind::Reloadly).id;
    assert!(list().is_empty(), "a fresh store has no routes");

    // Put in an order unlike the listing's.
    let hi10_p2 = RouteRow { weight: 3, ..route("HI10", p2, 1, Some(Amount::from_minor(9_512))) };
    let hi10_p1 = route("HI10", p1, 1, None);
    let hi10_p3 = route("HI10", p3, 0, Some(Amount::ZERO));
    let dg5 = route("DG5", p2, 7, Some(Amount::from_rm(5)));
    let celcom = route("CELCOM30", p1, 2, None);
    for r in [&hi10_p2, &hi10_p1, &hi10_p3, &dg5, &celcom] {
        put(r);
    }
    assert_eq!(
        list(),
        vec![celcom.clone(), dg5.clone(), hi10_p3.clone(), hi10_p1.clone(), hi10_p2.clone()],
        "routes() lists by product, then priority, then provider id, every field preserved (a buy price or none)"
    );

    let replaced = RouteRow { upstream_product: "D-HI-10".to_owned(), weight: 5, buy_price: None, ..hi10_p2 };
    put(&replaced);
    let priced = RouteRow { priority: 0, buy_price: Some(Amount::from_minor(9_700)), ..hi10_p1.clone() };
    put(&priced);
    assert_eq!(
        list(),
        vec![celcom.clone(), dg5.clone(), priced, hi10_p3.clone(), replaced.clone()],
        "put_route of a product and provider that have a route replaces it (no second route)"
    );

    assert!(must("remove_route", block(store.remove_route("HI10", p1))), "removing a route returns true");
    assert!(!must("remove_route", block(store.remove_route("HI10", p1))), "removing it again returns false");
    assert!(!must("remove_route", block(store.remove_route("DG5", p1))), "removing a route never put returns false");
    assert_eq!(list(), vec![celcom, dg5, hi10_p3, replaced], "remove_route removes that route only");
}

fn new_attempt(order_id: OrderId, attempt: u32, provider_id: ProviderId) -> NewAttempt {
    NewAttempt {
        order_id,
        attempt,
        provider_id,
        upstream_ref: format!("tb-{order_id}-{attempt}"),
        // Each try may go out under another provider's code.
        upstream_product: format!("UP-HI10-{attempt}"),
        sent_at_ms: T0 + 1,
    }
}

/// What an attempt reads as before its answer.
fn unanswered(a: &NewAttempt) -> AttemptRow {
    AttemptRow {
        order_id: a.order_id,
        attempt: a.attempt,
        provider_id: a.provider_id,
        upstream_ref: a.upstream_ref.clone(),
        upstream_product: a.upstream_product.clone(),
        sent_at_ms: a.sent_at_ms,
        outcome: AttemptOutcome::Sent,
        upstream_code: String::new(),
        answer_excerpt: String::new(),
        answered_at_ms: None,
        cost: None,
    }
}

fn answered(row: &AttemptRow, answer: &AttemptAnswer) -> AttemptRow {
    AttemptRow {
        outcome: answer.outcome,
        upstream_code: answer.upstream_code.clone(),
        answer_excerpt: answer.answer_excerpt.clone(),
        answered_at_ms: Some(answer.answered_at_ms),
        cost: answer.cost,
        ..row.clone()
    }
}

fn answer(a: &NewAttempt, outcome: AttemptOutcome, code: &str, excerpt: &str) -> AttemptAnswer {
    AttemptAnswer {
        order_id: a.order_id,
        attempt: a.attempt,
        outcome,
        upstream_code: code.to_owned(),
        answer_excerpt: excerpt.to_owned(),
        answered_at_ms: T0 + 100 + i64::from(a.attempt),
        cost: (outcome == AttemptOutcome::Delivered).then(|| Amount::from_minor(97_000 + i64::from(a.attempt))),
    }
}

fn list_attempts(store: &dyn Store, order_id: OrderId) -> Vec<AttemptRow> {
    must("attempts", block(store.attempts(order_id)))
}

/// Attempts written through a Writer: seen by readers at commit, answered,
/// the latest by number, every outcome kept, the upstream reference unique,
/// and nothing left by a rollback.
pub fn attempts(store: &dyn Store) {
    let m = create(store, Environment::Live, "attempts");
    let orders: Vec<OrderId> = insert_committed(
        store,
        &["A-1", "A-2", "A-3"].map(|refid| order(m.id, refid, StatusCode::PROCESSING, Amount::from_rm(10), T0)),
    )
    .into_iter()
    .map(|o| o.id)
    .collect();
    let p1 = add_provider(store, "sim-b", ProviderKind::Iimmpact).id;
    let p2 = add_provider(store, "ding", ProviderKind::Ding).id;
    let mut w = writer(store);
    let first = attempts_are_written_then_answered(store, w.as_mut(), orders[0], [p1, p2]);
    every_outcome_is_kept(store, w.as_mut(), orders[1], p1);
    an_upstream_ref_is_used_once(store, w.as_mut(), &first, orders[1]);
    a_rollback_leaves_no_attempt(store, w.as_mut(), orders[2], p1);
}

/// An attempt is seen by the writer at once, by readers at commit, and reads
/// back answered; `last_attempt` is the highest number, `attempts()` is in
/// number order. Returns the first attempt as written.
fn attempts_are_written_then_answered(
    store: &dyn Store,
    w: &mut dyn Writer,
    order_id: OrderId,
    [p1, p2]: [ProviderId; 2],
) -> NewAttempt {
    assert_eq!(must("last_attempt", w.last_attempt(order_id)), None, "an order never sent has no last attempt");
    let a1 = new_attempt(order_id, 1, p1);
    must("begin", w.begin());
    must("insert_attempt", w.insert_attempt(&a1));
    assert_eq!(
        must("last_attempt", w.last_attempt(order_id)),
        Some(unanswered(&a1)),
        "last_attempt sees an attempt inserted earlier in the same transaction, as sent and unanswered"
    );
    assert!(list_attempts(store, order_id).is_empty(), "readers do not see an attempt before its transaction commits");
    must("commit", w.commit());
    assert_eq!(list_attempts(store, order_id), vec![unanswered(&a1)], "attempts() sees a committed attempt");

    let timeout = answer(&a1, AttemptOutcome::Unknown, "504", "<html>Gateway \"Time-out\"\n— 超时 ✓</html>");
    // Numbers are written out of order: the order is the number's.
    let (a3, a2) = (new_attempt(order_id, 3, p2), new_attempt(order_id, 2, p1));
    let delivered = answer(&a3, AttemptOutcome::Delivered, "00", r#"{"status":"SUCCESSFUL","sn":"SN1"}"#);
    must("begin", w.begin());
    must("answer_attempt", w.answer_attempt(&timeout));
    must("insert_attempt", w.insert_attempt(&a3));
    must("insert_attempt", w.insert_attempt(&a2));
    must("answer_attempt", w.answer_attempt(&delivered));
    let a3_row = answered(&unanswered(&a3), &delivered);
    assert_eq!(
        must("last_attempt", w.last_attempt(order_id)),
        Some(a3_row.clone()),
        "last_attempt is the attempt with the highest number, with its answer"
    );
    must("commit", w.commit());
    assert_eq!(
        list_attempts(store, order_id),
        vec![answered(&unanswered(&a1), &timeout), unanswered(&a2), a3_row],
        "attempts() lists an order's attempts by number, answers preserved"
    );

    let missing = answer(&new_attempt(order_id, 9, p1), AttemptOutcome::Declined, "", "");
    must("begin", w.begin());
    assert!(w.answer_attempt(&missing).is_err(), "answering an attempt that was never written is an error");
    must("rollback", w.rollback());
    a1
}

/// Every outcome is stored and read back as itself.
fn every_outcome_is_kept(store: &dyn Store, w: &mut dyn Writer, order_id: OrderId, provider_id: ProviderId) {
    must("begin", w.begin());
    let mut expected = Vec::new();
    for (n, outcome) in (1..).zip(AttemptOutcome::ALL) {
        let a = new_attempt(order_id, n, provider_id);
        must("insert_attempt", w.insert_attempt(&a));
        let ans = answer(&a, outcome, outcome.as_str(), "");
        must(&format!("answer_attempt({})", outcome.as_str()), w.answer_attempt(&ans));
        expected.push(answered(&unanswered(&a), &ans));
    }
    must("commit", w.commit());
    assert_eq!(list_attempts(store, order_id), expected, "every attempt outcome reads back as itself");
}

/// An upstream reference belongs to one attempt, and an attempt number to
/// one try of an order (`StoreError::Unique`).
fn an_upstream_ref_is_used_once(store: &dyn Store, w: &mut dyn Writer, first: &NewAttempt, other_order: OrderId) {
    let before = list_attempts(store, other_order);
    let next = before.len() as u32 + 1;
    must("begin", w.begin());
    must("savepoint", w.savepoint());
    let reused =
        NewAttempt { upstream_ref: first.upstream_ref.clone(), ..new_attempt(other_order, next, first.provider_id) };
    expect_unique("insert_attempt with an upstream reference already used", w.insert_attempt(&reused));
    must("rollback_to_savepoint", w.rollback_to_savepoint());
    must("savepoint", w.savepoint());
    let again = NewAttempt { upstream_ref: "tb-fresh".to_owned(), ..first.clone() };
    expect_unique("insert_attempt with an attempt number the order already has", w.insert_attempt(&again));
    must("rollback_to_savepoint", w.rollback_to_savepoint());
    let fine = new_attempt(other_order, next, first.provider_id);
    must("insert_attempt after the refused ones", w.insert_attempt(&fine));
    must("commit", w.commit());
    let mut expected = before;
    expected.push(unanswered(&fine));
    assert_eq!(list_attempts(store, other_order), expected, "the refused attempts left nothing, the next one is kept");
}

/// A rolled-back attempt is gone, for the writer and for readers.
fn a_rollback_leaves_no_attempt(store: &dyn Store, w: &mut dyn Writer, order_id: OrderId, provider_id: ProviderId) {
    let a = new_attempt(order_id, 1, provider_id);
    must("begin", w.begin());
    must("insert_attempt", w.insert_attempt(&a));
    must("rollback", w.rollback());
    assert_eq!(must("last_attempt", w.last_attempt(order_id)), None, "a rolled-back attempt is gone for the writer");
    assert!(list_attempts(store, order_id).is_empty(), "a rolled-back attempt is gone for readers");
    must("begin", w.begin());
    must("insert_attempt", w.insert_attempt(&a));
    must("commit", w.commit());
    assert_eq!(list_attempts(store, order_id), vec![unanswered(&a)], "its reference can be used once it rolled back");
}

pub fn attempts_sent(store: &dyn Store) {
    let m = create(store, Environment::Live, "attempts-sent");
    let orders: Vec<OrderId> = insert_committed(
        store,
        &["S-1", "S-2", "S-3"].map(|refid| order(m.id, refid, StatusCode::PROCESSING, Amount::from_rm(10), T0)),
    )
    .into_iter()
    .map(|o| o.id)
    .collect();
    let p1 = add_provider(store, "sent-1", ProviderKind::Iimmpact).id;
    let p2 = add_provider(store, "sent-2", ProviderKind::Iimmpact).id;
    let at = |order_id: OrderId, provider_id: ProviderId, sent_at_ms: i64| NewAttempt {
        sent_at_ms,
        upstream_ref: format!("ref-{order_id}-{provider_id}"),
        ..new_attempt(order_id, 1, provider_id)
    };
    let (late, early, other) = (at(orders[0], p1, T0 + 500), at(orders[1], p1, T0 + 100), at(orders[2], p2, T0 + 200));
    let mut w = writer(store);
    must("begin", w.begin());
    for a in [&late, &early, &other] {
        must("insert_attempt", w.insert_attempt(a));
    }
    must("commit", w.commit());
    let sent = must("attempts_sent", block(store.attempts_sent(p1, T0, T0 + 1_000)));
    assert_eq!(sent, vec![unanswered(&early), unanswered(&late)], "this provider's attempts, by time sent");
    let window = must("attempts_sent", block(store.attempts_sent(p1, T0 + 100, T0 + 500)));
    assert_eq!(window, vec![unanswered(&early)], "from inclusive, to exclusive");
    assert!(must("attempts_sent", block(store.attempts_sent(p2, T0 + 201, T0 + 1_000))).is_empty());
}

pub fn cost_of_goods(store: &dyn Store) {
    let m = create(store, Environment::Live, "cost-of-goods");
    let cost = Amount::from_minor(97_000);
    let orders: Vec<OrderId> = insert_committed(
        store,
        &[
            order(m.id, "G-1", StatusCode::SUCCESSFUL, cost, T0),
            order(m.id, "G-2", StatusCode::SUCCESSFUL, cost, T0),
            order(m.id, "G-3", StatusCode::REJECTED, cost, T0),
        ],
    )
    .into_iter()
    .map(|o| o.id)
    .collect();
    let p = add_provider(store, "goods", ProviderKind::Iimmpact).id;
    let sent: Vec<NewAttempt> = orders.iter().map(|id| new_attempt(*id, 1, p)).collect();
    let mut w = writer(store);
    must("begin", w.begin());
    for (a, outcome) in
        sent.iter().zip([AttemptOutcome::Delivered, AttemptOutcome::Delivered, AttemptOutcome::Declined])
    {
        must("insert_attempt", w.insert_attempt(a));
        let mut answered = answer(a, outcome, "20", "");
        if a.order_id == orders[1] {
            answered.cost = None; // the provider did not say
        }
        must("answer_attempt", w.answer_attempt(&answered));
    }
    must("commit", w.commit());
    let rows = must("cost_of_goods", block(store.cost_of_goods(T0, T0 + 1_000)));
    let charged = answer(&sent[0], AttemptOutcome::Delivered, "20", "").cost.expect("a delivery's cost");
    assert_eq!(
        rows,
        vec![CostOfGoodsRow {
            product: "HI10".into(),
            provider_id: p,
            count: 2,
            sales: Amount::from_minor(2 * 97_000),
            cost_of_goods: charged,
            uncosted: 1,
        }],
        "delivered orders only, what merchants paid and what the provider charged"
    );
    assert!(must("cost_of_goods", block(store.cost_of_goods(T0 + 2, T0 + 1_000))).is_empty(), "by time sent");
}

pub fn provider_health(store: &dyn Store) {
    let p = add_provider(store, "health", ProviderKind::Iimmpact).id;
    let bucket = Bucket { capacity: 3, window_ms: 60_000, out_ms: 5_000 };
    let fail = |at: i64, product: &str| {
        must("record_provider_failure", block(store.record_provider_failure(p, product, at, bucket)))
    };
    assert_eq!(fail(T0, "D"), None);
    assert_eq!(fail(T0 + 1, "D"), None);
    assert_eq!(fail(T0 + 2, "HI10"), None, "each product has its own bucket");
    assert_eq!(fail(T0 + 3, "D"), Some(T0 + 3 + 5_000), "the third failure within the window fills the bucket");
    let out = must("providers_out", block(store.providers_out(T0 + 4)));
    assert_eq!(out, vec![(p, "D".to_owned(), T0 + 5_003)], "out of rotation for that product only");
    assert!(must("providers_out", block(store.providers_out(T0 + 5_003))).is_empty(), "back at the time given");
    // The bucket emptied when it overflowed; failures spread over more than
    // the window leak away and never fill it again.
    for i in 0..6 {
        assert_eq!(fail(T0 + 10_000 + i * 30_000, "D"), None, "failure {i}, 30 s apart");
    }
}
