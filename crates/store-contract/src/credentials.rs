//! Credentials: API keys, users' tokens, request nonces, and the one-query
//! look-ups of the hot path that join them with their merchant.

use tambah_domain::{Amount, Environment, StatusCode};
use tambah_store::{ApiKeyRow, MerchantRow, MerchantSettings, OrderRow, Store, TokenKind, TokenRow, UserRow};

use crate::fixtures::{block, create, deposit, expect_unique, insert, must, order, set_order_status, writer, T0};

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

/// Tokens round-trip; revoke_token revokes that token only;
/// revoke_user_tokens revokes only that user's tokens.
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

    assert!(must("revoke_token", block(store.revoke_token("aa02"))), "revoke_token finds the token");
    assert!(!must("revoke_token", block(store.revoke_token("ffff"))), "revoke_token of an unknown hash is false");
    let revoked = must("token", block(store.token("aa02")));
    assert_eq!(revoked.map(|t| t.revoked), Some(true), "revoke_token revokes the token");
    assert_eq!(must("token", block(store.token("aa01"))).map(|t| t.revoked), Some(false), "and only that token");
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

/// Nonces are kept per key through their window: a flood of one key's
/// nonces displaces none of another key's, and time passing inside the
/// window (expired nonces are deleted along the way) forgets none.
pub fn nonces_kept_per_key(store: &dyn Store) {
    let now = 1_700_000_000;
    let remember =
        |key: &str, nonce: &str, at: i64| must("remember_nonce", block(store.remember_nonce(key, nonce, at + 300, at)));
    assert!(remember("quiet-key", "quiet-nonce-0001", now), "first use");
    for i in 0..NONCE_FLOOD {
        assert!(remember("flood-key", &format!("flood-nonce-{i:06}"), now + 1 + i / 250), "flood nonce {i}");
    }
    let late = now + 299;
    assert!(!remember("quiet-key", "quiet-nonce-0001", late), "another key's flood made a nonce reusable");
    assert!(!remember("flood-key", "flood-nonce-000000", late), "a nonce inside its window was forgotten");
}

/// Nonces one key sends in `nonces_kept_per_key`.
const NONCE_FLOOD: i64 = 1_000;

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
    deposit(store, Environment::Staging, m.wallet_id, Amount::from_minor(5_000));
    let mut w = writer(store);
    must("begin", w.begin());
    let o =
        insert(w.as_mut(), &order(m.id, "COMBINED-1", StatusCode::INSUFFICIENT_CREDIT, Amount::from_minor(100), T0));
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
        Some((token, merchant, tambah_domain::Role::Admin)),
        "token, merchant and the role of its user (the merchant's first: an admin)"
    );
    assert_eq!(must("token_with_merchant", block(store.token_with_merchant("nope"))), None);
    assert_eq!(
        must("order_with_balance", block(store.order_with_balance(m.id, "COMBINED-1", m.wallet_id))),
        (Some(o), Amount::from_minor(5_000)),
        "order and balance"
    );
    assert_eq!(
        must("order_with_balance", block(store.order_with_balance(m.id, "NONE", m.wallet_id))),
        (None, Amount::from_minor(5_000)),
        "no order, still the balance"
    );
}

/// The caches' change counter: it moves with each change a cached
/// credential or final order could miss (a revoked key or token, a changed
/// member or merchant, a final order changed), in the same transaction, and
/// not with what only adds rows (new keys, tokens, orders) or moves an order
/// to its final status.
pub fn change_epoch(store: &dyn Store) {
    let epoch = || must("change_epoch", block(store.change_epoch()));
    let m = create(store, Environment::Staging, "epoch");
    let user = must("user_by_username", block(store.user_by_username("epoch"))).expect("user");
    let key = ApiKeyRow { key_id: "tbh_test_epoch".into(), merchant_id: m.id, secret_sealed: vec![9], revoked: false };
    must("insert_api_key", block(store.insert_api_key(&key, T0)));
    let token = TokenRow {
        token_hash: "epoch-hash".into(),
        kind: TokenKind::Id,
        merchant_id: m.id,
        user_id: user.id,
        expires_at_ms: T0 + 1_000,
        revoked: false,
    };
    must("insert_token", block(store.insert_token(&token, T0)));
    deposit(store, Environment::Staging, m.wallet_id, Amount::from_minor(5_000));
    let mut w = writer(store);
    must("begin", w.begin());
    let pending = insert(w.as_mut(), &order(m.id, "EPOCH-1", StatusCode::ACCEPTED, Amount::from_minor(100), T0));
    set_order_status(w.as_mut(), &pending, StatusCode::SUCCESSFUL);
    must("commit", w.commit());
    let quiet = epoch();

    let mut steps: Vec<(&str, i64)> = Vec::new();
    must("revoke_api_key", block(store.revoke_api_key(&key.key_id)));
    steps.push(("a key revoked", epoch()));
    must("revoke_token", block(store.revoke_token(&token.token_hash)));
    steps.push(("a token revoked", epoch()));
    must("set_password_hash", block(store.set_password_hash(user.id, "$argon2id$other")));
    steps.push(("a member's password changed", epoch()));
    let settings = must("merchant", block(store.merchant(m.id))).expect("merchant");
    let update = MerchantSettings {
        name: settings.name.clone(),
        level: settings.level.clone(),
        access: settings.access,
        suspended: true,
        api_version: settings.api_version.clone(),
        require_api_key_for_topup: false,
        email: String::new(),
        rate_limit_per_s: None,
        caps: settings.caps,
    };
    must("update_merchant", block(store.update_merchant(m.id, &update)));
    steps.push(("a merchant suspended", epoch()));
    let mut w = writer(store);
    must("begin", w.begin());
    let successful = OrderRow { status: StatusCode::SUCCESSFUL, ..pending };
    set_order_status(w.as_mut(), &successful, StatusCode::REFUND);
    must("commit", w.commit());
    steps.push(("a final order refunded", epoch()));

    let mut last = quiet;
    for (what, now) in steps {
        assert!(now > last, "the change counter did not move when {what} ({last} then {now})");
        last = now;
    }
    let mut w = writer(store);
    must("begin", w.begin());
    let other = insert(w.as_mut(), &order(m.id, "EPOCH-2", StatusCode::ACCEPTED, Amount::from_minor(100), T0));
    set_order_status(w.as_mut(), &other, StatusCode::PROCESSING);
    must("commit", w.commit());
    assert_eq!(epoch(), last, "a new order, or one moving before it is final, moves the counter");
}
