//! Reports: order listings with their filters and totals, the wallet
//! statement, movements per kind, and the daily summary and the order
//! activity in Malaysian days.

use tambah_domain::chain::{Entry, Head};
use tambah_domain::{AccountId, Amount, Environment, MerchantId, StatusCode, TransferId};
use tambah_store::{
    ActivityRow, MerchantRow, Movements, NewTransfer, OrderQuery, OrderRow, OrderTotals, StatementEntry,
    StatementQuery, StatusGroup, Store, SummaryRow, TransferKind, Writer,
};

use crate::fixtures::{
    assert_verified, balance, block, create, insert, insert_committed, minus, must, new_transfer, order, plus, systems,
    writer, Books, T0,
};

fn status_group(status: StatusCode) -> Option<StatusGroup> {
    match status.code() {
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
        t.amount = plus(t.amount, o.amount);
        t.cost = plus(t.cost, o.cost);
        match status_group(o.status) {
            Some(StatusGroup::Successful) => {
                t.successful += 1;
                t.successful_amount = plus(t.successful_amount, o.amount);
                t.successful_cost = plus(t.successful_cost, o.cost);
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
    let all = insert_committed(store, &listing_rows(&m, &x));
    let base = OrderQuery { merchant_id: m.id, limit: 100, ..OrderQuery::default() };
    let some = |s: &str| Some(s.to_owned());
    let queries = listing_queries(&base, &m, &x);

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
        (page.len(), t.count, t.successful_amount, t.successful_cost),
        (1, 1, Amount::from_minor(90_000), Amount::from_minor(85_500)),
        "an sn finds its one order; successful sums are its amount and cost"
    );
    let (page, _) = must("list_orders", block(store.list_orders(&OrderQuery { limit: 3, ..base.clone() })));
    assert_eq!(
        page.iter().map(|o| (o.created_at_ms, o.refid.as_str())).collect::<Vec<_>>(),
        vec![(T0 + 9_000, "L-17"), (T0 + 9_000, "L-07"), (T0 + 8_000, "L-14")],
        "newest first: by creation time, then by id, both descending"
    );
}

/// The orders the listing check runs on: 24 of merchant `m` over every status
/// group, three products, two accounts and shared creation times, and four
/// of merchant `x` with the same refids.
fn listing_rows(m: &MerchantRow, x: &MerchantRow) -> Vec<OrderRow> {
    let statuses = [
        StatusCode::ACCEPTED,
        StatusCode::PROCESSING,
        StatusCode::SUCCESSFUL,
        StatusCode::INSUFFICIENT_CREDIT,
        StatusCode::REJECTED,
        StatusCode::REFUND,
        StatusCode::SUCCESSFUL,
        StatusCode::INVALID_ACCOUNT,
        StatusCode::SUCCESSFUL,
        StatusCode::BARRED,
    ];
    let products = ["HI10", "CELCOM-RM30", "DIGI5"];
    let mut rows = Vec::new();
    for i in 0..24usize {
        let status = statuses[i % statuses.len()];
        // Created times out of insertion order, each shared by two or three orders.
        let cost = Amount::from_minor(9_500 * (i as i64 + 1));
        let mut row = order(m.id, &format!("L-{i:02}"), status, cost, T0 + ((i * 7) % 10) as i64 * 1_000);
        row.amount = Amount::from_minor(10_000 * (i as i64 + 1));
        row.product = products[i % products.len()].to_owned();
        row.account = if i % 4 < 2 { "0111111111".to_owned() } else { "0122222222".to_owned() };
        row.sn = if status == StatusCode::SUCCESSFUL { format!("SN-{i}") } else { String::new() };
        rows.push(row);
    }
    for i in 0..4usize {
        let mut row =
            order(x.id, &format!("L-{i:02}"), StatusCode::SUCCESSFUL, Amount::from_minor(1_000), T0 + i as i64 * 1_000);
        row.sn = format!("SN-{i}");
        rows.push(row);
    }
    rows
}

/// Every listing query the check compares with the model, by name.
fn listing_queries(base: &OrderQuery, m: &MerchantRow, x: &MerchantRow) -> Vec<(&'static str, OrderQuery)> {
    let some = |s: &str| Some(s.to_owned());
    let mut queries: Vec<(&'static str, OrderQuery)> = vec![
        ("everything, newest first", base.clone()),
        ("everything, oldest first", OrderQuery { ascending: true, ..base.clone() }),
        ("the other merchant", OrderQuery { merchant_id: x.id, ..base.clone() }),
        (
            "an unknown merchant",
            OrderQuery { merchant_id: MerchantId::new(m.id.max(x.id).get() + 1_000), ..base.clone() },
        ),
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
    queries
}

/// One movement of a wallet as the statement must show it.
#[derive(Clone)]
struct Movement {
    id: TransferId,
    at_ms: i64,
    kind: TransferKind,
    /// What the wallet gained (+) or lost (−).
    signed: Amount,
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
    let mut ledger = |w: &mut dyn Writer, books: &mut Books, o: Option<&OrderRow>, t: NewTransfer| -> TransferId {
        let remarks = format!("{} at {}", t.kind.as_str(), t.created_at_ms);
        let t = NewTransfer { order_id: o.map(|o| o.id), remarks: remarks.clone(), ..t };
        let id = books.transfer(w, &t);
        let signed = if t.credit_account == wallet {
            t.amount
        } else if t.debit_account == wallet {
            minus(Amount::ZERO, t.amount)
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
    let named = |merchant_id: MerchantId, refid: &str, status: StatusCode, cost: Amount, at_ms: i64, product: &str| {
        let mut row = order(merchant_id, refid, status, cost, at_ms);
        row.product = product.to_owned();
        row
    };
    let (w, b) = (w.as_mut(), &mut books);
    use TransferKind::{Deposit, Hold, Post, Refund, Void};

    ledger(w, b, None, move_at(Deposit, s.funding, wallet, Amount::from_minor(50_000), at(1)));
    ledger(w, b, None, move_at(Deposit, s.funding, other.wallet_id, Amount::from_minor(9_000), at(2)));
    let posted = insert(w, &named(m.id, "posted", StatusCode::SUCCESSFUL, Amount::from_minor(4_000), at(2), "HI10"));
    let hold = ledger(w, b, Some(&posted), move_at(Hold, wallet, s.holds, Amount::from_minor(4_000), at(2)));
    ledger(w, b, Some(&posted), resolve_at(Post, s.holds, s.revenue, Amount::from_minor(4_000), hold, at(3)));
    let voided = insert(w, &named(m.id, "voided", StatusCode::REJECTED, Amount::from_minor(2_500), at(3), "DIGI5"));
    let hold = ledger(w, b, Some(&voided), move_at(Hold, wallet, s.holds, Amount::from_minor(2_500), at(3)));
    ledger(w, b, Some(&voided), resolve_at(Void, s.holds, wallet, Amount::from_minor(2_500), hold, at(4)));
    let theirs =
        insert(w, &named(other.id, "theirs", StatusCode::SUCCESSFUL, Amount::from_minor(1_000), at(4), "HI10"));
    let hold = ledger(w, b, Some(&theirs), move_at(Hold, other.wallet_id, s.holds, Amount::from_minor(1_000), at(4)));
    ledger(w, b, Some(&theirs), resolve_at(Post, s.holds, s.revenue, Amount::from_minor(1_000), hold, at(4)));
    ledger(w, b, None, move_at(Deposit, s.funding, wallet, Amount::from_minor(10_000), at(5)));
    let refunded = insert(w, &named(m.id, "refunded", StatusCode::REFUND, Amount::from_minor(1_500), at(5), "HI10"));
    let hold = ledger(w, b, Some(&refunded), move_at(Hold, wallet, s.holds, Amount::from_minor(1_500), at(5)));
    ledger(w, b, Some(&refunded), resolve_at(Post, s.holds, s.revenue, Amount::from_minor(1_500), hold, at(6)));
    ledger(w, b, Some(&refunded), move_at(Refund, s.revenue, wallet, Amount::from_minor(1_500), at(7)));
    insert(w, &named(m.id, "refused", StatusCode::INSUFFICIENT_CREDIT, Amount::from_minor(900), at(7), "HI10"));
    let open = insert(w, &named(m.id, "open", StatusCode::ACCEPTED, Amount::from_minor(1_000), at(8), "CELCOM-RM30"));
    ledger(w, b, Some(&open), move_at(Hold, wallet, s.holds, Amount::from_minor(1_000), at(8)));
    books.flush(w);
    must("commit", w.commit());
    assert_verified(store, "after the wallet history");
    (m, moves)
}

/// hold_balances: the wallet's balance right after each order's HOLD (the
/// statement's running balance at that entry), nothing for an order without
/// one or an id that does not exist, and nothing of another merchant's
/// wallet mixed in.
pub fn hold_balances(store: &dyn Store) {
    let (m, _) = wallet_history(store);
    let everything = StatementQuery { wallet_id: m.wallet_id, limit: 100, ..StatementQuery::default() };
    let (entries, _) = must("statement", block(store.statement(&everything)));
    let query = OrderQuery { merchant_id: m.id, limit: 100, ..OrderQuery::default() };
    let (orders, _) = must("list_orders", block(store.list_orders(&query)));
    let by_refid = |refid: &str| orders.iter().find(|o| o.refid == refid).map(|o| o.id);
    let mut expected: Vec<(tambah_domain::OrderId, Amount)> = entries
        .iter()
        .filter(|e| e.kind == TransferKind::Hold)
        .map(|e| (by_refid(e.refid.as_deref().expect("a hold names its order")).expect("the order"), e.balance_after))
        .collect();
    let mut ids: Vec<_> = orders.iter().map(|o| o.id).collect();
    ids.push(tambah_domain::OrderId::new(i64::MAX));
    let mut got = must("hold_balances", block(store.hold_balances(&ids)));
    expected.sort();
    got.sort();
    assert_eq!(expected.len(), 4, "four of the merchant's orders were held ('refused' never was)");
    assert_eq!(got, expected);
    assert!(must("hold_balances of none", block(store.hold_balances(&[]))).is_empty());
}

/// The chain's heads at a few times: before the first entry, in the middle
/// (the last entry dated before it), after the last.
fn chain_heads(store: &dyn Store, wallet: AccountId, entries: &[StatementEntry]) {
    let before = [T0 - 1, T0 + 5_000, i64::MAX];
    let expected: Vec<Option<Head>> =
        before.iter().map(|&b| entries.iter().rev().find(|e| e.at_ms < b).and_then(|e| e.chain)).collect();
    let heads = must("chain_heads", block(store.chain_heads(wallet, &before)));
    assert_eq!(heads, expected, "chain heads at {before:?}");
    assert_eq!(heads[0], None, "no entry before the first");
    assert_eq!(heads[2].map(|h| h.seq), Some(8), "the last head numbers every entry");
}

/// The statement entries a wallet history must list, and the last running balance.
fn expected_entries(moves: &[Movement]) -> (Vec<StatementEntry>, Amount) {
    let mut running = Amount::ZERO;
    let mut head = Head::EMPTY;
    let entries: Vec<StatementEntry> = moves
        .iter()
        .map(|mv| {
            running = plus(running, mv.signed);
            let refid = mv.order.as_ref().map_or("", |(r, _)| r.as_str());
            let entry = Entry {
                seq: head.seq + 1,
                at_ms: mv.at_ms,
                kind: mv.kind.as_str(),
                amount_minor: mv.signed.minor(),
                balance_minor: running.minor(),
                refid,
            };
            head = entry.append_to(&head);
            StatementEntry {
                transfer_id: mv.id,
                at_ms: mv.at_ms,
                kind: mv.kind,
                amount: mv.signed,
                balance_after: running,
                remarks: mv.remarks.clone(),
                refid: mv.order.as_ref().map(|(r, _)| r.clone()),
                product: mv.order.as_ref().map(|(_, p)| p.clone()),
                chain: Some(head),
            }
        })
        .collect();
    (entries, running)
}

/// statement: signed amounts, the true balance after each entry even when a
/// page or a filter skips earlier ones, kind and time filters, the count of
/// every match.
pub fn statement(store: &dyn Store) {
    let (m, moves) = wallet_history(store);
    let (entries, running) = expected_entries(&moves);
    chain_heads(store, m.wallet_id, &entries);
    assert_eq!(entries.len(), 8, "the history moves the wallet eight times (POSTs do not touch it)");
    assert_eq!(running, balance(store, m.wallet_id), "the last running balance is the wallet's balance");

    let base = StatementQuery { wallet_id: m.wallet_id, limit: 100, ..StatementQuery::default() };
    let cases: Vec<(&str, StatementQuery)> = vec![
        ("everything", base.clone()),
        ("a page", StatementQuery { limit: 3, offset: 2, ..base.clone() }),
        ("a page past the end", StatementQuery { limit: 3, offset: 8, ..base.clone() }),
        ("a page of none", StatementQuery { limit: 0, ..base.clone() }),
        ("holds", StatementQuery { kinds: vec![TransferKind::Hold], ..base.clone() }),
        (
            "deposits and refunds",
            StatementQuery { kinds: vec![TransferKind::Deposit, TransferKind::Refund], ..base.clone() },
        ),
        ("posts (never the wallet's)", StatementQuery { kinds: vec![TransferKind::Post], ..base.clone() }),
        ("from", StatementQuery { from_ms: Some(T0 + 5_000), ..base.clone() }),
        ("to", StatementQuery { to_ms: Some(T0 + 5_000), ..base.clone() }),
        ("from and to", StatementQuery { from_ms: Some(T0 + 3_000), to_ms: Some(T0 + 7_000), ..base.clone() }),
        (
            "from, to, a kind and a page",
            StatementQuery {
                from_ms: Some(T0 + 2_000),
                to_ms: Some(T0 + 9_000),
                kinds: vec![TransferKind::Hold, TransferKind::Void],
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
        (page.first().map(|e| e.balance_after), total),
        (Some(Amount::from_minor(50_000 - 4_000 - 2_500)), 8),
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
                out.opening = plus(out.opening, mv.signed);
                continue;
            }
            if to.is_some_and(|t| mv.at_ms >= t) {
                continue;
            }
            let amount = if mv.signed < Amount::ZERO { minus(Amount::ZERO, mv.signed) } else { mv.signed };
            match mv.kind {
                TransferKind::Deposit => (out.deposits = plus(out.deposits, amount), out.deposit_count += 1),
                TransferKind::Hold => (out.holds = plus(out.holds, amount), out.hold_count += 1),
                TransferKind::Void => (out.voids = plus(out.voids, amount), out.void_count += 1),
                TransferKind::Refund => (out.refunds = plus(out.refunds, amount), out.refund_count += 1),
                TransferKind::Post => unreachable!("a POST never moves a wallet"),
            };
        }
        out
    };
    let everything = must("movements", block(store.movements(m.wallet_id, None, None)));
    assert_eq!(
        everything,
        Movements {
            opening: Amount::ZERO,
            deposits: Amount::from_minor(60_000),
            deposit_count: 2,
            holds: Amount::from_minor(9_000),
            hold_count: 4,
            voids: Amount::from_minor(2_500),
            void_count: 1,
            refunds: Amount::from_minor(1_500),
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
        must("movements", block(store.movements(m.wallet_id, Some(T0 + 9_000), None))).opening,
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
    // The table below gives amounts in minor units, to stay one row a line.
    let row = |merchant_id: MerchantId,
               refid: &str,
               product: &str,
               status: StatusCode,
               amount_minor: i64,
               cost_minor: i64,
               at: i64| {
        let mut o = order(merchant_id, refid, status, Amount::from_minor(cost_minor), at);
        o.product = product.to_owned();
        o.amount = Amount::from_minor(amount_minor);
        o
    };
    insert_committed(
        store,
        &[
            row(m.id, "s-before", "HI10", StatusCode::SUCCESSFUL, 1_000, 900, midnight - day - 1),
            row(m.id, "s-from", "HI10", StatusCode::SUCCESSFUL, 20_000, 19_000, midnight - day),
            row(m.id, "s-last-ms", "HI10", StatusCode::SUCCESSFUL, 10_000, 9_500, midnight - 1),
            row(m.id, "s-midnight", "HI10", StatusCode::SUCCESSFUL, 30_000, 28_500, midnight),
            row(m.id, "s-digi", "DIGI5", StatusCode::SUCCESSFUL, 5_000, 4_900, midnight + 1),
            row(m.id, "s-day-end", "HI10", StatusCode::SUCCESSFUL, 40_000, 38_000, midnight + day - 1),
            row(m.id, "s-to", "HI10", StatusCode::SUCCESSFUL, 1_000, 900, midnight + day),
            row(m.id, "s-failed", "HI10", StatusCode::INSUFFICIENT_CREDIT, 1_000, 900, midnight),
            row(m.id, "s-accepted", "HI10", StatusCode::ACCEPTED, 1_000, 900, midnight),
            row(m.id, "s-processing", "DIGI5", StatusCode::PROCESSING, 1_000, 900, midnight),
            row(m.id, "s-refunded", "HI10", StatusCode::REFUND, 1_000, 900, midnight),
            row(m.id, "s-voided", "AAA", StatusCode::REJECTED, 1_000, 900, midnight),
            row(x.id, "s-other", "HI10", StatusCode::SUCCESSFUL, 1_000, 900, midnight),
        ],
    );
    let summary = |from: i64, to: i64| must("daily_summary", block(store.daily_summary(m.id, from, to)));
    let line = |day: i64, product: &str, count: u64, amount_minor: i64, cost_minor: i64| SummaryRow {
        day,
        product: product.to_owned(),
        count,
        amount: Amount::from_minor(amount_minor),
        cost: Amount::from_minor(cost_minor),
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

/// order_activity: every order (any status) per Malaysia-time day and
/// product, with how many succeeded and their amount; [from, to); per
/// merchant.
pub fn order_activity(store: &dyn Store) {
    let m = create(store, Environment::Staging, "activity");
    let x = create(store, Environment::Staging, "activity-other");
    // 2023-11-15T16:00:00.000Z is 2023-11-16 00:00 in Malaysia: day 19677.
    let midnight: i64 = 1_700_064_000_000;
    let day = 86_400_000;
    let row = |merchant_id: MerchantId, refid: &str, product: &str, status: StatusCode, amount_minor: i64, at: i64| {
        let mut o = order(merchant_id, refid, status, Amount::from_minor(amount_minor), at);
        o.product = product.to_owned();
        o.amount = Amount::from_minor(amount_minor);
        o
    };
    insert_committed(
        store,
        &[
            row(m.id, "a-before", "HI10", StatusCode::SUCCESSFUL, 1_000, midnight - day - 1),
            row(m.id, "a-from", "HI10", StatusCode::SUCCESSFUL, 20_000, midnight - day),
            row(m.id, "a-last-ms", "HI10", StatusCode::INSUFFICIENT_CREDIT, 10_000, midnight - 1),
            row(m.id, "a-midnight", "HI10", StatusCode::SUCCESSFUL, 30_000, midnight),
            row(m.id, "a-digi", "DIGI5", StatusCode::SUCCESSFUL, 5_000, midnight + 1),
            row(m.id, "a-day-end", "HI10", StatusCode::SUCCESSFUL, 40_000, midnight + day - 1),
            row(m.id, "a-to", "HI10", StatusCode::SUCCESSFUL, 1_000, midnight + day),
            row(m.id, "a-failed", "HI10", StatusCode::INSUFFICIENT_CREDIT, 1_000, midnight),
            row(m.id, "a-accepted", "HI10", StatusCode::ACCEPTED, 1_000, midnight),
            row(m.id, "a-processing", "DIGI5", StatusCode::PROCESSING, 1_000, midnight),
            row(m.id, "a-refunded", "HI10", StatusCode::REFUND, 1_000, midnight),
            row(m.id, "a-voided", "AAA", StatusCode::REJECTED, 1_000, midnight),
            row(x.id, "a-other", "HI10", StatusCode::SUCCESSFUL, 1_000, midnight),
        ],
    );
    let activity =
        |id: MerchantId, from: i64, to: i64| must("order_activity", block(store.order_activity(id, from, to)));
    let line = |day: i64, product: &str, count: u64, successful: u64, amount_minor: i64| ActivityRow {
        day,
        product: product.to_owned(),
        count,
        successful,
        successful_amount: Amount::from_minor(amount_minor),
    };
    assert_eq!(
        activity(m.id, midnight - day, midnight + day),
        vec![
            line(19_676, "HI10", 2, 1, 20_000),
            line(19_677, "AAA", 1, 0, 0),
            line(19_677, "DIGI5", 2, 1, 5_000),
            line(19_677, "HI10", 5, 2, 70_000),
        ],
        "every status counts, only status 20 is successful; 15:59:59.999 UTC is the day before 16:00:00.000 UTC; \
         [from, to); by day then product"
    );
    assert_eq!(
        activity(m.id, midnight, midnight + 1),
        vec![line(19_677, "AAA", 1, 0, 0), line(19_677, "DIGI5", 1, 0, 0), line(19_677, "HI10", 4, 1, 30_000)],
        "a one-millisecond range at Malaysian midnight"
    );
    assert!(activity(m.id, midnight, midnight).is_empty(), "an empty range has no lines");
    assert_eq!(
        activity(x.id, midnight - day, midnight + day),
        vec![line(19_677, "HI10", 1, 1, 1_000)],
        "order_activity is per merchant"
    );
}
