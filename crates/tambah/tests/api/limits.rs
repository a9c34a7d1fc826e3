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
