//! Test peers: an HTTP receiver for callbacks (answers from a script, records
//! every request) and an SMTP sink (accepts and records every message).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The status the receiver answered with.
    pub answered: u16,
}

#[derive(Default)]
struct Inner {
    script: VecDeque<u16>,
    received: Vec<Received>,
}

/// A callback receiver on a random loopback port.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut inner = inner.lock().unwrap();
    let status = inner.script.pop_front().unwrap_or(200);
    inner.received.push(Received {
        method: method.to_string(),
        path_and_query: uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
        headers,
        body: body.to_vec(),
        answered: status,
    });
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    /// Answers the scripted statuses in order, then 200.
    pub async fn start(script: &[u16]) -> Receiver {
        let inner = Arc::new(Mutex::new(Inner { script: script.iter().copied().collect(), received: Vec::new() }));
        let app = axum::Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, inner }
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits until `n` requests arrived (or panics after `secs`).
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(std::time::Instant::now() < deadline, "only {} of {n} callbacks arrived: {got:?}", got.len());
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// An SMTP server that accepts every message.
#[derive(Clone)]
pub struct SmtpSink {
    pub url: String,
    messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let messages = Arc::new(Mutex::new(Vec::new()));
        let store = messages.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let store = store.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ready\r\n").await;
                    let mut data: Option<String> = None;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(buf) = data.as_mut() {
                            if line == "." {
                                store.lock().unwrap().push(std::mem::take(buf));
                                data = None;
                                let _ = write.write_all(b"250 queued\r\n").await;
                            } else {
                                buf.push_str(&line);
                                buf.push('\n');
                            }
                            continue;
                        }
                        let reply: &[u8] =
                            match line.split_whitespace().next().unwrap_or("").to_ascii_uppercase().as_str() {
                                "EHLO" | "HELO" => b"250-sink\r\n250 OK\r\n",
                                "DATA" => {
                                    data = Some(String::new());
                                    b"354 go on\r\n"
                                }
                                "QUIT" => {
                                    let _ = write.write_all(b"221 bye\r\n").await;
                                    break;
                                }
                                _ => b"250 OK\r\n",
                            };
                        let _ = write.write_all(reply).await;
                    }
                });
            }
        });
        SmtpSink { url, messages }
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }
}

/// A receiver whose answers never end: each request gets the next scripted
/// status (then 200) and a chunked body streamed until `cap` bytes are
/// written or the caller hangs up. Records how many body bytes each answer
/// got out before that.
#[derive(Clone)]
pub struct Streamer {
    pub url: String,
    written: Arc<Mutex<Vec<u64>>>,
}

impl Streamer {
    pub async fn start(script: &[u16], cap: u64) -> Streamer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let written = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<u16>>()));
        let log = written.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (log, script) = (log.clone(), script.clone());
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    if !read_request(&mut stream).await {
                        return;
                    }
                    let status = script.lock().unwrap().pop_front().unwrap_or(200);
                    let n = stream_body(stream.get_mut(), status, cap).await;
                    log.lock().unwrap().push(n);
                });
            }
        });
        Streamer { url, written }
    }

    /// Body bytes written to each answer, in the order the answers ended.
    pub fn written(&self) -> Vec<u64> {
        self.written.lock().unwrap().clone()
    }
}

/// Reads one request's head and body (by Content-Length); false at EOF.
async fn read_request(stream: &mut BufReader<tokio::net::TcpStream>) -> bool {
    use tokio::io::AsyncReadExt;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        match stream.read_line(&mut line).await {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.is_ok()
}

/// Answers `status` with a chunked body of up to `cap` bytes; returns how
/// many were written before the caller hung up (or `cap`).
async fn stream_body(stream: &mut tokio::net::TcpStream, status: u16, cap: u64) -> u64 {
    let head = format!("HTTP/1.1 {status} Whatever\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n");
    if stream.write_all(head.as_bytes()).await.is_err() {
        return 0;
    }
    let mut chunk = format!("{:x}\r\n", 64 * 1024).into_bytes();
    chunk.extend(std::iter::repeat_n(b'x', 64 * 1024));
    chunk.extend_from_slice(b"\r\n");
    let mut written = 0u64;
    while written < cap {
        if stream.write_all(&chunk).await.is_err() {
            return written;
        }
        written += 64 * 1024;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    written
}

/// A receiver that takes connections and never answers; counts the
/// connections open now and the most ever open at once.
#[derive(Clone)]
pub struct Hanging {
    pub url: String,
    open: Arc<Mutex<(usize, usize)>>,
}

impl Hanging {
    pub async fn start() -> Hanging {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let open = Arc::new(Mutex::new((0, 0)));
        let counts = open.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                let counts = counts.clone();
                tokio::spawn(async move {
                    use tokio::io::AsyncReadExt;
                    {
                        let mut c = counts.lock().unwrap();
                        c.0 += 1;
                        c.1 = c.1.max(c.0);
                    }
                    // Read (and ignore) until the caller gives up.
                    let mut buf = [0u8; 4096];
                    while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                    counts.lock().unwrap().0 -= 1;
                });
            }
        });
        Hanging { url, open }
    }

    /// (open now, most open at once).
    pub fn open(&self) -> (usize, usize) {
        *self.open.lock().unwrap()
    }

    /// Waits until `n` connections are open at once (or panics after `secs`).
    pub async fn wait_open(&self, n: usize, secs: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while self.open().0 < n {
            assert!(std::time::Instant::now() < deadline, "only {:?} connections (now, most) of {n}", self.open());
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
