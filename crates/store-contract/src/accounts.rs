//! The dashboard's accounts: members and roles, one-use links, live access,
//! operators, their sessions and the audit log.

use tambah_domain::{Environment, Role};
use tambah_store::{ApiKeyRow, LinkPurpose, RequestLogRow, Store};

use crate::fixtures::{block, create, expect_unique, must, new_merchant, T0};

/// Members are listed by username with their roles; a removed member's
/// tokens go with it; another merchant cannot remove it.
pub fn members(store: &dyn Store) {
    let m = create(store, Environment::Staging, "owner");
    let other = create(store, Environment::Staging, "stranger");
    let viewer = must("insert_user", block(store.insert_user(m.id, "viewer@example.com", "", Role::Viewer)));
    expect_unique("insert_user with a taken username", block(store.insert_user(other.id, "owner", "", Role::Admin)));
    let members = must("members", block(store.members(m.id)));
    let names: Vec<(&str, Role)> = members.iter().map(|u| (u.username.as_str(), u.role)).collect();
    assert_eq!(names, [("owner", Role::Admin), ("viewer@example.com", Role::Viewer)], "members by username");
    assert!(!must("remove_user", block(store.remove_user(other.id, viewer))), "only its own merchant removes a member");
    assert!(must("remove_user", block(store.remove_user(m.id, viewer))), "the merchant removes its member");
    assert!(must("user", block(store.user(viewer))).is_none(), "a removed member is gone");
    assert!(!must("remove_user", block(store.remove_user(m.id, viewer))), "removing twice finds nothing");
    // The last admin stays; with a second admin, either may go.
    let owner = must("owner", block(store.user_by_username("owner"))).expect("owner");
    assert!(!must("remove_user", block(store.remove_user(m.id, owner.id))), "the last admin stays");
    assert!(must("user", block(store.user(owner.id))).is_some());
    let second = must("insert_user", block(store.insert_user(m.id, "second@example.com", "", Role::Admin)));
    assert!(must("remove_user", block(store.remove_user(m.id, owner.id))), "not the last admin any more");
    assert!(!must("remove_user", block(store.remove_user(m.id, second))), "now it is");
}

/// A link is used once, for its purpose, before it expires.
pub fn user_links(store: &dyn Store) {
    let m = create(store, Environment::Staging, "links");
    let user = must("insert_user", block(store.insert_user(m.id, "new@example.com", "", Role::Developer)));
    must("insert_user_link", block(store.insert_user_link("h1", user, LinkPurpose::Invite, T0 + 1_000, T0)));
    must("insert_user_link", block(store.insert_user_link("h2", user, LinkPurpose::Reset, T0 + 1_000, T0)));
    let pending = must("pending_user_link", block(store.pending_user_link("h1", LinkPurpose::Invite, T0)));
    assert_eq!(pending.map(|u| u.id), Some(user), "a pending link names its user, and stays pending");
    assert!(must("pending", block(store.pending_user_link("h1", LinkPurpose::Reset, T0))).is_none());
    assert!(must("pending", block(store.pending_user_link("h1", LinkPurpose::Invite, T0 + 1_000))).is_none());
    let wrong = must("use_user_link", block(store.use_user_link("h1", LinkPurpose::Reset, T0)));
    assert!(wrong.is_none(), "an invitation is not a reset link");
    let used = must("use_user_link", block(store.use_user_link("h1", LinkPurpose::Invite, T0)));
    assert_eq!(used.map(|u| u.id), Some(user), "the link names its user");
    assert!(must("again", block(store.use_user_link("h1", LinkPurpose::Invite, T0))).is_none(), "used once");
    assert!(must("pending", block(store.pending_user_link("h1", LinkPurpose::Invite, T0))).is_none(), "not pending");
    // A TOTP secret: set, replaced, each step once, removed.
    assert_eq!(must("user_totp", block(store.user_totp(user))), None);
    must("set_user_totp", block(store.set_user_totp(user, Some(&[1, 2, 3]), T0)));
    assert!(must("step", block(store.use_user_totp_step(user, 10))));
    assert!(!must("step", block(store.use_user_totp_step(user, 10))), "a step once");
    must("set_user_totp", block(store.set_user_totp(user, Some(&[4, 5]), T0)));
    assert_eq!(must("user_totp", block(store.user_totp(user))), Some(vec![4, 5]), "replaced");
    assert!(must("step", block(store.use_user_totp_step(user, 10))), "a new secret starts afresh");
    must("set_user_totp", block(store.set_user_totp(user, None, T0)));
    assert_eq!(must("user_totp", block(store.user_totp(user))), None, "removed");
    assert!(!must("step", block(store.use_user_totp_step(user, 11))), "no secret, no step");
    must("set_user_totp", block(store.set_user_totp(user, Some(&[6]), T0)));
    let late = must("expired", block(store.use_user_link("h2", LinkPurpose::Reset, T0 + 1_000)));
    assert!(late.is_none(), "an expired link is refused");
    assert!(must("unknown", block(store.use_user_link("h3", LinkPurpose::Reset, T0))).is_none());
    // A member removed with an open link takes the link with it.
    must("insert_user_link", block(store.insert_user_link("h4", user, LinkPurpose::Reset, T0 + 1_000, T0)));
    assert!(must("remove_user", block(store.remove_user(m.id, user))));
    assert!(must("after removal", block(store.use_user_link("h4", LinkPurpose::Reset, T0))).is_none());
    assert_eq!(must("user_totp", block(store.user_totp(user))), None, "a removed member's secret goes too");
}

/// Live access is asked once, approved once: one live merchant with its
/// wallet and no users, linked to the staging one.
pub fn live_access(store: &dyn Store) {
    let staging = create(store, Environment::Staging, "golive");
    let mut live = new_merchant(Environment::Live, "");
    live.name = staging.name.clone();
    assert!(must("approve_live", block(store.approve_live(staging.id, &live))).is_none(), "nothing asked yet");
    assert!(must("request_live", block(store.request_live(staging.id, T0))));
    assert!(!must("request_live", block(store.request_live(staging.id, T0 + 5))), "asked once");
    let pending = must("live_requests", block(store.live_requests()));
    assert_eq!(pending.iter().map(|r| r.staging_merchant_id).collect::<Vec<_>>(), [staging.id]);
    let approved = must("approve_live", block(store.approve_live(staging.id, &live))).expect("an open request");
    assert_eq!(approved.environment, Environment::Live);
    assert_eq!(approved.name, staging.name);
    assert!(must("members", block(store.members(approved.id))).is_empty(), "the live merchant has no users");
    assert!(must("approve twice", block(store.approve_live(staging.id, &live))).is_none(), "approved once");
    let row = must("live_access", block(store.live_access(staging.id))).expect("the request");
    assert_eq!(row.live_merchant_id, Some(approved.id));
    assert_eq!(row.requested_at_ms, T0);
    assert!(must("live_requests", block(store.live_requests())).is_empty(), "an approved request is not pending");
    must("set_ip_allowlist", block(store.set_ip_allowlist(approved.id, "203.0.113.0/24,2001:db8::/32")));
    let reread = must("merchant", block(store.merchant(approved.id))).expect("the live merchant");
    assert_eq!(reread.ip_allowlist, "203.0.113.0/24,2001:db8::/32", "the allowlist is read with the merchant");
    let found = must("search", block(store.search_merchants(&approved.account, 10)));
    assert_eq!(found.iter().map(|m| m.id).collect::<Vec<_>>(), [approved.id]);
    let by_user = must("search", block(store.search_merchants("GOLIV", 10)));
    assert!(by_user.iter().any(|m| m.id == staging.id), "a member's username finds its merchant, any case");
    assert!(must("search", block(store.search_merchants("%", 10))).is_empty(), "wildcards are plain text");
    assert_eq!(must("search", block(store.search_merchants("", 1))).len(), 1, "the limit holds");
}

/// Keys are listed without secrets, newest first.
pub fn api_key_listing(store: &dyn Store) {
    let m = create(store, Environment::Staging, "listing");
    for (i, id) in ["tbh_l_a", "tbh_l_b"].into_iter().enumerate() {
        let key = ApiKeyRow { key_id: id.to_owned(), merchant_id: m.id, secret_sealed: vec![1; 8], revoked: false };
        must("insert_api_key", block(store.insert_api_key(&key, T0 + i as i64)));
    }
    assert!(must("revoke", block(store.revoke_api_key("tbh_l_a"))));
    let keys = must("api_keys_of", block(store.api_keys_of(m.id)));
    let seen: Vec<(&str, bool, i64)> = keys.iter().map(|k| (k.key_id.as_str(), k.revoked, k.created_at_ms)).collect();
    assert_eq!(seen, [("tbh_l_b", false, T0 + 1), ("tbh_l_a", true, T0)]);
}

/// Operators, sessions that end, and an audit log that is append-only in
/// order.
pub fn operators_and_audit(store: &dyn Store) {
    let id = must("insert_operator", block(store.insert_operator("ops@example.com", "phc", &[7; 40], T0)));
    expect_unique("a taken e-mail", block(store.insert_operator("ops@example.com", "phc", &[7; 40], T0)));
    let op = must("operator_by_email", block(store.operator_by_email("ops@example.com"))).expect("the operator");
    assert_eq!((op.id, op.totp_sealed.as_slice(), op.password_hash.as_str()), (id, &[7u8; 40][..], "phc"));
    assert!(must("use_totp_step", block(store.use_totp_step(id, 100))), "a first step");
    assert!(!must("use_totp_step", block(store.use_totp_step(id, 100))), "the same step once");
    assert!(!must("use_totp_step", block(store.use_totp_step(id, 99))), "nor an earlier one");
    assert!(must("use_totp_step", block(store.use_totp_step(id, 101))), "a later one");
    must("insert_operator_session", block(store.insert_operator_session("s1", id, T0 + 100, T0)));
    assert_eq!(must("session", block(store.operator_session("s1", T0))).map(|o| o.id), Some(id));
    assert!(must("expired", block(store.operator_session("s1", T0 + 100))).is_none(), "an expired session ends");
    assert!(must("revoke", block(store.revoke_operator_session("s1"))));
    assert!(must("revoked", block(store.operator_session("s1", T0))).is_none(), "a revoked session ends");
    let m = create(store, Environment::Live, "audited");
    must("record_audit", block(store.record_audit(id, "deposit", Some(m.id), "RM 10.00: float", T0)));
    must("record_audit", block(store.record_audit(id, "login", None, "", T0 + 1)));
    let log = must("audit_log", block(store.audit_log(10)));
    let seen: Vec<(&str, Option<&str>, &str)> =
        log.iter().map(|a| (a.action.as_str(), a.merchant_account.as_deref(), a.operator_email.as_str())).collect();
    assert_eq!(seen, [("login", None, "ops@example.com"), ("deposit", Some(m.account.as_str()), "ops@example.com")]);
    assert_eq!(must("audit_log", block(store.audit_log(1))).len(), 1);
}

/// The request log: appended in batches, read newest first per merchant,
/// trimmed by age.
pub fn request_log(store: &dyn Store) {
    let m = create(store, Environment::Staging, "requests");
    let other = create(store, Environment::Staging, "other-requests");
    let row = |merchant_id, at_ms, status: u16, error: &str| RequestLogRow {
        merchant_id,
        at_ms,
        method: "POST".into(),
        path: "/v2/topup".into(),
        status,
        error: error.into(),
        message: "amount \"1.001\": more than 2 decimals ✓".into(),
        request_id: "req-1".into(),
        client_ip: "203.0.113.7".into(),
    };
    let batch = [row(m.id, T0, 400, "invalid_amount"), row(other.id, T0 + 1, 401, "x"), row(m.id, T0 + 2, 409, "c")];
    must("insert_request_log", block(store.insert_request_log(&batch)));
    must("insert_request_log", block(store.insert_request_log(&[])));
    let mine = must("request_log", block(store.request_log(m.id, 10)));
    assert_eq!(mine, vec![batch[2].clone(), batch[0].clone()], "newest first, this merchant's only, every field kept");
    assert_eq!(must("request_log", block(store.request_log(m.id, 1))).len(), 1, "the limit holds");
    assert_eq!(must("trim", block(store.trim_request_log(T0 + 2, 100))), 2, "older than the cut");
    assert_eq!(must("request_log", block(store.request_log(m.id, 10))), vec![batch[2].clone()]);
    let more = [row(m.id, T0 + 3, 400, "a"), row(m.id, T0 + 4, 400, "b"), row(other.id, T0 + 5, 400, "c")];
    must("insert_request_log", block(store.insert_request_log(&more)));
    assert_eq!(must("trim", block(store.trim_request_log(T0, 2))), 1, "beyond a merchant's newest two");
    let kept: Vec<String> =
        must("request_log", block(store.request_log(m.id, 10))).into_iter().map(|r| r.error).collect();
    assert_eq!(kept, ["b", "a"], "the newest kept");
    assert_eq!(must("request_log", block(store.request_log(other.id, 10))).len(), 1, "another merchant's untouched");
}

/// Dashboard sessions: started, read with their member until they expire,
/// marked when a code was given, ended one by one or all of a member's;
/// a member's links are spent at once.
pub fn dashboard_sessions(store: &dyn Store) {
    let m = create(store, Environment::Staging, "sessions");
    let user = must("user", block(store.user_by_username("sessions"))).expect("the first member");
    must("insert", block(store.insert_dashboard_session("s1", user.id, false, T0 + 100, T0)));
    must("insert", block(store.insert_dashboard_session("s2", user.id, true, T0 + 100, T0)));
    let read = |h: &str, now| must("dashboard_session", block(store.dashboard_session(h, now)));
    assert_eq!(read("s1", T0), Some((user.clone(), false)));
    assert_eq!(read("s2", T0).map(|(_, f)| f), Some(true));
    assert!(read("s1", T0 + 100).is_none(), "expired");
    assert!(must("pass", block(store.pass_dashboard_two_factor("s1"))));
    assert_eq!(read("s1", T0).map(|(_, f)| f), Some(true), "a code was given");
    assert!(must("end", block(store.end_dashboard_session("s1"))));
    assert!(read("s1", T0).is_none() && !must("end", block(store.end_dashboard_session("s1"))));
    must("end all", block(store.end_user_dashboard_sessions(user.id)));
    assert!(read("s2", T0).is_none(), "every session of the member ends");
    must("link", block(store.insert_user_link("l1", user.id, LinkPurpose::Reset, T0 + 100, T0)));
    must("spend", block(store.spend_user_links(user.id, T0)));
    assert!(must("pending", block(store.pending_user_link("l1", LinkPurpose::Reset, T0))).is_none(), "spent");
    let other = must("insert_user", block(store.insert_user(m.id, "second@example.com", "", Role::Admin)));
    must("insert", block(store.insert_dashboard_session("s3", other, false, T0 + 100, T0)));
    assert!(must("remove", block(store.remove_user(m.id, other))));
    assert!(read("s3", T0).is_none(), "a removed member's sessions end");
}
