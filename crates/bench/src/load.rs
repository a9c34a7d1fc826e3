//! Topup load through a bounded set of connections, as a merchant's HTTP
//! client with a connection pool sends it: `open_loop` at a constant rate
//! (latency from the due time, so time spent waiting for a free connection
//! counts), `closed_loop` as fast as the answers come (the capacity the open
//! loop's percentages are taken of, measured with the same client and so the
//! same share of the cores).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Semaphore};

/// What became of one request.
#[derive(Clone, PartialEq, Eq)]
enum Answer {
    /// 200 with status code 20.
    Served,
    /// 503: shed.
    Shed,
    /// Anything else, said in a few words (the HTTP status and the answer's
    /// status code, or what the client met instead of an answer).
    Other(String),
}

/// Sorts one answer by its HTTP status and the body's status code.
fn classify(status: u16, body: &str) -> Answer {
    let code = body.split(r#""statuscode":""#).nth(1).and_then(|t| t.split('"').next());
    match (status, code) {
        (503, _) => Answer::Shed,
        (200, Some("20")) => Answer::Served,
        (_, Some(code)) => Answer::Other(format!("HTTP {status} statuscode {code}")),
        (_, None) => Answer::Other(format!("HTTP {status}")),
    }
}

/// What the HTTP client met instead of an answer, in a few words.
fn client_error(e: &reqwest::Error) -> Answer {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    Answer::Other(format!("no answer: {cause}"))
}

/// One topup for a fresh refid, its answer sorted.
struct Topups {
    client: reqwest::Client,
    url: String,
    auth: String,
    prefix: String,
}

impl Topups {
    fn new(url: &str, token: &str, prefix: &str, connections: usize) -> Arc<Topups> {
        let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().expect("client");
        Arc::new(Topups {
            client,
            url: format!("{url}/v2/topup"),
            auth: format!("Bearer {token}"),
            prefix: prefix.to_string(),
        })
    }

    async fn send(&self, i: u64) -> Answer {
        let body = format!(r#"{{"refid":"{}-{i}","product":"D","account":"0123456789","amount":"10"}}"#, self.prefix);
        let request = self.client.post(&self.url).header("Authorization", &self.auth);
        match request.header("Content-Type", "application/json").body(body).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                classify(status, &r.text().await.unwrap_or_default())
            }
            Err(e) => client_error(&e),
        }
    }
}

/// Topups at RATE a second for SECONDS through at most CONNECTIONS at once;
/// each latency runs from the moment its request was due.
pub async fn open_loop(url: &str, token: &str, rate: u64, seconds: u64, prefix: &str, connections: usize) {
    let topups = Topups::new(url, token, prefix, connections);
    let slots = Arc::new(Semaphore::new(connections));
    let total = rate * seconds;
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let start = Instant::now() + Duration::from_millis(100);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(Duration, Answer)>();
    let (wire_tx, mut wire_rx) = mpsc::unbounded_channel::<(Duration, Answer)>();
    let timeline = std::env::var_os("TAMBAH_BENCH_TIMELINE").is_some();
    for i in 0..total {
        let due = start + interval * (i as u32);
        tokio::time::sleep_until(due.into()).await;
        let (topups, slots, done, wire) = (topups.clone(), slots.clone(), done_tx.clone(), wire_tx.clone());
        tokio::spawn(async move {
            let _slot = slots.acquire().await.expect("slots");
            let sent = Instant::now();
            let answer = topups.send(i).await;
            let _ = wire.send((sent.elapsed(), answer.clone()));
            if timeline && due.elapsed() > Duration::from_millis(20) {
                let since = due.duration_since(start).as_millis();
                eprintln!("slow: due at {since} ms, answered after {} ms", due.elapsed().as_millis());
            }
            let _ = done.send((due.elapsed(), answer));
        });
    }
    drop((done_tx, wire_tx));
    let mut all = Vec::with_capacity(total as usize);
    while let Some(done) = done_rx.recv().await {
        all.push(done);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut wire = Vec::with_capacity(total as usize);
    while let Some(w) = wire_rx.recv().await {
        wire.push(w);
    }
    let failed = all.iter().filter(|(_, a)| *a != Answer::Served).count();
    println!(
        "open loop: offered {rate}/s for {seconds} s over {connections} connections, {} answered in {elapsed:.1} s ({:.0}/s), {failed} not 20",
        all.len(),
        all.len() as f64 / elapsed
    );
    report("latency from the due time", &all);
    let mut on_wire: Vec<Duration> = wire.iter().map(|(l, _)| *l).collect();
    let p = percentiles(&mut on_wire);
    println!(
        "on the wire (ms, from a free connection to the answer): p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        p[0], p[1], p[2], p[3], p[4]
    );
}

/// Topups back to back on CONNECTIONS for SECONDS: the rate answered.
pub async fn closed_loop(url: &str, token: &str, connections: usize, seconds: u64, prefix: &str) {
    let topups = Topups::new(url, token, prefix, connections);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(Duration, Answer)>();
    for c in 0..connections as u64 {
        let (topups, done) = (topups.clone(), done_tx.clone());
        tokio::spawn(async move {
            let mut i = c;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let answer = topups.send(i).await;
                let _ = done.send((sent.elapsed(), answer));
                i += connections as u64;
            }
        });
    }
    drop(done_tx);
    let mut all = Vec::new();
    while let Some(done) = done_rx.recv().await {
        all.push(done);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let served = all.iter().filter(|(_, a)| *a == Answer::Served).count();
    println!(
        "closed loop: {connections} connections for {seconds} s, {} answered in {elapsed:.1} s, served {:.0}/s",
        all.len(),
        served as f64 / elapsed
    );
    report("latency", &all);
}

/// Latencies of all answers, then of each kind, then what the others were.
fn report(what: &str, all: &[(Duration, Answer)]) {
    let mut latencies: Vec<Duration> = all.iter().map(|(l, _)| *l).collect();
    let p = percentiles(&mut latencies);
    println!("{what} (ms): p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}", p[0], p[1], p[2], p[3], p[4]);
    for (name, class) in [("served", Some(Answer::Served)), ("shed", Some(Answer::Shed)), ("other", None)] {
        let is = |a: &Answer| class.as_ref().map_or(matches!(a, Answer::Other(_)), |c| c == a);
        let mut of: Vec<Duration> = all.iter().filter(|(_, a)| is(a)).map(|(l, _)| *l).collect();
        let n = of.len();
        let p = percentiles(&mut of);
        // p99.9 last: bench/run.sh reads the fields by position.
        println!("{name}: {n} p50 {:.2} p99 {:.2} max {:.2} p99.9 {:.2}", p[0], p[2], p[4], p[3]);
    }
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, a) in all {
        if let Answer::Other(kind) = a {
            *kinds.entry(kind).or_default() += 1;
        }
    }
    for (kind, n) in kinds {
        println!("other answers: {n} {kind}");
    }
}

/// p50, p90, p99, p99.9 and max in milliseconds (zeros when empty).
fn percentiles(latencies: &mut [Duration]) -> [f64; 5] {
    if latencies.is_empty() {
        return [0.0; 5];
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    [pct(0.50), pct(0.90), pct(0.99), pct(0.999), pct(1.0)]
}
