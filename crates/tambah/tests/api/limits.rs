//! A hostile client cannot hold the node: slow bodies, idle and half-sent
//! connections, and more connections than the node can keep. Each test
//! reproduces a finding of the attack on the service with small numbers
//! and short timeouts (on 127.0.0.1).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::Server;

fn address(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

/// Reads what the server sends until it closes, or gives up after `wait`:
/// (the text, whether it closed).
async fn read_until_closed(tcp: &mut TcpStream, wait: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into(), false),
        }
    }
}

async fn health(server: &Server) -> u16 {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    match client.get(server.url("/health")).send().await {
        Ok(r) => r.status().as_u16(),
        Err(e) => panic!("/health did not answer: {e}"),
    }
}

/// Sockets that send a POST's headers and one byte of its body no longer
/// hold the in-flight permits: every other request is served while they
/// dawdle, and they get 408 and are closed when their time is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_do_not_starve_other_requests() {
    let server = Server::start(&["--max-in-flight", "8", "--body-timeout-ms", "1500"]);
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut tcp = TcpStream::connect(address(&server)).await.unwrap();
        let head =
            "POST /v2/topup HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{";
        tcp.write_all(head.as_bytes()).await.unwrap();
        slow.push(tcp);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..20 {
        assert_eq!(health(&server).await, 200, "served while 40 bodies are half-sent (8 permits)");
    }
    for tcp in &mut slow {
        let (text, closed) = read_until_closed(tcp, Duration::from_secs(5)).await;
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(text.contains("request_timeout"), "a JSON body: {text}");
        assert!(closed, "the connection is closed after a 408");
    }
}

/// A connection that sends nothing, or nothing more after its request, is
/// closed after the header timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed() {
    let server = Server::start(&["--header-timeout-ms", "700"]);
    let mut silent = TcpStream::connect(address(&server)).await.unwrap();
    let mut kept = TcpStream::connect(address(&server)).await.unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let mut half = TcpStream::connect(address(&server)).await.unwrap();
    half.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(closed, "a connection that never sends is closed");
    let (text, closed) = read_until_closed(&mut kept, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(closed, "a kept-alive connection left idle is closed");
    let (_, closed) = read_until_closed(&mut half, Duration::from_secs(5)).await;
    assert!(closed, "half-sent headers are not waited for forever");
    assert!(started.elapsed() < Duration::from_secs(4), "within the timeout, not the test's patience");
    assert_eq!(health(&server).await, 200);
}

/// A connection that has sent nothing yet costs the node little memory: it
/// is handed to hyper, with its buffers, only once its first byte arrives
/// (5,000 of them cost 94 MB before, ~19 KB each; the bound is about a
/// fifth of that).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_cost_little_memory() {
    // Enough that the node cannot place them in memory it already holds.
    const IDLE: u64 = 4_000;
    let files = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    assert!(files > IDLE + 100, "the test needs {IDLE} sockets, the open-file limit is {files}");
    let server = Server::start(&[]);
    assert_eq!(health(&server).await, 200);
    let before = server.rss_kib();
    let mut idle = Vec::new();
    for _ in 0..IDLE {
        idle.push(TcpStream::connect(address(&server)).await.unwrap());
    }
    // Every connection accepted: a request behind them is answered.
    assert_eq!(health(&server).await, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let grown = server.rss_kib().saturating_sub(before);
    assert!(grown < IDLE * 4, "{IDLE} idle connections grew the node by {grown} KiB");
    drop(idle);
}

/// A client that sends requests and never reads the answers does not hold
/// its connection: once the answers make no progress for the write timeout
/// the node closes it (it stayed open before, megabytes held in the
/// kernel's buffers, long past the header timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_answers_is_closed() {
    let server = Server::start(&["--write-timeout-ms", "1000"]);
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(1024).unwrap();
    let mut tcp = socket.connect(address(&server).parse().unwrap()).await.unwrap();
    let request = b"GET /health HTTP/1.1\r\nhost: tambah\r\n\r\n";
    // Requests until a write fails: the node reset the connection. Without
    // a write timeout the writes only stop, and this waits out its patience.
    let sending = async {
        loop {
            if let Err(e) = tcp.write_all(request).await {
                return e;
            }
        }
    };
    let failed = tokio::time::timeout(Duration::from_secs(10), sending).await;
    let e = failed.expect("the connection is still open after 10 s");
    assert!(
        matches!(e.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe),
        "closed by the node: {e}"
    );
    assert_eq!(health(&server).await, 200);
}

/// The allocator does not ask for transparent huge pages (`madvise`): with
/// them, every sparsely used 2 MB of heap was resident (34 MB of a fresh
/// node's 55 MB, and 50 MB more of its peak under overload).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heap_does_not_ask_for_huge_pages() {
    let server = Server::start(&[]);
    assert_eq!(health(&server).await, 200);
    let smaps = std::fs::read_to_string(format!("/proc/{}/smaps", server.pid())).unwrap();
    // `hg` among a mapping's flags: advised to use huge pages.
    let advised =
        smaps.lines().filter(|l| l.starts_with("VmFlags:") && l.split_whitespace().any(|f| f == "hg")).count();
    assert_eq!(advised, 0, "mappings advised to use huge pages");
}

/// The header timeout counts from the connection, not from its first byte:
/// a client that sends one byte just in time gets what is left, not more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_first_byte_does_not_restart_the_header_timeout() {
    let server = Server::start(&["--header-timeout-ms", "2000"]);
    let connected = Instant::now();
    let mut late = TcpStream::connect(address(&server)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_800)).await;
    late.write_all(b"G").await.unwrap();
    let (_, closed) = read_until_closed(&mut late, Duration::from_secs(6)).await;
    assert!(closed, "half a request line is not waited for forever");
    let held = connected.elapsed();
    assert!(held < Duration::from_millis(3_000), "closed {held:?} after connecting: the timeout restarted");
    assert_eq!(health(&server).await, 200);
}

/// More connections than the cap: the one over it is answered 503 at once
/// with a JSON body instead of hanging in the kernel's queue; once the idle
/// ones are closed, new clients are served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_refused_fast() {
    let server = Server::start(&["--max-connections", "6", "--header-timeout-ms", "1500"]);
    let mut idle = Vec::new();
    for _ in 0..6 {
        idle.push(TcpStream::connect(address(&server)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let mut over = TcpStream::connect(address(&server)).await.unwrap();
    let (text, closed) = read_until_closed(&mut over, Duration::from_secs(3)).await;
    assert!(started.elapsed() < Duration::from_millis(500), "refused at once: {:?}", started.elapsed());
    assert!(text.starts_with("HTTP/1.1 503") && text.contains("\"unavailable\""), "{text}");
    assert!(closed);
    for tcp in &mut idle {
        let (_, closed) = read_until_closed(tcp, Duration::from_secs(5)).await;
        assert!(closed);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(health(&server).await, 200, "served again once the idle connections are gone");
}

/// A body announced larger than the limit is refused before it is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_oversized_body_is_refused_unread() {
    let server = Server::start(&["--body-limit-bytes", "1024"]);
    let mut tcp = TcpStream::connect(address(&server)).await.unwrap();
    let head =
        "POST /v2/topup HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\n\r\n";
    tcp.write_all(head.as_bytes()).await.unwrap();
    let (text, _) = read_until_closed(&mut tcp, Duration::from_secs(3)).await;
    assert!(text.starts_with("HTTP/1.1 413") && text.contains("payload_too_large"), "{text}");
}

/// A merchant past its rate gets 429 with when to come back (Retry-After
/// and the draft RateLimit headers); the operator's own figure for the
/// merchant takes effect on its next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_past_its_rate_is_told_when_to_come_back() {
    let server = Server::start(&["--rate-staging-per-s", "5"]);
    let m = server.merchant(&["--environment", "staging"], "10");
    let client = crate::harness::Client::new(&server, &m);
    let mut codes = Vec::new();
    for _ in 0..12 {
        codes.push(client.signed("GET", "/v2/balance", None).await);
    }
    let limited: Vec<_> = codes.iter().filter(|r| r.status == 429).collect();
    let statuses: Vec<u16> = codes.iter().map(|r| r.status).collect();
    assert!(!limited.is_empty() && statuses.iter().filter(|s| **s == 200).count() >= 5, "{statuses:?}");
    let r = limited[0];
    assert_eq!(r.json["error"], "rate_limited", "{:?}", r.json);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=1).contains(&retry), "whole seconds, rounded up: {retry}");
    assert_eq!(r.headers["ratelimit-policy"], "\"merchant\";q=5;w=1");
    assert!(r.headers["ratelimit"].to_str().unwrap().starts_with("\"merchant\";r=0;t="));
    // Every answer before the 429 said the policy and what was left, less
    // each time, so a client can pace itself.
    let served: Vec<_> = codes.iter().take_while(|r| r.status == 200).collect();
    let left: Vec<u32> = served
        .iter()
        .map(|r| {
            assert_eq!(r.headers["ratelimit-policy"], "\"merchant\";q=5;w=1");
            let v = r.headers["ratelimit"].to_str().unwrap();
            v.split(";r=").nth(1).unwrap().split(';').next().unwrap().parse().unwrap()
        })
        .collect();
    assert!(left.windows(2).all(|w| w[1] <= w[0]) && left.last() < left.first(), "{left:?}");

    server.cli_change(&["merchant", "update", "--account", &m.account, "--rate-limit", "1000"]);
    for _ in 0..20 {
        assert_eq!(client.signed("GET", "/v2/balance", None).await.status, 200, "the merchant's own figure");
    }
    let (ok, _, err) =
        crate::harness::cli_status(&server.db, &["merchant", "update", "--account", &m.account, "--rate-limit", "0"]);
    assert!(!ok && err.contains("--rate-limit"), "{err}");
}

/// A flood of wrong passwords: checked on a few threads of their own with a
/// short queue (the rest answered 503 at once), so memory stays bounded
/// (it reached 5.6 GB with 32 clients before); and one address guessing one
/// username is slowed to a few tries a minute while the user can still log
/// in from elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_is_bounded_in_memory_and_rate() {
    let server = Server::start(&[]);
    let m = server.merchant(&[], "0");
    let http = reqwest::Client::new();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (http, url, user) = (http.clone(), server.url("/v2/token"), format!("nobody{i}"));
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for _ in 0..5 {
                    let r = http.post(&url).form(&[("username", user.as_str()), ("password", "wrong")]).send().await;
                    statuses.push(r.unwrap().status().as_u16());
                }
                statuses
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.extend(t.await.unwrap());
    }
    assert!(statuses.iter().all(|s| [401, 503].contains(s)), "{statuses:?}");
    assert!(statuses.contains(&503), "some refused as busy at once: {statuses:?}");
    let peak_mib = server.peak_rss_kib() / 1024;
    assert!(peak_mib < 150, "peak RSS {peak_mib} MiB");
    let ok = http.post(server.url("/v2/token")).form(&[("username", &m.username), ("password", &m.password)]);
    assert_eq!(ok.send().await.unwrap().status(), 200, "the real user still logs in");

    let limited = Server::start(&["--logins-per-minute", "100,3,100"]);
    let m = limited.merchant(&[], "0");
    let mut seen = Vec::new();
    for _ in 0..5 {
        let r = http.post(limited.url("/v2/token")).form(&[("username", m.username.as_str()), ("password", "guess")]);
        let r = r.send().await.unwrap();
        seen.push((r.status().as_u16(), r.headers().get("retry-after").is_some()));
    }
    assert_eq!(seen, vec![(401, false), (401, false), (401, false), (429, true), (429, true)]);
}

/// Runs `sql` on the PostgreSQL server's maintenance database.
async fn postgres_admin(server: &str, sql: &str) {
    let (client, conn) = tokio_postgres::connect(&format!("{server}/postgres"), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute(sql).await.unwrap();
}

/// Makes the database read-only (or writable again) for every new session,
/// and ends the open ones so the node reconnects under the new rule.
async fn set_read_only(server: &str, name: &str, on: bool) {
    let value = if on { "on" } else { "off" };
    postgres_admin(
        server,
        &format!(
            "ALTER DATABASE \"{name}\" SET default_transaction_read_only = {value};
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
        ),
    )
    .await;
}

async fn wait_for_health(server: &Server, want: u16) {
    for _ in 0..100 {
        if health(server).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/health never answered {want}");
}

/// A database that stops accepting writes: /health says so (503, it makes a
/// write to know), a new topup and a log-in answer 503 (not 500) and the
/// topup says nothing was changed, while a status check (a read) still
/// answers; once writable again the refused refid is free and the wallet
/// exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "needs TAMBAH_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432")]
#[cfg_attr(postgres_pass, ignore = "runs in the default pass (it makes its own PostgreSQL databases)")]
async fn a_read_only_database_is_unhealthy_and_refuses_with_503() {
    let Some(pg) = crate::multinode::server_url() else { return };
    let db = std::sync::Arc::new(crate::harness::Db::fresh_on(Some(pg.clone()), "readonly"));
    let server = Server::start_on_db(db.clone(), &[]);
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let m = server.merchant(&[], "100");
    let client = crate::harness::Client::new(&server, &m);
    let buy =
        |refid: &str| serde_json::json!({"refid": refid, "product": "D", "account": "0123456789", "amount": "10"});
    assert_eq!(client.topup(buy("RO-1")).await.code(), "20");
    let before = client.balance().await;
    let token = client.login().await;
    assert_eq!(health(&server).await, 200);

    set_read_only(&pg, &name, true).await;
    wait_for_health(&server, 503).await;
    let mut refused = client.topup(buy("RO-2")).await;
    if refused.json["message"].as_str().unwrap_or_default().contains("may or may not") {
        // The first call met the connection the server ended; the next
        // meets the read-only database itself.
        refused = client.topup(buy("RO-2")).await;
    }
    assert_eq!(refused.status, 503, "{:?}", refused.json);
    assert!(refused.json["message"].as_str().unwrap().contains("nothing was changed"), "{:?}", refused.json);
    let login = reqwest::Client::new()
        .post(server.url("/v2/token"))
        .json(&serde_json::json!({"username": m.username, "password": m.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 503);
    // A signed request must record its nonce (a write): refused. By token,
    // a status check is a pure read and answers.
    assert_eq!(client.topup(buy("RO-1")).await.status, 503);
    let by_token = reqwest::Client::new().post(server.url("/v2/topup")).bearer_auth(&token).json(&buy("RO-1"));
    let check = crate::harness::read(by_token.send().await.unwrap()).await;
    assert_eq!((check.status, check.code()), (200, "20".to_owned()), "a status check is a read");

    set_read_only(&pg, &name, false).await;
    wait_for_health(&server, 200).await;
    assert_eq!(client.balance().await, before, "nothing was charged");
    // The first write may meet the connection the server ended (503: the
    // client is told to retry); the retry gets a fresh one.
    let mut again = client.topup(buy("RO-2")).await;
    if again.status == 503 {
        again = client.topup(buy("RO-2")).await;
    }
    assert_eq!(again.status, 200, "the refused refid is free: {:?}\n{}", again.json, server.log_text());
    assert_eq!(again.code(), "20");
    crate::harness::assert_verified(&server.db);
}

/// IIMMPACT's block mode, when turned on: an address over its allowance in
/// the window gets 403 for the block time whatever it sends, authenticated
/// or not; /health is not counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_mode_refuses_an_address_over_its_allowance() {
    let server = Server::start(&["--ip-block", "20/60/600"]);
    let m = server.merchant(&[], "10");
    let client = crate::harness::Client::new(&server, &m);
    let http = reqwest::Client::new();
    for i in 0..20 {
        let r = if i % 2 == 0 {
            client.signed("GET", "/v2/balance", None).await.status
        } else {
            http.get(server.url("/v2/balance")).send().await.unwrap().status().as_u16()
        };
        assert!([200, 401].contains(&r), "request {i}: {r}");
        assert_eq!(health(&server).await, 200, "/health is not counted");
    }
    let r = client.signed("GET", "/v2/balance", None).await;
    assert_eq!((r.status, r.json["error"].as_str()), (403, Some("forbidden")), "{:?}", r.json);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((599..=600).contains(&retry), "{retry}");
    assert_eq!(client.signed("GET", "/v2/balance", None).await.status, 403, "still blocked");
    assert_eq!(health(&server).await, 200);

    // Behind a trusted proxy, each client is counted apart.
    let proxied = Server::start(&["--ip-block", "3/60/600", "--trusted-proxies", "127.0.0.1"]);
    let from = |client: &'static str| http.get(proxied.url("/v2/products")).header("x-forwarded-for", client);
    for _ in 0..3 {
        assert_ne!(from("203.0.113.5").send().await.unwrap().status(), 403);
    }
    assert_eq!(from("203.0.113.5").send().await.unwrap().status(), 403);
    assert_ne!(from("203.0.113.6").send().await.unwrap().status(), 403, "another client behind the same proxy");

    let (ok, _, err) = crate::harness::cli_status(&server.db, &["serve", "--ip-block", "20/0/5"]);
    assert!(!ok && err.contains("three numbers above 0"), "{err}");
}
