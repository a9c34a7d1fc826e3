//! Merchants: creation, look-ups, username uniqueness, passwords and the
//! operator's settings.

use tambah_domain::{Amount, Environment, MerchantId, Role};
use tambah_store::{MerchantRow, MerchantSettings, SpendingCaps, Store, UserRow};

use crate::fixtures::{balance, block, create, expect_unique, must, new_merchant, systems, writer};

/// create_merchant, the merchant and user look-ups, and username uniqueness.
pub fn merchants(store: &dyn Store) {
    assert_eq!(must("merchant_count", block(store.merchant_count())), 0, "a fresh store has no merchants");
    let alice = create(store, Environment::Staging, "alice");
    let bob = create(store, Environment::Live, "bob");

    for (m, env, username) in [(&alice, Environment::Staging, "alice"), (&bob, Environment::Live, "bob")] {
        created_reads_back(store, m, env, username);
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

    let unknown = MerchantId::new(alice.id.max(bob.id).get() + 1000);
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

    let alice_user = a_taken_username_is_refused(store, &alice);
    set_password_hash_changes_one_user(store, &alice_user);
}

/// What create_merchant returned reads back through every look-up, with its user.
fn created_reads_back(store: &dyn Store, m: &MerchantRow, env: Environment, username: &str) {
    let expected = new_merchant(env, username);
    assert_eq!(m.name, expected.name, "create_merchant keeps the name");
    assert_eq!(m.environment, env, "create_merchant keeps the environment");
    assert_eq!(m.level, expected.level, "create_merchant keeps the level");
    assert_eq!(m.api_version, expected.api_version, "create_merchant keeps the api version");
    assert_eq!(m.created_at_ms, expected.created_at_ms, "create_merchant keeps created_at_ms");
    assert_eq!(m.access, 0, "a new merchant has full access (0)");
    assert!(!m.suspended, "a new merchant is not suspended");
    assert!(!m.account.is_empty(), "a new merchant has an account number");
    assert_eq!(balance(store, m.wallet_id), Amount::ZERO, "a new merchant's wallet starts at 0");
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
            role: Role::Admin,
        },
        "the merchant's user keeps its merchant, username and password hash"
    );
    assert_eq!(
        must("user", block(store.user(user.id))),
        Some(user),
        "user(id) returns the same row as user_by_username"
    );
}

/// A username already taken refuses the new merchant and leaves nothing
/// behind; returns alice's user.
fn a_taken_username_is_refused(store: &dyn Store, alice: &MerchantRow) -> UserRow {
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
    user
}

/// set_password_hash changes the hash of that user (alice's) only.
fn set_password_hash_changes_one_user(store: &dyn Store, user: &UserRow) {
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
        rate_limit_per_s: Some(5_000),
        caps: SpendingCaps { amount: Some(Amount::from_minor(5_000_000)), count: Some(100) },
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
    assert_eq!(after.caps, settings.caps, "the daily caps read back");
    assert_eq!(after.rate_limit_per_s, Some(5_000), "the rate limit reads back");
    assert_eq!(
        (after.callback_url.as_str(), after.callback_method.as_str(), after.low_balance_threshold),
        (m.callback_url.as_str(), m.callback_method.as_str(), m.low_balance_threshold),
        "update_merchant leaves the callback and low-balance settings alone"
    );
    assert_eq!(
        (after.account, after.wallet_id, after.environment),
        (m.account, m.wallet_id, m.environment),
        "identity unchanged"
    );
    assert!(
        !block(store.update_merchant(MerchantId::new(m.id.get() + 1000), &settings)).expect("update_merchant"),
        "unknown merchant reported"
    );
}

/// A capped merchant's spend per day, as the writer keeps it: read whether
/// one more order fits, count it if it does; per merchant and per day; a
/// rolled-back savepoint takes its count back.
pub fn daily_spend(store: &dyn Store) {
    let a = create(store, Environment::Staging, "spend-a");
    let b = create(store, Environment::Staging, "spend-b");
    let caps = SpendingCaps { amount: Some(Amount::from_minor(250_000)), count: Some(3) };
    let mut w = writer(store);
    must("begin", w.begin());
    // What the writer's Place does: count only an order that fits.
    let mut spend = |m: MerchantId, day: i64, minor: i64, caps: &SpendingCaps| {
        let cost = Amount::from_minor(minor);
        let fits = must("spend_fits", w.spend_fits(m, day, cost, caps));
        if fits {
            must("add_spend", w.add_spend(m, day, cost));
        }
        fits
    };
    assert!(spend(a.id, 1, 100_000, &caps));
    assert!(spend(a.id, 1, 100_000, &caps));
    assert!(!spend(a.id, 1, 60_000, &caps), "past the amount cap");
    assert!(spend(a.id, 1, 50_000, &caps), "up to the amount cap exactly");
    assert!(!spend(a.id, 1, 1, &SpendingCaps { amount: None, count: Some(3) }), "past the count cap");
    assert!(spend(a.id, 2, 250_000, &caps), "a new day");
    assert!(!spend(b.id, 1, 250_001, &caps), "a day's first order past the cap");
    assert!(spend(b.id, 1, 250_000, &caps), "another merchant's day");
    assert!(spend(b.id, 1, 1, &SpendingCaps { amount: None, count: Some(2) }), "the count alone");
    must("commit", w.commit());
    assert_eq!(must("spend_of", w.spend_of(a.id, 1)), (3, Amount::from_minor(250_000)), "what was counted");
    // Inside a savepoint rolled back, the count goes with it.
    must("begin", w.begin());
    must("savepoint", w.savepoint());
    must("add_spend", w.add_spend(a.id, 3, Amount::from_minor(250_000)));
    must("rollback_to_savepoint", w.rollback_to_savepoint());
    assert_eq!(must("spend_of", w.spend_of(a.id, 3)), (0, Amount::ZERO), "taken back");
    must("commit", w.commit());
}
