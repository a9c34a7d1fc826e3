//! Topup load through a bounded set of connections, as a merchant's HTTP
//! client with a connection pool sends it: `open_loop` at a constant rate
//! (latency from the due time, so time spent waiting for a free connection
//! counts), `closed_loop` as fast as the answers come (the capacity the open
//! loop's percentages are taken of, measured with the same client and so the
//! same share of the cores).
//!
//! The client is a minimal HTTP/1.1 keep-alive one written here over
//! `TcpStream`, so that it costs about what wrk costs: each request is one
//! short format into a buffer the connection reuses and one write; each
//! answer is read into another, its head parsed by `httparse` and its body
//! read by `Content-Length`. A general client (reqwest) cost ~80% of one of
//! this machine's two cores at ~24k requests/s, and past capacity the
//! requests queued inside it, waiting for a slot, so the server never saw
//! the excess load and could not shed it. Here the open loop's CONNECTIONS
//! are a fixed pool of connection tasks taking due requests from one queue:
//! a request waits in it only while every connection has one in flight.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// How long a connect, or a request's write and answer, may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// A kept-alive connection idle longer than this is checked for a close by
/// the server (its idle timeout) before it is used again.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// What became of one request.
#[derive(PartialEq, Eq)]
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

/// What the client met instead of an answer, in a few words.
fn no_answer(what: impl std::fmt::Display) -> Answer {
    Answer::Other(format!("no answer: {what}"))
}

/// Where the topups go, and the part of each request that never changes.
struct Target {
    addr: SocketAddr,
    /// Request line and headers up to the `Content-Length` value.
    head: Vec<u8>,
    prefix: String,
}

impl Target {
    /// From a plain-http URL (`http://127.0.0.1:18403`, maybe with a path
    /// the topup path is appended to).
    async fn new(url: &str, token: &str, prefix: &str) -> Arc<Target> {
        let rest = url.strip_prefix("http://").expect("URL: only http://HOST:PORT is supported");
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = path.trim_end_matches('/');
        let connect_to = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
        let addr = tokio::net::lookup_host(&connect_to).await.expect("resolve").next().expect("an address");
        let head = format!(
            "POST {path}/v2/topup HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: "
        );
        Arc::new(Target { addr, head: head.into_bytes(), prefix: prefix.to_string() })
    }

    /// The topup for refid PREFIX-I into REQUEST (BODY is scratch space).
    fn format(&self, i: u64, body: &mut Vec<u8>, request: &mut Vec<u8>) {
        body.clear();
        write!(body, r#"{{"refid":"{}-{i}","product":"D","account":"0123456789","amount":"10"}}"#, self.prefix)
            .expect("write to a Vec");
        request.clear();
        request.extend_from_slice(&self.head);
        write!(request, "{}\r\n\r\n", body.len()).expect("write to a Vec");
        request.extend_from_slice(body);
    }
}

/// One kept-alive connection (reopened when the server closes it), and its
/// buffers, reused from request to request.
struct Conn {
    target: Arc<Target>,
    stream: Option<TcpStream>,
    /// Bytes read and not yet part of an answer.
    input: Vec<u8>,
    request: Vec<u8>,
    body: Vec<u8>,
    last_used: Instant,
}

impl Conn {
    fn new(target: Arc<Target>) -> Conn {
        let (input, request, body) = (Vec::with_capacity(4096), Vec::with_capacity(1024), Vec::with_capacity(256));
        Conn { target, stream: None, input, request, body, last_used: Instant::now() }
    }

    /// Opens the connection now (before the load starts); false if it could
    /// not (it is tried again at its first request).
    async fn open(&mut self) -> bool {
        self.stream = tokio::time::timeout(ANSWER_TIMEOUT, connect(self.target.addr)).await.ok().and_then(Result::ok);
        self.last_used = Instant::now();
        self.stream.is_some()
    }

    /// Sends the topup for refid PREFIX-I and sorts its answer.
    async fn topup(&mut self, i: u64) -> Answer {
        self.target.format(i, &mut self.body, &mut self.request);
        let answer = tokio::time::timeout(ANSWER_TIMEOUT, self.exchange()).await;
        self.last_used = Instant::now();
        // On a timeout the stream, taken by `exchange`, was dropped with it.
        answer.unwrap_or_else(|_| no_answer(format_args!("none within {} s", ANSWER_TIMEOUT.as_secs())))
    }

    /// Writes the request and reads its answer, on the kept-alive stream if
    /// it is still open, else on a new one; keeps the stream only if both
    /// sides mean to.
    async fn exchange(&mut self) -> Answer {
        let kept = self
            .stream
            .take()
            .filter(|s| self.last_used.elapsed() < IDLE_CHECK || (self.input.is_empty() && still_open(s)));
        let mut stream = match kept {
            Some(stream) => stream,
            None => {
                self.input.clear();
                match connect(self.target.addr).await {
                    Ok(stream) => stream,
                    Err(e) => return no_answer(format_args!("connect: {e}")),
                }
            }
        };
        // A server shedding load may answer (503, 429) and close without
        // reading the request: its answer is read even if the write failed.
        let wrote = stream.write_all(&self.request).await;
        match read_answer(&mut stream, &mut self.input).await {
            Ok((answer, keep)) => {
                if keep && wrote.is_ok() {
                    self.stream = Some(stream);
                }
                answer
            }
            Err(answer) => wrote.err().map_or(answer, no_answer),
        }
    }
}

async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Whether an idle kept-alive stream is still open: nothing to read, and
/// no end of stream (a server's idle timeout) or error either.
fn still_open(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// One answer's head: its status, and where its body lies in the input.
struct Head {
    status: u16,
    len: usize,
    body_len: usize,
    close: bool,
}

/// Parses the answer's head at the start of INPUT: `None` until it is
/// whole; `Err` with the answer's classification if it cannot be read (the
/// connection is then closed).
fn parse_head(input: &[u8]) -> Result<Option<Head>, Answer> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(input) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(Answer::Other(format!("bad answer: {e}"))),
    };
    let unsupported = || Answer::Other("unsupported answer framing".to_string());
    let mut body_len = None;
    let mut close = response.version != Some(1);
    for header in response.headers.iter() {
        let value = std::str::from_utf8(header.value).unwrap_or("");
        if header.name.eq_ignore_ascii_case("content-length") {
            body_len = Some(value.trim().parse::<usize>().map_err(|_| unsupported())?);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(unsupported());
        } else if header.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    close = false;
                }
            }
        }
    }
    let status = response.code.unwrap_or(0);
    Ok(Some(Head { status, len, body_len: body_len.ok_or_else(unsupported)?, close }))
}

/// Reads one answer (leaving any bytes after it in INPUT) and sorts it;
/// with it, whether the connection may be kept. `Err`: no answer, and the
/// connection is to be closed.
async fn read_answer(stream: &mut TcpStream, input: &mut Vec<u8>) -> Result<(Answer, bool), Answer> {
    let head = loop {
        if let Some(head) = parse_head(input)? {
            break head;
        }
        read_more(stream, input).await?;
    };
    let end = head.len + head.body_len;
    while input.len() < end {
        read_more(stream, input).await?;
    }
    let answer = classify(head.status, std::str::from_utf8(&input[head.len..end]).unwrap_or(""));
    input.drain(..end);
    Ok((answer, !head.close))
}

async fn read_more(stream: &mut TcpStream, input: &mut Vec<u8>) -> Result<(), Answer> {
    input.reserve(4096);
    match stream.read_buf(input).await {
        Ok(0) if input.is_empty() => Err(no_answer("connection closed before an answer")),
        Ok(0) => Err(no_answer("connection closed in the middle of an answer")),
        Ok(_) => Ok(()),
        Err(e) => Err(no_answer(e)),
    }
}

/// CONNECTIONS connections to the target, opened at once; those that could
/// not be opened are said on stderr (they are tried again when used).
async fn open_all(target: &Arc<Target>, connections: usize, what: &str) -> Vec<Conn> {
    let mut opening = JoinSet::new();
    for _ in 0..connections {
        let mut conn = Conn::new(target.clone());
        opening.spawn(async move { (conn.open().await, conn) });
    }
    let opened = opening.join_all().await;
    let failed = opened.iter().filter(|(ok, _)| !ok).count();
    if failed > 0 {
        eprintln!("{what}: {failed} of {connections} connections could not be opened up front");
    }
    opened.into_iter().map(|(_, conn)| conn).collect()
}

/// The open loop's requests due and not yet taken by a connection.
#[derive(Default)]
struct Queue {
    due: Mutex<VecDeque<(u64, Instant)>>,
    /// Told once per request queued, and to all when the last is.
    ready: Notify,
    closed: AtomicBool,
}

/// One answered request of the open loop: latency from the due time, on
/// the wire, and the answer.
type Done = (Duration, Duration, Answer);

/// A connection of the open loop: takes due requests off the queue until
/// it is closed and empty. With TIMELINE (the load's start), answers later
/// than 20 ms after their due time are printed to stderr.
async fn connection(mut conn: Conn, queue: Arc<Queue>, timeline: Option<Instant>) -> Vec<Done> {
    let mut done = Vec::new();
    loop {
        let ready = queue.ready.notified();
        tokio::pin!(ready);
        // Listening before looking: a request queued after the look wakes it.
        ready.as_mut().enable();
        let job = queue.due.lock().expect("queue").pop_front();
        let Some((i, due)) = job else {
            if queue.closed.load(Ordering::SeqCst) {
                return done;
            }
            ready.await;
            continue;
        };
        let sent = Instant::now();
        let answer = conn.topup(i).await;
        let (late, wire) = (due.elapsed(), sent.elapsed());
        if let Some(start) = timeline.filter(|_| late > Duration::from_millis(20)) {
            let since = due.duration_since(start).as_millis();
            eprintln!("slow: due at {since} ms, answered after {} ms", late.as_millis());
        }
        done.push((late, wire, answer));
    }
}

/// Queues TOTAL requests, one every INTERVAL from START, each when due.
async fn dispatch(queue: &Queue, start: Instant, interval: Duration, total: u64) {
    let due = |i: u64| start + Duration::from_nanos(interval.as_nanos() as u64 * i);
    let mut i = 0;
    while i < total {
        tokio::time::sleep_until(due(i).into()).await;
        let now = Instant::now();
        let mut queued = 0;
        {
            let mut waiting = queue.due.lock().expect("queue");
            while i < total && due(i) <= now {
                waiting.push_back((i, due(i)));
                i += 1;
                queued += 1;
            }
        }
        for _ in 0..queued {
            queue.ready.notify_one();
        }
    }
    queue.closed.store(true, Ordering::SeqCst);
    queue.ready.notify_waiters();
}

/// Topups at RATE a second for SECONDS through at most CONNECTIONS at once;
/// each latency runs from the moment its request was due.
pub async fn open_loop(url: &str, token: &str, rate: u64, seconds: u64, prefix: &str, connections: usize) {
    let target = Target::new(url, token, prefix).await;
    let conns = open_all(&target, connections, "open loop").await;
    let total = rate * seconds;
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let start = Instant::now() + Duration::from_millis(100);
    let timeline = std::env::var_os("TAMBAH_BENCH_TIMELINE").is_some().then_some(start);
    let queue = Arc::new(Queue::default());
    let workers: Vec<_> = conns.into_iter().map(|c| tokio::spawn(connection(c, queue.clone(), timeline))).collect();
    dispatch(&queue, start, interval, total).await;
    let mut all = Vec::with_capacity(total as usize);
    let mut wire = Vec::with_capacity(total as usize);
    for worker in workers {
        for (late, on_wire, answer) in worker.await.expect("connection task") {
            all.push((late, answer));
            wire.push(on_wire);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let failed = all.iter().filter(|(_, a)| *a != Answer::Served).count();
    println!(
        "open loop: offered {rate}/s for {seconds} s over {connections} connections, {} answered in {elapsed:.1} s ({:.0}/s), {failed} not 20",
        all.len(),
        all.len() as f64 / elapsed
    );
    report("latency from the due time", &all);
    let p = percentiles(&mut wire);
    println!(
        "on the wire (ms, from a free connection to the answer): p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        p[0], p[1], p[2], p[3], p[4]
    );
}

/// Topups back to back on CONNECTIONS for SECONDS: the rate answered.
pub async fn closed_loop(url: &str, token: &str, connections: usize, seconds: u64, prefix: &str) {
    let target = Target::new(url, token, prefix).await;
    let conns = open_all(&target, connections, "closed loop").await;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..connections as u64)
        .zip(conns)
        .map(|(c, mut conn)| {
            tokio::spawn(async move {
                let mut done = Vec::new();
                let mut i = c;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let answer = conn.topup(i).await;
                    done.push((sent.elapsed(), answer));
                    i += connections as u64;
                }
                done
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.expect("connection task"));
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
