//! Abuse beside the open loop: a log-in flood and idle connections.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

/// CLIENTS loops sending wrong passwords for SECONDS; prints the answers by
/// HTTP status.
pub async fn login_flood(url: &str, clients: usize, seconds: u64) {
    let http = reqwest::Client::new();
    let until = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let (http, url) = (http.clone(), format!("{url}/v2/token"));
            tokio::spawn(async move {
                let mut seen: BTreeMap<u16, u64> = BTreeMap::new();
                let user = format!("flood{i}");
                while Instant::now() < until {
                    let sent = http.post(&url).form(&[("username", user.as_str()), ("password", "wrong")]);
                    let status = sent.send().await.map(|r| r.status().as_u16()).unwrap_or(0);
                    *seen.entry(status).or_default() += 1;
                }
                seen
            })
        })
        .collect();
    let mut total: BTreeMap<u16, u64> = BTreeMap::new();
    for t in tasks {
        for (status, n) in t.await.expect("flood task") {
            *total.entry(status).or_default() += n;
        }
    }
    let all: u64 = total.values().sum();
    let by: Vec<String> = total.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    println!(
        "login flood: {clients} clients, {seconds} s, {all} attempts ({:.0}/s): {}",
        all as f64 / seconds as f64,
        by.join(", ")
    );
}

/// Opens CONNECTIONS sockets to ADDR that send nothing, holds them SECONDS
/// after the last one opened, then counts those the server closed meanwhile,
/// with the time each had been open: opening thousands can take seconds
/// under load, so the first ones are older than SECONDS and a server's idle
/// time-out may rightly have closed them.
pub async fn idle(addr: &str, connections: usize, seconds: u64) {
    let mut sockets = Vec::with_capacity(connections);
    let mut refused = 0;
    for _ in 0..connections {
        match TcpStream::connect(addr).await {
            Ok(s) => sockets.push((Instant::now(), s)),
            Err(_) => refused += 1,
        }
    }
    let opening = sockets.first().map(|(at, _)| at.elapsed()).unwrap_or_default();
    println!("idle: {} connections open ({refused} refused) in {:.1} s", sockets.len(), opening.as_secs_f64());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    // Still open: nothing to read (would block). Closed: end of stream, an
    // answer before closing (408, 503), or a reset. Checked without
    // waiting, so the check itself takes no time.
    let mut buf = [0u8; 512];
    let ages: Vec<f64> = sockets
        .iter()
        .filter(|(_, s)| !matches!(s.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock))
        .map(|(at, _)| at.elapsed().as_secs_f64())
        .collect();
    let youngest = ages.iter().copied().fold(f64::INFINITY, f64::min);
    let closed = ages.len();
    if closed == 0 {
        println!("idle: after {seconds} s, 0 of {} closed by the server", sockets.len());
    } else {
        println!(
            "idle: after {seconds} s, {closed} of {} closed by the server, the youngest of them opened {youngest:.1} s ago",
            sockets.len()
        );
    }
}
