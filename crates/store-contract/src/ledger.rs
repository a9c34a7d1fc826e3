//! The ledger: system accounts, deposits, holds and their resolution,
//! refused amounts and balances, balance locks, orders written with their
//! transfers, and `verify` (clean through a consistent history, not vacuous).

use tambah_domain::chain::Entry;
use tambah_domain::{AccountId, Amount, Environment, StatusCode};
use tambah_store::{AccountState, Inserted, NewTransfer, OrderTransfers, Store, StoreError, TransferKind};

use crate::fixtures::{
    assert_verified, balance, block, create, deposit, expect_constraint, expect_unique, insert, must, new_transfer,
    order, set_order_status, systems, writer, Books, T0,
};

/// Each environment has its own funding, holds and revenue accounts.
pub fn system_accounts(store: &dyn Store) {
    let staging = systems(store, Environment::Staging);
    let live = systems(store, Environment::Live);
    assert_ne!(staging, live, "staging and live have different system accounts");
    let mut ids = vec![staging.funding, staging.holds, staging.revenue, live.funding, live.holds, live.revenue];
    for id in &ids {
        assert_eq!(balance(store, *id), Amount::ZERO, "system account {id} starts at 0");
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6, "all six system accounts are distinct: {staging:?} {live:?}");
    assert_eq!(systems(store, Environment::Staging), staging, "system_accounts is stable");
}

/// A DEPOSIT moves money from funding (which may go negative) to a wallet.
pub fn ledger_deposit(store: &dyn Store) {
    let m = create(store, Environment::Staging, "dep");
    let s = systems(store, Environment::Staging);
    let live = systems(store, Environment::Live);
    deposit(store, Environment::Staging, m.wallet_id, Amount::from_minor(10_000));
    assert_eq!(
        balance(store, m.wallet_id),
        Amount::from_minor(10_000),
        "a committed deposit shows in the wallet balance"
    );
    assert_eq!(balance(store, s.funding), Amount::from_minor(-10_000), "the funding account may go negative");
    assert_eq!(balance(store, live.funding), Amount::ZERO, "other environments are untouched");
    assert_verified(store, "after a deposit");

    deposit(store, Environment::Staging, m.wallet_id, Amount::from_minor(2_500));
    let mut w = writer(store);
    must("begin", w.begin());
    let mut ids = vec![m.wallet_id, s.funding];
    ids.sort_unstable();
    let locked: Vec<(AccountId, Amount)> =
        must("lock_balances", w.lock_balances(&ids)).into_iter().map(|(id, a)| (id, a.balance)).collect();
    let expected: Vec<(AccountId, Amount)> =
        ids.iter().map(|&id| (id, Amount::from_minor(if id == m.wallet_id { 12_500 } else { -12_500 }))).collect();
    assert_eq!(locked, expected, "lock_balances reads the committed balances");
    must("rollback", w.rollback());
    assert_verified(store, "after two deposits");
}

/// HOLD then POST of an order, order_hold before and after, and that a hold
/// is resolved at most once.
pub fn ledger_hold_post(store: &dyn Store) {
    let m = create(store, Environment::Staging, "hold");
    let s = systems(store, Environment::Staging);
    deposit(store, Environment::Staging, m.wallet_id, Amount::from_minor(10_000));
    let accounts = [m.wallet_id, s.funding, s.holds, s.revenue];

    let mut w = writer(store);
    must("begin", w.begin());
    let mut books = Books::open(w.as_mut(), &accounts);
    let o = insert(w.as_mut(), &order(m.id, "H1", StatusCode::ACCEPTED, Amount::from_minor(3_000), T0));
    let plain = insert(w.as_mut(), &order(m.id, "H2", StatusCode::INSUFFICIENT_CREDIT, Amount::ZERO, T0));
    assert_eq!(must("order_hold", w.order_hold(o.id)), None, "order_hold of an order without a hold is None");
    let hold = books.transfer(
        w.as_mut(),
        &new_transfer(TransferKind::Hold, m.wallet_id, s.holds, Amount::from_minor(3_000), Some(o.id), None),
    );
    assert_eq!(
        must("order_hold", w.order_hold(o.id)),
        Some((hold, Amount::from_minor(3_000), false)),
        "order_hold reports (hold id, amount, unresolved) right after the hold"
    );
    books.flush(w.as_mut());
    must("commit", w.commit());
    assert_eq!(balance(store, m.wallet_id), Amount::from_minor(7_000), "the hold left the wallet");
    assert_eq!(balance(store, s.holds), Amount::from_minor(3_000), "the hold sits in the holds account");
    assert_verified(store, "with an unresolved hold of an accepted order");

    must("begin", w.begin());
    let mut books = Books::open(w.as_mut(), &accounts);
    assert_eq!(
        must("order_hold", w.order_hold(o.id)),
        Some((hold, Amount::from_minor(3_000), false)),
        "order_hold reports a committed unresolved hold"
    );
    let post = books.transfer(
        w.as_mut(),
        &new_transfer(TransferKind::Post, s.holds, s.revenue, Amount::from_minor(3_000), Some(o.id), Some(hold)),
    );
    assert_ne!(post, hold, "transfer ids are distinct");
    set_order_status(w.as_mut(), &o, StatusCode::SUCCESSFUL);
    assert_eq!(
        must("order_hold", w.order_hold(o.id)),
        Some((hold, Amount::from_minor(3_000), true)),
        "order_hold reports the hold resolved once it is posted"
    );
    assert_eq!(must("order_hold", w.order_hold(plain.id)), None, "order_hold of an order without a hold stays None");
    books.flush(w.as_mut());
    must("commit", w.commit());

    must("begin", w.begin());
    must("savepoint", w.savepoint());
    expect_unique(
        "a second POST of the same hold",
        w.insert_transfer(&new_transfer(
            TransferKind::Post,
            s.holds,
            s.revenue,
            Amount::from_minor(3_000),
            Some(o.id),
            Some(hold),
        )),
    );
    must("rollback_to_savepoint", w.rollback_to_savepoint());
    must("savepoint", w.savepoint());
    expect_unique(
        "a VOID of a hold already posted",
        w.insert_transfer(&new_transfer(
            TransferKind::Void,
            s.holds,
            m.wallet_id,
            Amount::from_minor(3_000),
            Some(o.id),
            Some(hold),
        )),
    );
    must("rollback_to_savepoint", w.rollback_to_savepoint());
    must("commit", w.commit());

    assert_eq!(balance(store, m.wallet_id), Amount::from_minor(7_000), "wallet after the post");
    assert_eq!(balance(store, s.holds), Amount::ZERO, "holds after the post");
    assert_eq!(balance(store, s.revenue), Amount::from_minor(3_000), "revenue after the post");
    assert_eq!(balance(store, s.funding), Amount::from_minor(-10_000), "funding after the post");
    assert_verified(store, "after deposit, hold, post and refused second resolutions");
}

/// Zero or negative amounts and negative non-funding balances are refused
/// with `StoreError::Constraint`, and a refused balance commits nothing.
pub fn ledger_constraints(store: &dyn Store) {
    let m = create(store, Environment::Staging, "cons");
    let s = systems(store, Environment::Staging);
    deposit(store, Environment::Staging, m.wallet_id, Amount::from_minor(1_000));
    let mut w = writer(store);

    must("begin", w.begin());
    for amount in [0, -5] {
        must("savepoint", w.savepoint());
        expect_constraint(
            &format!("a transfer of amount {amount}"),
            w.insert_transfer(&new_transfer(
                TransferKind::Deposit,
                s.funding,
                m.wallet_id,
                Amount::from_minor(amount),
                None,
                None,
            )),
        );
        must("rollback_to_savepoint", w.rollback_to_savepoint());
    }
    // A wallet entry without its chain entry (a node older than the chain).
    must("savepoint", w.savepoint());
    expect_constraint(
        "a wallet entry without its chain number and hash",
        w.insert_transfer(&NewTransfer {
            chain: None,
            ..new_transfer(TransferKind::Deposit, s.funding, m.wallet_id, Amount::from_minor(5), None, None)
        }),
    );
    must("rollback_to_savepoint", w.rollback_to_savepoint());
    must("commit", w.commit());

    let before: Vec<(AccountId, Amount)> =
        [m.wallet_id, s.holds, s.revenue].iter().map(|&id| (id, balance(store, id))).collect();
    for (i, &(account, was)) in before.iter().enumerate() {
        let marker = format!("neg-{i}");
        must("begin", w.begin());
        let _ = Books::open(w.as_mut(), &[m.wallet_id, s.funding, s.holds, s.revenue]);
        insert(w.as_mut(), &order(m.id, &marker, StatusCode::INSUFFICIENT_CREDIT, Amount::ZERO, T0));
        match w.set_balance(account, &AccountState::unchained(Amount::from_minor(-1))) {
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
    deposit(store, Environment::Staging, m.wallet_id, Amount::from_minor(500));
    assert_eq!(balance(store, m.wallet_id), Amount::from_minor(1_500), "deposit after refusals");
    assert_eq!(balance(store, s.funding), Amount::from_minor(-1_500), "funding may go negative");
    assert_verified(store, "after refused writes");
}

/// lock_balances returns one (id, balance) pair per id, in the order given.
pub fn lock_balances_order(store: &dyn Store) {
    let a = create(store, Environment::Staging, "lock-a");
    let b = create(store, Environment::Live, "lock-b");
    let staging = systems(store, Environment::Staging);
    let live = systems(store, Environment::Live);
    deposit(store, Environment::Staging, a.wallet_id, Amount::from_minor(111));
    deposit(store, Environment::Live, b.wallet_id, Amount::from_minor(2_222));

    let expected_of = |id: AccountId| {
        Amount::from_minor(if id == a.wallet_id {
            111
        } else if id == b.wallet_id {
            2_222
        } else if id == staging.funding {
            -111
        } else if id == live.funding {
            -2_222
        } else {
            0
        })
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
    let balances = |locked: Vec<(AccountId, AccountState)>| -> Vec<(AccountId, Amount)> {
        locked.into_iter().map(|(id, a)| (id, a.balance)).collect()
    };
    let locked = balances(must("lock_balances", w.lock_balances(&ids)));
    let expected: Vec<(AccountId, Amount)> = ids.iter().map(|&id| (id, expected_of(id))).collect();
    assert_eq!(locked, expected, "lock_balances returns (id, balance) for every id, in the order given");
    let subset = [ids[1], ids[4], ids[6]];
    let locked = balances(must("lock_balances", w.lock_balances(&subset)));
    let expected: Vec<(AccountId, Amount)> = subset.iter().map(|&id| (id, expected_of(id))).collect();
    assert_eq!(locked, expected, "lock_balances of a subset, in the order given");
    assert_eq!(
        balances(must("lock_balances", w.lock_balances(&[]))),
        Vec::<(AccountId, Amount)>::new(),
        "lock_balances of no ids is empty"
    );
    must("commit", w.commit());
}

/// An order written with its hold and the hold's resolution in one call; a
/// refid already used writes nothing and says so.
pub fn insert_order_with_transfers(store: &dyn Store) {
    let m = create(store, Environment::Staging, "compound");
    let s = systems(store, Environment::Staging);
    deposit(store, Environment::Staging, m.wallet_id, Amount::from_minor(10_000));
    let transfer = |kind, debit_account, credit_account, wallet_balance_after| NewTransfer {
        kind,
        debit_account,
        credit_account,
        amount: Amount::from_minor(4_000),
        order_id: None,
        pending_id: None,
        remarks: String::new(),
        created_at_ms: 7,
        wallet_balance_after,
        chain: None,
    };
    let mut w = writer(store);
    must("begin", w.begin());
    let wallet = must("lock_balances", w.lock_balances(&[m.wallet_id]))[0].1;
    assert_eq!(wallet.head.seq, 1, "the deposit is the wallet's first chain entry");
    let entry =
        Entry { seq: 2, at_ms: 7, kind: "HOLD", amount_minor: -4_000, balance_minor: 6_000, refid: "compound-posted" };
    let head = entry.append_to(&wallet.head);
    let mut posted = order(m.id, "compound-posted", StatusCode::SUCCESSFUL, Amount::from_minor(4_000), 7);
    let both = OrderTransfers {
        hold: Some(NewTransfer {
            chain: Some(head),
            ..transfer(TransferKind::Hold, m.wallet_id, s.holds, Some(Amount::from_minor(6_000)))
        }),
        resolution: Some(transfer(TransferKind::Post, s.holds, s.revenue, None)),
    };
    let Inserted::New { order_id, hold_id } =
        must("insert_order_with_transfers", w.insert_order_with_transfers(&posted, &both))
    else {
        panic!("a new refid is inserted");
    };
    posted.id = order_id;
    let hold_id = hold_id.expect("the hold's id is reported");
    assert_eq!(
        must("order_hold", w.order_hold(order_id)),
        Some((hold_id, Amount::from_minor(4_000), true)),
        "hold written and resolved"
    );
    assert_eq!(must("get_order", w.get_order(order_id)).as_ref(), Some(&posted), "order written as given");
    let again = must("insert_order_with_transfers", w.insert_order_with_transfers(&posted, &both));
    assert_eq!(again, Inserted::Exists, "a used refid is reported, not written");
    let refused = order(m.id, "compound-43", StatusCode::INSUFFICIENT_CREDIT, Amount::from_minor(4_000), 7);
    let Inserted::New { order_id: refused_id, hold_id: none } =
        must("insert_order_with_transfers", w.insert_order_with_transfers(&refused, &OrderTransfers::default()))
    else {
        panic!("a new refid is inserted");
    };
    assert_eq!(none, None, "no hold asked, none written");
    assert_eq!(must("order_hold", w.order_hold(refused_id)), None);
    // Balances are the caller's to write (the engine stages them per batch).
    must(
        "set_balance",
        w.set_balance(m.wallet_id, &AccountState { balance: Amount::from_minor(6_000), head, head_at_ms: 7 }),
    );
    for (account, balance) in [(s.holds, Amount::ZERO), (s.revenue, Amount::from_minor(4_000))] {
        must("set_balance", w.set_balance(account, &AccountState::unchained(balance)));
    }
    must("commit", w.commit());
    assert_verified(store, "after orders written with their transfers");
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
    deposit(store, Environment::Staging, m.wallet_id, Amount::from_minor(50_000));
    deposit(store, Environment::Live, other.wallet_id, Amount::from_minor(7_000));
    assert_verified(store, "after deposits in both environments");
    let accounts = [m.wallet_id, s.funding, s.holds, s.revenue];
    let mut w = writer(store);

    // Three holds in one batch, each command in its own savepoint.
    must("begin", w.begin());
    let mut books = Books::open(w.as_mut(), &accounts);
    let mut held = Vec::new();
    for (refid, cost) in [("posted", 4_000), ("voided", 2_500), ("refunded", 1_500)] {
        let cost = Amount::from_minor(cost);
        must("savepoint", w.savepoint());
        let o = insert(w.as_mut(), &order(m.id, refid, StatusCode::ACCEPTED, cost, T0));
        let hold =
            books.transfer(w.as_mut(), &new_transfer(TransferKind::Hold, m.wallet_id, s.holds, cost, Some(o.id), None));
        must("release_savepoint", w.release_savepoint());
        held.push((o, hold));
    }
    let refused =
        insert(w.as_mut(), &order(m.id, "refused", StatusCode::INSUFFICIENT_CREDIT, Amount::from_minor(900), T0));
    books.flush(w.as_mut());
    must("commit", w.commit());
    assert_verified(store, "after three unresolved holds and a refused order");

    // Resolve them.
    must("begin", w.begin());
    let mut books = Books::open(w.as_mut(), &accounts);
    let (posted, posted_hold) = &held[0];
    books.transfer(
        w.as_mut(),
        &new_transfer(TransferKind::Post, s.holds, s.revenue, posted.cost, Some(posted.id), Some(*posted_hold)),
    );
    set_order_status(w.as_mut(), posted, StatusCode::SUCCESSFUL);
    let (voided, voided_hold) = &held[1];
    books.transfer(
        w.as_mut(),
        &new_transfer(TransferKind::Void, s.holds, m.wallet_id, voided.cost, Some(voided.id), Some(*voided_hold)),
    );
    set_order_status(w.as_mut(), voided, StatusCode::REJECTED);
    let (refunded, refunded_hold) = &held[2];
    books.transfer(
        w.as_mut(),
        &new_transfer(TransferKind::Post, s.holds, s.revenue, refunded.cost, Some(refunded.id), Some(*refunded_hold)),
    );
    set_order_status(w.as_mut(), refunded, StatusCode::SUCCESSFUL);
    books.flush(w.as_mut());
    must("commit", w.commit());
    assert_verified(store, "after a post and a void");

    must("begin", w.begin());
    let mut books = Books::open(w.as_mut(), &accounts);
    books.transfer(
        w.as_mut(),
        &new_transfer(TransferKind::Refund, s.revenue, m.wallet_id, refunded.cost, Some(refunded.id), None),
    );
    set_order_status(w.as_mut(), refunded, StatusCode::REFUND);
    // One more order left accepted with its hold unresolved.
    let open = insert(w.as_mut(), &order(m.id, "open", StatusCode::ACCEPTED, Amount::from_minor(1_000), T0));
    books.transfer(
        w.as_mut(),
        &new_transfer(TransferKind::Hold, m.wallet_id, s.holds, Amount::from_minor(1_000), Some(open.id), None),
    );
    books.flush(w.as_mut());
    must("commit", w.commit());

    assert_eq!(
        balance(store, m.wallet_id),
        Amount::from_minor(50_000 - 4_000 - 1_000),
        "wallet after post, void, refund and an open hold"
    );
    assert_eq!(balance(store, s.holds), Amount::from_minor(1_000), "holds: only the open hold");
    assert_eq!(balance(store, s.revenue), Amount::from_minor(4_000), "revenue: only the posted order");
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
    must("set_balance", w.set_balance(m.wallet_id, &AccountState::unchained(Amount::from_minor(5))));
    must("commit", w.commit());
    let checks = must("verify", block(store.verify()));
    assert!(
        checks.iter().any(|c| !c.violations.is_empty()),
        "verify must report a wallet balance of 5 that no transfer explains; got {checks:#?}"
    );
}
