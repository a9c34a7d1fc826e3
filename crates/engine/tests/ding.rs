//! The DingConnect connector against a fake of Ding's API V1, through the
//! `Provider` trait: the outcome table (delivered, each refusal class of the
//! UAT test numbers, the HTTP-500 insufficient balance, not sent on a dead
//! port, unknown on a 5xx/timeout/garbage, a reference Ding already has
//! looked up, never failed), decisions made on Ding's codes whatever the HTTP
//! status, Batch transfers settled by query, the integrity check of a
//! delivery, `ValidateOnly`, the balance and the day's transfer list for
//! reconciliation.

#[path = "fakes/ding.rs"]
mod fake;

use std::sync::Arc;

use fake::{
    now_unix_ms, FakeDing, Switches, API_KEY, BATCH_SKU, DISTRIBUTOR_FEE_SEN, SKU, START_BALANCE_SEN, UAT_NUMBER,
};
use tambah_domain::{Amount, MerchantId, OrderId, Product, ProviderId, StatusCode};
use tambah_engine::providers::config::Credentials;
use tambah_engine::providers::ding::{Ding, Validation};
use tambah_engine::providers::{Answer, Outcome, Provider, ProviderOrder};
use tambah_store::{AttemptOutcome, ProviderKind, ProviderRow};

const NOW_MS: i64 = 1_800_000_000_000;
/// A customer's number as merchants send it, and as Ding gets it.
const ACCOUNT: &str = "0123456789";
const ACCOUNT_INTERNATIONAL: &str = "60123456789";

fn row(base_url: &str, timeout_ms: i64) -> ProviderRow {
    ProviderRow {
        id: ProviderId::new(2),
        name: "ding".into(),
        kind: ProviderKind::Ding,
        base_url: base_url.into(),
        auth_url: String::new(),
        ref_prefix: "tXyZ".into(),
        secrets_sealed: Vec::new(),
        timeout_ms,
        low_balance: None,
        enabled: true,
        created_at_ms: 0,
        updated_at_ms: 0,
        codes_json: "{}".into(),
    }
}

fn key(api_key: &str) -> Credentials {
    Credentials::Key { api_key: api_key.into() }
}

fn connector(base_url: &str, timeout_ms: i64) -> Arc<dyn Provider> {
    Ding::connect(&row(base_url, timeout_ms), key(API_KEY)).expect("a connector")
}

fn product() -> Product {
    let catalog = tambah_engine::catalog::parse(tambah_engine::catalog::BUILT_IN).unwrap();
    (**catalog.get("C").expect("product C")).clone()
}

fn order(upstream_ref: &str, account: &str, rm: i64) -> ProviderOrder {
    ProviderOrder {
        order_id: OrderId::new(9),
        merchant_id: MerchantId::new(1),
        refid: "R9".into(),
        product: "C".into(),
        account: account.into(),
        amount: Amount::from_rm(rm),
        status: StatusCode::PROCESSING,
        created_at_ms: NOW_MS,
        upstream_product: SKU.into(),
        upstream_ref: upstream_ref.into(),
        extras: Default::default(),
    }
}

fn pending() -> Outcome {
    Outcome::Pending { recheck_at_ms: NOW_MS + 10_000 }
}

async fn start_with(switches: Switches) -> (FakeDing, Arc<dyn Provider>) {
    let fake = FakeDing::start(switches).await;
    let provider = connector(&fake.url, 2_000);
    (fake, provider)
}

async fn start() -> (FakeDing, Arc<dyn Provider>) {
    start_with(Switches::default()).await
}

async fn submit(p: &Arc<dyn Provider>, o: &ProviderOrder) -> Answer {
    p.submit(o, &product(), NOW_MS).await
}

async fn query(p: &Arc<dyn Provider>, o: &ProviderOrder) -> Answer {
    p.query(o, &product(), NOW_MS).await
}

fn test_number(digit: char) -> String {
    format!("{}{digit}", &UAT_NUMBER[..UAT_NUMBER.len() - 1])
}

#[tokio::test]
async fn a_transfer_is_delivered_with_the_operators_reference_and_its_cost() {
    let (fake, ding) = start().await;
    let o = order("tXyZ9-1", ACCOUNT, 10);
    let answer = submit(&ding, &o).await;
    let Outcome::Delivered(delivery) = &answer.outcome else { panic!("{answer:?}") };
    assert!(delivery.sn.starts_with("DG"), "{delivery:?}");
    assert!(delivery.note.contains("TransferRef 8637"), "{delivery:?}");
    assert_eq!(answer.upstream_code, "Complete");
    assert!(answer.excerpt.contains("\"ProcessingState\":\"Complete\""));
    assert_eq!(answer.cost, Some(Amount::from_minor(10 * 10_000 + DISTRIBUTOR_FEE_SEN * 100)));
    assert_eq!(fake.balance_sen(), START_BALANCE_SEN - 1_000 - DISTRIBUTOR_FEE_SEN);

    // The wire: PascalCase, ValidateOnly present, international number.
    let sent = &fake.sends()[0];
    assert_eq!(sent["SkuCode"], SKU);
    assert_eq!(sent["DistributorRef"], "tXyZ9-1");
    assert_eq!(sent["AccountNumber"], ACCOUNT_INTERNATIONAL);
    assert_eq!(sent["SendValue"].to_string(), "10.00");
    assert_eq!(sent["SendCurrencyIso"], "MYR");
    assert_eq!(sent["ValidateOnly"], false);

    // Asked later by the same reference: the same delivery, nothing re-sent.
    assert_eq!(query(&ding, &o).await.outcome, answer.outcome);
    assert_eq!(fake.sends().len(), 1);
    assert_eq!(fake.lists()[0]["DistributorRef"], "tXyZ9-1");
}

#[tokio::test]
async fn without_an_operator_reference_the_serial_is_dings_transfer_ref() {
    let (_fake, ding) = start_with(Switches { provider_ref: false, ..Switches::default() }).await;
    let answer = submit(&ding, &order("tXyZ9-1", ACCOUNT, 10)).await;
    let Outcome::Delivered(delivery) = &answer.outcome else { panic!("{answer:?}") };
    assert_eq!(delivery.sn, "863785357");
}

/// The FAQ's test numbers, digit by digit, and what each means for the order.
fn uat_expectations() -> Vec<(char, Option<Outcome>, &'static str)> {
    let unavailable = None;
    let declined = Some(StatusCode::INVALID_ACCOUNT);
    vec![
        ('1', unavailable.clone(), "RateLimited"),
        ('2', unavailable.clone(), "TransientProviderError/ProviderTimedOut"),
        ('3', unavailable.clone(), "TransientProviderError/ProviderRefusedRequest"),
        ('4', unavailable.clone(), "ProviderError/ProductUnavailable"),
        (
            '5',
            declined.map(|code| Outcome::Declined { code, reason: String::new() }),
            "AccountNumberInvalid/ProviderRefusedRequest",
        ),
        ('6', unavailable.clone(), "ProviderError/ProviderTemporarilyUnavailable"),
        ('7', unavailable.clone(), "InsufficientBalance"),
        (
            '8',
            declined.map(|code| Outcome::Declined { code, reason: String::new() }),
            "AccountNumberInvalid/AccountNumberFailedRegex",
        ),
        ('9', unavailable, "ProviderError/RechargeNotAllowed"),
    ]
}

async fn check_uat_table(ding: &Arc<dyn Provider>) {
    for (digit, expected, code) in uat_expectations() {
        let answer = submit(ding, &order(&format!("tXyZ9-{digit}"), &test_number(digit), 10)).await;
        assert_eq!(answer.upstream_code, code, "digit {digit}");
        match (expected, &answer.outcome) {
            (None, Outcome::Unavailable { .. }) => {}
            (Some(Outcome::Declined { code: want, .. }), Outcome::Declined { code: got, .. }) if want == *got => {}
            (want, got) => panic!("digit {digit}: expected {want:?}, got {got:?}"),
        }
    }
}

#[tokio::test]
async fn the_uat_test_numbers_give_each_refusal_class() {
    let (fake, ding) = start().await;
    check_uat_table(&ding).await;
    // The insufficient balance came as an HTTP 500, the rest as 200.
    assert_eq!(fake.statuses(), vec![200, 200, 200, 200, 200, 200, 500, 200, 200]);
    // Digit 0 succeeds and debits nothing.
    let answer = submit(&ding, &order("tXyZ9-0", &test_number('0'), 10)).await;
    assert!(matches!(answer.outcome, Outcome::Delivered(_)), "{answer:?}");
    assert_eq!(fake.balance_sen(), START_BALANCE_SEN);
}

#[tokio::test]
async fn codes_decide_whatever_http_status_the_body_comes_under() {
    for seed in [1, 7, 42] {
        let (fake, ding) = start_with(Switches { random_status: Some(seed), ..Switches::default() }).await;
        check_uat_table(&ding).await;
        let statuses = fake.statuses();
        assert!(statuses.iter().any(|s| *s >= 500) && statuses.iter().any(|s| *s < 500), "seed {seed}: {statuses:?}");
    }
}

#[tokio::test]
async fn an_insufficient_balance_under_http_500_is_not_sent_and_may_go_elsewhere() {
    let (fake, ding) = start().await;
    fake.set_balance_sen(500);
    let answer = submit(&ding, &order("tXyZ9-1", ACCOUNT, 10)).await;
    assert!(matches!(answer.outcome, Outcome::Unavailable { .. }), "{answer:?}");
    assert_eq!(answer.upstream_code, "InsufficientBalance");
    assert_eq!(fake.statuses(), vec![500]);
    assert_eq!(fake.transfers(), 0);
}

#[tokio::test]
async fn a_dead_port_is_not_sent_and_a_query_to_it_learns_nothing() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/V1", listener.local_addr().unwrap());
    drop(listener);
    let ding = connector(&url, 2_000);
    let o = order("tXyZ9-1", ACCOUNT, 10);
    assert!(matches!(submit(&ding, &o).await.outcome, Outcome::Unavailable { .. }));
    assert_eq!(query(&ding, &o).await.outcome, pending());
}

#[tokio::test]
async fn a_proxy_page_after_sending_is_unknown_and_the_query_finds_the_delivery() {
    let (fake, ding) = start_with(Switches { garbage: true, ..Switches::default() }).await;
    let o = order("tXyZ9-1", ACCOUNT, 10);
    let answer = submit(&ding, &o).await;
    assert_eq!(answer.outcome, pending());
    assert_eq!(answer.upstream_code, "HTTP 502");
    assert!(answer.excerpt.contains("Incapsula"));
    assert!(matches!(query(&ding, &o).await.outcome, Outcome::Delivered(_)));
    assert_eq!(fake.sends().len(), 1);
}

#[tokio::test]
async fn a_timeout_after_sending_is_unknown_and_the_query_finds_the_delivery() {
    let fake = FakeDing::start(Switches { answer_delay_ms: 1_500, ..Switches::default() }).await;
    let ding = connector(&fake.url, 300);
    let o = order("tXyZ9-1", ACCOUNT, 10);
    assert_eq!(submit(&ding, &o).await.outcome, pending());
    assert!(matches!(query(&ding, &o).await.outcome, Outcome::Delivered(_)));
    assert_eq!(fake.sends().len(), 1);
}

#[tokio::test]
async fn a_query_answered_by_a_proxy_page_or_finding_nothing_waits() {
    let (fake, ding) = start().await;
    let o = order("tXyZ9-1", ACCOUNT, 10);
    // Never sent here: Ding's list is no proof either way.
    let answer = query(&ding, &o).await;
    assert_eq!(answer.outcome, pending());
    assert_eq!(answer.upstream_code, "not listed");
    fake.set(|s| s.list_garbage = true);
    assert_eq!(query(&ding, &o).await.outcome, pending());
}

#[tokio::test]
async fn the_provider_timing_out_is_dings_failed_transfer_and_not_sent() {
    let (fake, ding) = start_with(Switches { provider_timeout_ms: Some(50), ..Switches::default() }).await;
    let o = order("tXyZ9-1", ACCOUNT, 10);
    let answer = submit(&ding, &o).await;
    assert!(matches!(answer.outcome, Outcome::Unavailable { .. }), "{answer:?}");
    assert_eq!(answer.upstream_code, "TransientProviderError/ProviderTimedOut");
    assert_eq!(fake.balance_sen(), START_BALANCE_SEN);
    // Its record says the same on a query.
    assert!(matches!(query(&ding, &o).await.outcome, Outcome::Unavailable { .. }));
}

#[tokio::test]
async fn a_duplicate_prevented_answer_is_looked_up_not_failed() {
    let (fake, ding) = start_with(Switches { dedup: true, ..Switches::default() }).await;
    let o = order("tXyZ9-1", ACCOUNT, 10);
    assert!(matches!(submit(&ding, &o).await.outcome, Outcome::Delivered(_)));
    let again = submit(&ding, &o).await;
    assert_eq!(again.outcome, pending());
    assert_eq!(again.upstream_code, "DuplicateTransactionPrevented");
    assert!(matches!(query(&ding, &o).await.outcome, Outcome::Delivered(_)));
    assert_eq!(fake.transfers(), 1);
}

#[tokio::test]
async fn a_reference_ding_paid_twice_is_still_one_delivery_and_flagged() {
    // Without de-duplication (as Ding has been seen to do) a replay is paid.
    let (fake, ding) = start().await;
    let o = order("tXyZ9-1", ACCOUNT, 10);
    submit(&ding, &o).await;
    submit(&ding, &o).await;
    assert_eq!(fake.transfers(), 2);
    assert!(matches!(query(&ding, &o).await.outcome, Outcome::Delivered(_)));
}

#[tokio::test]
async fn a_batch_transfer_is_submitted_then_settled_by_query() {
    let (_fake, ding) = start_with(Switches { batch_settle_ms: 150, ..Switches::default() }).await;
    let mut o = order("tXyZ9-1", ACCOUNT, 10);
    o.upstream_product = BATCH_SKU.into();
    let answer = submit(&ding, &o).await;
    assert_eq!((answer.outcome, answer.upstream_code.as_str()), (pending(), "Submitted"));
    assert_eq!(query(&ding, &o).await.outcome, pending());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(matches!(query(&ding, &o).await.outcome, Outcome::Delivered(_)));

    let (fake, ding) = start_with(Switches { batch_settle_ms: 0, batch_final: "Failed", ..Switches::default() }).await;
    assert_eq!(submit(&ding, &o).await.outcome, pending());
    let answer = query(&ding, &o).await;
    assert!(matches!(answer.outcome, Outcome::Unavailable { .. }), "{answer:?}");
    assert_eq!(answer.upstream_code, "ProviderError/ProviderTemporarilyUnavailable");
    assert_eq!(fake.balance_sen(), START_BALANCE_SEN);
}

#[tokio::test]
async fn a_delivery_of_another_amount_is_flagged_not_accepted() {
    let (_fake, ding) = start_with(Switches { wrong_amount: true, ..Switches::default() }).await;
    let o = order("tXyZ9-1", ACCOUNT, 10);
    assert_eq!(submit(&ding, &o).await.outcome, pending());
    assert_eq!(query(&ding, &o).await.outcome, pending());
}

#[tokio::test]
async fn a_refused_key_is_not_sent_and_a_query_with_it_waits() {
    let fake = FakeDing::start(Switches::default()).await;
    let ding = Ding::connect(&row(&fake.url, 2_000), key("wrong")).unwrap();
    let o = order("tXyZ9-1", ACCOUNT, 10);
    let answer = submit(&ding, &o).await;
    assert!(matches!(answer.outcome, Outcome::Unavailable { .. }), "{answer:?}");
    assert_eq!(answer.upstream_code, "AuthenticationFailed");
    assert_eq!(fake.statuses(), vec![401]);
    assert_eq!(query(&ding, &o).await.outcome, pending());
    assert!(ding.balance().await.is_err());
}

#[tokio::test]
async fn requests_ding_refuses_as_invalid_are_not_sent() {
    let (fake, ding) = start().await;
    // Above the SKU's maximum: ParameterOutOfRange.
    let answer = submit(&ding, &order("tXyZ9-1", ACCOUNT, 900)).await;
    assert!(matches!(answer.outcome, Outcome::Unavailable { .. }), "{answer:?}");
    assert_eq!(answer.upstream_code, "ParameterOutOfRange/SendValue");
    // A number Ding's pattern refuses: about the customer, final.
    let answer = submit(&ding, &order("tXyZ9-2", "12345", 10)).await;
    assert!(matches!(answer.outcome, Outcome::Declined { code: StatusCode::INVALID_ACCOUNT, .. }), "{answer:?}");
    // Part of a sen cannot be sent at all: it never leaves.
    let mut o = order("tXyZ9-3", ACCOUNT, 10);
    o.amount = Amount::from_minor(100_050);
    assert!(matches!(submit(&ding, &o).await.outcome, Outcome::Unavailable { .. }));
    assert_eq!(fake.sends().len(), 2);
    assert_eq!(fake.transfers(), 0);
}

#[tokio::test]
async fn validate_only_checks_without_debiting_or_recording() {
    let fake = FakeDing::start(Switches::default()).await;
    let ding = Ding::new(&row(&fake.url, 2_000), key(API_KEY)).unwrap();
    let o = order("tXyZ9-1", ACCOUNT, 10);
    let Validation::Valid(estimate) = ding.validate_only(&o, NOW_MS).await else { panic!("refused") };
    assert_eq!((estimate.send_value.as_str(), estimate.send_currency.as_str()), ("10.00", "MYR"));
    assert_eq!(fake.sends()[0]["ValidateOnly"], true);
    assert_eq!((fake.transfers(), fake.balance_sen()), (0, START_BALANCE_SEN));

    fake.set_balance_sen(100);
    let Validation::Refused(refusal) = ding.validate_only(&o, NOW_MS).await else { panic!("valid") };
    assert!(matches!(refusal.outcome, Outcome::Unavailable { .. }), "{refusal:?}");
    assert_eq!(refusal.upstream_code, "InsufficientBalance");
    let Validation::Refused(refusal) = ding.validate_only(&order("tXyZ9-1", &test_number('5'), 10), NOW_MS).await
    else {
        panic!("valid")
    };
    assert!(matches!(refusal.outcome, Outcome::Declined { code: StatusCode::INVALID_ACCOUNT, .. }));
}

#[tokio::test]
async fn the_balance_is_our_float_in_ringgit_and_the_host_alone_is_a_base_url() {
    let (fake, _) = start().await;
    let ding = connector(&fake.host, 2_000);
    assert_eq!(ding.balance().await.unwrap(), Some(Amount::from_rm(1_000)));
    fake.set(|s| s.currency = "USD");
    assert_eq!(ding.balance().await.unwrap(), None);
}

#[tokio::test]
async fn the_days_transfers_are_listed_page_by_page_for_reconciliation() {
    for plain in [false, true] {
        let (fake, ding) = start_with(Switches { started_utc_plain: plain, ..Switches::default() }).await;
        // More than one page of Ding's list (100), one of them failed.
        for i in 0..104 {
            submit(&ding, &order(&format!("tXyZ{i}-1"), ACCOUNT, 5)).await;
        }
        fake.set(|s| s.provider_timeout_ms = Some(0));
        submit(&ding, &order("tXyZfail-1", ACCOUNT, 7)).await;
        let today = tambah_domain::time::date_text(tambah_domain::time::day_of(now_unix_ms()));
        let listed = ding.transactions(&today).await.expect("listed");
        assert_eq!(listed.len(), 105);
        let delivered = listed.iter().find(|t| t.reference == "tXyZ3-1").unwrap();
        assert_eq!((delivered.settled, delivered.amount), (Some(AttemptOutcome::Delivered), Amount::from_rm(5)));
        let failed = listed.iter().find(|t| t.reference == "tXyZfail-1").unwrap();
        assert_eq!((failed.settled, failed.amount), (Some(AttemptOutcome::NotSent), Amount::from_rm(7)));
        assert_eq!(failed.code, "TransientProviderError/ProviderTimedOut");
        assert_eq!(fake.lists().iter().map(|l| l["Skip"].as_u64().unwrap()).collect::<Vec<_>>(), vec![0, 100]);
        assert!(ding.transactions("2020-01-01").await.unwrap().is_empty());
    }
}

/// `tambah provider test NAME --product ...` through the engine: the order
/// goes to Ding with `ValidateOnly` under the route's SKU, Ding's estimate or
/// refusal comes back in words, and nothing is debited or recorded at Ding.
/// A product with no route there, and a provider kind with no such
/// check, are refused before anything is sent.
#[tokio::test]
async fn an_order_is_checked_at_ding_through_its_route_without_buying_it() {
    use tambah_engine::merchants::AdminError;
    use tambah_engine::providers::config::{ProviderSpec, RouteSpec};
    use tambah_engine::{catalog, Config, Engine, MasterKey, SystemClock};
    use tambah_store_sqlite::SqliteStore;

    let fake = FakeDing::start(Switches::default()).await;
    let path = std::env::temp_dir().join(format!("tambah-ding-check-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store: Arc<dyn tambah_store::Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let (engine, runner) = Engine::start(
        store,
        catalog::parse(catalog::BUILT_IN).unwrap(),
        tambah_engine::families::Families::parse(tambah_engine::families::BUILT_IN).unwrap(),
        MasterKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap(),
        Config::default(),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let spec = |name: &str, kind, credentials| ProviderSpec {
        name: name.into(),
        kind,
        base_url: fake.url.clone(),
        auth_url: fake.url.clone(),
        credentials,
        timeout_ms: 2_000,
        low_balance: None,
    };
    engine.add_provider(&spec("ding", ProviderKind::Ding, key(API_KEY))).await.unwrap();
    let route = RouteSpec {
        product: "C".into(),
        provider: "ding".into(),
        upstream_product: Some(SKU.into()),
        priority: 1,
        weight: 1,
        buy_price: None,
    };
    engine.put_route(&route).await.unwrap();

    let said = engine.check_at_provider("ding", "C", ACCOUNT, Amount::from_rm(10)).await.unwrap();
    assert!(said.starts_with("sends 10.00 MYR, delivers"), "{said}");
    let sent = &fake.sends()[0];
    assert_eq!((sent["ValidateOnly"].as_bool(), sent["SkuCode"].as_str()), (Some(true), Some(SKU)));
    assert_eq!(sent["AccountNumber"], ACCOUNT_INTERNATIONAL);

    fake.set_balance_sen(100);
    let err = engine.check_at_provider("ding", "C", ACCOUNT, Amount::from_rm(10)).await.unwrap_err();
    assert!(err.to_string().contains("[InsufficientBalance]"), "{err}");
    fake.set_balance_sen(START_BALANCE_SEN);
    let err = engine.check_at_provider("ding", "C", &test_number('5'), Amount::from_rm(10)).await.unwrap_err();
    assert!(err.to_string().contains("declined (40)"), "{err}");
    assert_eq!((fake.transfers(), fake.balance_sen()), (0, START_BALANCE_SEN), "nothing bought");

    let sends = fake.sends().len();
    let err = engine.check_at_provider("ding", "D", ACCOUNT, Amount::from_rm(10)).await.unwrap_err();
    assert!(matches!(err, AdminError::NotFound(_)), "{err}");
    let err = engine.check_at_provider("ding", "C", ACCOUNT, Amount::ZERO).await.unwrap_err();
    assert!(matches!(err, AdminError::Invalid(_)), "{err}");
    let reloadly = Credentials::ClientCredentials { client_id: "id".into(), client_secret: "secret".into() };
    engine.add_provider(&spec("rl", ProviderKind::Reloadly, reloadly)).await.unwrap();
    engine.put_route(&RouteSpec { provider: "rl".into(), ..route }).await.unwrap();
    let err = engine.check_at_provider("rl", "C", ACCOUNT, Amount::from_rm(10)).await.unwrap_err();
    assert!(err.to_string().contains("cannot check an order without buying it"), "{err}");
    assert_eq!(fake.sends().len(), sends, "refused before anything was sent");

    runner.shutdown(&engine).await;
    let _ = std::fs::remove_file(&path);
}
