//! The Reloadly connector against a fake of Reloadly's Airtime API, through
//! the `Provider` trait: the outcome table (delivered, each refusal class, not
//! sent on a dead port, unknown on a 5xx/timeout/garbage, a reused reference
//! looked up, never failed), the token (cached, renewed on expiry and on a
//! 401) and the integrity check of a delivery.

#[path = "fakes/reloadly.rs"]
mod fake;

use std::sync::Arc;
use std::time::Duration;

use fake::{FakeReloadly, Fault, Switches, CLIENT_ID, CLIENT_SECRET, MEDIA_TYPE, OPERATOR_ID};
use tambah_domain::{Amount, MerchantId, OrderId, Product, ProviderId, StatusCode};
use tambah_engine::providers::config::Credentials;
use tambah_engine::providers::reloadly::Reloadly;
use tambah_engine::providers::{Delivery, Outcome, Provider, ProviderOrder};
use tambah_store::{ProviderKind, ProviderRow};

const NOW_MS: i64 = 1_800_000_000_000;

fn row(base_url: &str, timeout_ms: i64) -> ProviderRow {
    ProviderRow {
        id: ProviderId::new(1),
        name: "reloadly".into(),
        kind: ProviderKind::Reloadly,
        base_url: base_url.into(),
        // The fake serves the token service on the same host.
        auth_url: base_url.into(),
        ref_prefix: "tAbCdE".into(),
        secrets_sealed: Vec::new(),
        timeout_ms,
        low_balance: None,
        enabled: true,
        created_at_ms: 0,
        updated_at_ms: 0,
        codes_json: "{}".into(),
    }
}

fn credentials() -> Credentials {
    Credentials::ClientCredentials { client_id: CLIENT_ID.into(), client_secret: CLIENT_SECRET.into() }
}

fn connector(fake: &FakeReloadly) -> Arc<dyn Provider> {
    Reloadly::connect(&row(&fake.url, 2_000), credentials()).expect("a connector")
}

fn product() -> Product {
    let catalog = tambah_engine::catalog::parse(tambah_engine::catalog::BUILT_IN).unwrap();
    (**catalog.get("C").expect("product C")).clone()
}

fn order(upstream_ref: &str, account: &str, rm: i64) -> ProviderOrder {
    ProviderOrder {
        order_id: OrderId::new(7),
        merchant_id: MerchantId::new(1),
        refid: "R1".into(),
        product: "C".into(),
        account: account.into(),
        amount: Amount::from_rm(rm),
        status: StatusCode::PROCESSING,
        created_at_ms: NOW_MS,
        upstream_product: OPERATOR_ID.to_string(),
        upstream_ref: upstream_ref.into(),
        extras: Default::default(),
    }
}

fn pending() -> Outcome {
    Outcome::Pending { recheck_at_ms: NOW_MS + 10_000 }
}

async fn start() -> (FakeReloadly, Arc<dyn Provider>) {
    start_with(Switches::default()).await
}

async fn start_with(switches: Switches) -> (FakeReloadly, Arc<dyn Provider>) {
    let fake = FakeReloadly::start(switches).await;
    let provider = connector(&fake);
    (fake, provider)
}

#[tokio::test]
async fn a_delivery_carries_the_operator_reference_and_the_request_is_reloadlys() {
    let (fake, provider) = start().await;
    let o = order("tAbCdE7-1", "0123456789", 10);
    let answer = provider.submit(&o, &product(), NOW_MS).await;
    let Outcome::Delivered(Delivery { sn, .. }) = &answer.outcome else { panic!("{answer:?}") };
    assert_eq!(sn, "7301602843:OrderConfirmed");
    assert_eq!(answer.upstream_code, "SUCCESSFUL");
    assert_eq!(answer.cost, Some(Amount::from_rm(10)), "balanceInfo.cost, in ringgit");
    assert!(answer.excerpt.contains("\"transactionId\":4602843"), "{}", answer.excerpt);
    let bodies = fake.topup_bodies();
    assert_eq!(bodies.len(), 1);
    let body = &bodies[0];
    assert_eq!(body["customIdentifier"], "tAbCdE7-1");
    assert_eq!(body["operatorId"].to_string(), OPERATOR_ID.to_string());
    assert_eq!(body["amount"].to_string(), "10");
    assert_eq!(body["useLocalAmount"], true);
    assert_eq!(body["recipientPhone"]["countryCode"], "MY");
    assert_eq!(body["recipientPhone"]["number"], "0123456789");
    assert!(fake.accept_headers().iter().all(|a| a == MEDIA_TYPE));
    assert_eq!(fake.taken("tAbCdE7-1").len(), 1);
    assert_eq!(provider.balance().await, Ok(Some(Amount::from_rm(9_990))));
}

#[tokio::test]
async fn the_token_is_cached_and_renewed_when_reloadly_says_it_expired() {
    let (fake, provider) = start().await;
    for (i, r) in ["a-1", "a-2"].iter().enumerate() {
        let answer = provider.submit(&order(r, "0123456789", 5), &product(), NOW_MS).await;
        assert!(matches!(answer.outcome, Outcome::Delivered(_)), "{i}: {answer:?}");
    }
    assert_eq!(fake.token_requests(), 1, "one token for both orders");
    fake.expire_tokens();
    let answer = provider.submit(&order("a-3", "0123456789", 5), &product(), NOW_MS).await;
    assert!(matches!(answer.outcome, Outcome::Delivered(_)), "{answer:?}");
    assert_eq!(fake.token_requests(), 2, "renewed once after TOKEN_EXPIRED");
    assert_eq!(fake.topup_requests(), 4, "the refused send was made again, once");
    assert_eq!(fake.taken("a-3").len(), 1, "and taken once");
    fake.expire_tokens();
    let answer = provider.query(&order("a-3", "0123456789", 5), &product(), NOW_MS).await;
    assert!(matches!(answer.outcome, Outcome::Delivered(_)), "a query renews too: {answer:?}");
}

#[tokio::test]
async fn a_token_is_renewed_before_its_expires_in_runs_out() {
    let (fake, provider) = start_with(Switches { token_ttl_s: 1, ..Switches::default() }).await;
    provider.submit(&order("b-1", "0123456789", 5), &product(), NOW_MS).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let answer = provider.submit(&order("b-2", "0123456789", 5), &product(), NOW_MS).await;
    assert!(matches!(answer.outcome, Outcome::Delivered(_)), "{answer:?}");
    assert_eq!(fake.token_requests(), 2);
    assert_eq!(fake.topup_requests(), 2, "no call was refused for an old token");
}

#[tokio::test]
async fn refused_credentials_or_audience_send_nothing() {
    let fake = FakeReloadly::start(Switches::default()).await;
    let wrong = Credentials::ClientCredentials { client_id: CLIENT_ID.into(), client_secret: "nope".into() };
    let provider = Reloadly::connect(&row(&fake.url, 2_000), wrong).unwrap();
    let answer = provider.submit(&order("c-1", "0123456789", 5), &product(), NOW_MS).await;
    assert!(matches!(answer.outcome, Outcome::Unavailable { .. }), "{answer:?}");
    assert_eq!(answer.upstream_code, "INVALID_CREDENTIALS");
    let answer = provider.query(&order("c-1", "0123456789", 5), &product(), NOW_MS).await;
    assert_eq!(answer.outcome, pending(), "a query that does not get through says nothing");

    fake.set(|s| s.accept_own_audience = false);
    let answer = connector(&fake).submit(&order("c-2", "0123456789", 5), &product(), NOW_MS).await;
    assert!(matches!(answer.outcome, Outcome::Unavailable { .. }), "{answer:?}");
    assert_eq!(answer.upstream_code, "INVALID_AUDIENCE");
    assert_eq!(fake.topup_requests(), 0);
}

#[tokio::test]
async fn refusals_are_classified_by_error_code_not_http_status() {
    let (fake, provider) = start().await;
    let cases: [(&str, i64, &str); 6] = [
        ("0100000040", 5, "INVALID_RECIPIENT_PHONE"),
        ("0100000047", 5, "OPERATOR_UNAVAILABLE_OR_CURRENTLY_INACTIVE"),
        ("0123456789", 900, "INVALID_AMOUNT_FOR_OPERATOR"),
        ("0100000055", 5, "TRANSACTION_CANNOT_BE_PROCESSED_AT_THE_MOMENT"),
        ("0100000099", 5, "PHONE_BANNED_BY_OPERATOR"),
        ("0100000048", 5, "FAILED"),
    ];
    let mut outcomes = Vec::new();
    for (i, (account, rm, code)) in cases.iter().enumerate() {
        let answer = provider.submit(&order(&format!("d-{i}"), account, *rm), &product(), NOW_MS).await;
        assert_eq!(answer.upstream_code, *code, "{account}");
        outcomes.push(answer.outcome);
    }
    assert!(matches!(outcomes[0], Outcome::Declined { code: StatusCode::INVALID_ACCOUNT, .. }), "{:?}", outcomes[0]);
    assert!(
        matches!(outcomes[1], Outcome::Unavailable { .. }),
        "503 with a code raised before sending: {:?}",
        outcomes[1]
    );
    assert!(matches!(outcomes[2], Outcome::Unavailable { .. }), "{:?}", outcomes[2]);
    assert_eq!(outcomes[3], pending(), "documented without saying whether it was recorded");
    assert_eq!(outcomes[4], pending(), "an undocumented code is unknown, never a failure");
    assert!(matches!(outcomes[5], Outcome::Unavailable { .. }), "FAILED debits nothing: {:?}", outcomes[5]);

    let answer = provider.submit(&order("d-r", "0100000053", 5), &product(), NOW_MS).await;
    assert!(matches!(answer.outcome, Outcome::Unavailable { .. }), "REFUNDED: {answer:?}");
    fake.set(|s| s.balance = 3.0);
    let answer = provider.submit(&order("d-b", "0123456789", 5), &product(), NOW_MS).await;
    assert!(matches!(answer.outcome, Outcome::Unavailable { .. }), "{answer:?}");
    assert_eq!(answer.upstream_code, "INSUFFICIENT_BALANCE");
}

#[tokio::test]
async fn a_dead_port_is_not_sent() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let provider = Reloadly::connect(&row(&format!("http://127.0.0.1:{port}"), 2_000), credentials()).unwrap();
    let o = order("e-1", "0123456789", 5);
    let answer = provider.submit(&o, &product(), NOW_MS).await;
    assert!(matches!(answer.outcome, Outcome::Unavailable { .. }), "{answer:?}");
    assert_eq!(provider.query(&o, &product(), NOW_MS).await.outcome, pending());
}

#[tokio::test]
async fn a_5xx_a_timeout_or_garbage_after_sending_waits_and_the_query_finds_the_delivery() {
    let (fake, provider) = start().await;
    let faults = [Fault::Html502, Fault::Garbage, Fault::Slow(Duration::from_millis(2_500))];
    for (i, fault) in faults.into_iter().enumerate() {
        fake.set(|s| s.fault = Some(fault.clone()));
        let o = order(&format!("f-{i}"), "0123456789", 5);
        let answer = provider.submit(&o, &product(), NOW_MS).await;
        assert_eq!(answer.outcome, pending(), "{fault:?}: {answer:?}");
        let answer = provider.query(&o, &product(), NOW_MS).await;
        assert!(matches!(answer.outcome, Outcome::Delivered(_)), "{fault:?}: {answer:?}");
        assert_eq!(fake.taken(&o.upstream_ref).len(), 1, "{fault:?}: taken once, never sent again");
    }
}

#[tokio::test]
async fn a_reused_reference_is_looked_up_never_failed() {
    let (fake, provider) = start().await;
    let o = order("g-1", "0123456789", 5);
    fake.seed("g-1", "0123456789", 5.0);
    let answer = provider.submit(&o, &product(), NOW_MS).await;
    assert_eq!(answer.outcome, pending(), "{answer:?}");
    assert_eq!(answer.upstream_code, "CUSTOM_IDENTIFIER_ALREADY_USED");
    let answer = provider.query(&o, &product(), NOW_MS).await;
    assert!(matches!(answer.outcome, Outcome::Delivered(_)), "{answer:?}");
    assert_eq!(fake.taken("g-1").len(), 1);
}

#[tokio::test]
async fn a_reference_the_report_does_not_show_waits() {
    let (_fake, provider) = start().await;
    let answer = provider.query(&order("h-1", "0123456789", 5), &product(), NOW_MS).await;
    assert_eq!(answer.outcome, pending(), "no proof it was never sent");
    assert_eq!(answer.upstream_code, "NOT_FOUND");
}

#[tokio::test]
async fn processing_waits_then_the_query_settles_it_in_either_status_shape() {
    for wrapper in [true, false] {
        let (_fake, provider) =
            start_with(Switches { processing_polls: 1, status_wrapper: wrapper, ..Switches::default() }).await;
        let o = order("i-1", "0123456789", 5);
        let answer = provider.submit(&o, &product(), NOW_MS).await;
        assert_eq!(answer.outcome, pending(), "wrapper {wrapper}: {answer:?}");
        assert_eq!(answer.upstream_code, "PROCESSING");
        let answer = provider.query(&o, &product(), NOW_MS).await;
        assert!(matches!(answer.outcome, Outcome::Delivered(_)), "wrapper {wrapper}: {answer:?}");
    }
}

#[tokio::test]
async fn a_delivery_of_another_amount_is_flagged_not_accepted() {
    let (_fake, provider) = start_with(Switches { delivered_amount_override: Some(50.0), ..Switches::default() }).await;
    let o = order("j-1", "0123456789", 5);
    assert_eq!(provider.submit(&o, &product(), NOW_MS).await.outcome, pending());
    assert_eq!(provider.query(&o, &product(), NOW_MS).await.outcome, pending());
}

#[tokio::test]
async fn a_route_whose_upstream_product_is_no_operator_id_sends_nothing() {
    let (fake, provider) = start().await;
    let mut o = order("k-1", "0123456789", 5);
    o.upstream_product = "CELCOM".into();
    let answer = provider.submit(&o, &product(), NOW_MS).await;
    assert!(matches!(answer.outcome, Outcome::Unavailable { .. }), "{answer:?}");
    assert_eq!(fake.topup_requests(), 0);
}

/// A route of `auto` asks Reloadly which operator serves the number, then
/// sends to it; a number it cannot place sends nothing and may go elsewhere.
#[tokio::test]
async fn an_auto_route_detects_the_operator_then_sends_to_it() {
    let (fake, provider) = start().await;
    let mut o = order("m-1", "0123456789", 5);
    o.upstream_product = "auto".into();
    let answer = provider.submit(&o, &product(), NOW_MS).await;
    assert!(matches!(answer.outcome, Outcome::Delivered(_)), "{answer:?}");
    assert_eq!(fake.auto_detect_requests(), 1);
    assert_eq!(
        fake.topup_bodies()[0]["operatorId"].to_string(),
        OPERATOR_ID.to_string(),
        "sent to the detected operator"
    );
    let answer = provider.query(&o, &product(), NOW_MS).await;
    assert!(matches!(answer.outcome, Outcome::Delivered(_)), "the delivery is accepted on a query too: {answer:?}");

    let mut lost = order("m-2", "0100000044", 5);
    lost.upstream_product = "auto".into();
    let answer = provider.submit(&lost, &product(), NOW_MS).await;
    assert!(matches!(answer.outcome, Outcome::Unavailable { .. }), "{answer:?}");
    assert_eq!(answer.upstream_code, "COULD_NOT_AUTO_DETECT_OPERATOR");
    assert_eq!(fake.topup_requests(), 1, "nothing was sent for a number without an operator");
}

/// Why an attempt that may have been sent is never sent again: Reloadly's
/// reuse check is not atomic, and two sends under one reference both pay.
/// The query then delivers once for us and the duplicate is flagged.
#[tokio::test]
async fn two_sends_inside_the_race_window_are_both_paid_and_the_query_still_settles() {
    let (fake, provider) = start().await;
    let o = order("l-1", "0123456789", 5);
    let p = product();
    let (a, b) = tokio::join!(provider.submit(&o, &p, NOW_MS), provider.submit(&o, &p, NOW_MS));
    assert!(matches!(a.outcome, Outcome::Delivered(_)) && matches!(b.outcome, Outcome::Delivered(_)));
    assert_eq!(fake.taken("l-1").len(), 2, "the fake's non-atomic check let both through");
    let answer = provider.query(&o, &product(), NOW_MS).await;
    assert!(matches!(answer.outcome, Outcome::Delivered(_)), "{answer:?}");
}
