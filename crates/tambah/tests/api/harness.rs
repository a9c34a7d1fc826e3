//! Starting servers, creating merchants through the CLI, and signing requests
//! exactly as `spec/API.md` describes (written independently of the server's
//! own signing code, so the two check each other).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const BIN: &str = env!("CARGO_BIN_EXE_tambah");

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A fresh directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let path = std::env::temp_dir().join(format!(
            "tambah-test-{tag}-{}-{}-{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The master key every test process shares (PostgreSQL nodes need one).
pub const TEST_MASTER_KEY: &str = "dGFtYmFoLXRlc3QtbWFzdGVyLWtleS0zMi1ieXRlcyE=";

/// Which backend the black-box suite runs on: SQLite by default,
/// PostgreSQL with `TAMBAH_TEST_BACKEND=postgres` (server URL from
/// `TAMBAH_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432`).
pub fn postgres_server() -> Option<String> {
    match std::env::var("TAMBAH_TEST_BACKEND").as_deref() {
        Ok("postgres") => Some(
            std::env::var("TAMBAH_TEST_POSTGRES")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
                .trim_end_matches('/')
                .to_owned(),
        ),
        _ => None,
    }
}

/// A fresh, empty database: a SQLite file in a temporary directory, or a
/// new PostgreSQL database (created by tambah on first use, dropped here).
pub struct Db {
    pub url: String,
    /// Where server logs go.
    pub dir: TempDir,
    postgres: Option<(String, String)>,
}

impl Db {
    pub fn fresh(tag: &str) -> Db {
        Db::fresh_on(postgres_server(), tag)
    }

    pub fn fresh_on(server: Option<String>, tag: &str) -> Db {
        let dir = TempDir::new(tag);
        match server {
            Some(server) => {
                let name = format!(
                    "tambah_t_{}_{}_{}",
                    tag.replace('-', "_"),
                    std::process::id(),
                    SEQ.fetch_add(1, Ordering::Relaxed)
                );
                Db { url: format!("{server}/{name}"), dir, postgres: Some((server, name)) }
            }
            None => {
                let url = dir.path().join("tambah.db").to_string_lossy().into_owned();
                Db { url, dir, postgres: None }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("server-{}.log", SEQ.fetch_add(1, Ordering::Relaxed)))
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((server, name)) = self.postgres.take() {
            // Off the test's runtime: a runtime cannot block inside another.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    if let Ok((client, conn)) =
                        tokio_postgres::connect(&format!("{server}/postgres"), tokio_postgres::NoTls).await
                    {
                        tokio::spawn(conn);
                        let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                    }
                });
            })
            .join();
        }
    }
}

/// Runs a CLI command on `db`; returns stdout, panicking on failure.
/// How long after a change made outside a node (the CLI) every node acts on
/// it: the caches' bound (1 s) and a margin.
pub const CHANGE_SEEN_WITHIN: Duration = Duration::from_millis(1_100);

pub fn cli(db: &str, args: &[&str]) -> String {
    let (ok, stdout, stderr) = cli_status(db, args);
    assert!(ok, "tambah {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

/// Runs a CLI command on `db`: (success, stdout, stderr).
pub fn cli_status(db: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("TAMBAH_DATABASE", db)
        .env("TAMBAH_MASTER_KEY", TEST_MASTER_KEY)
        .env("TAMBAH_LOG", "warn")
        .env_remove("TAMBAH_LISTEN")
        .output()
        .expect("running tambah");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[derive(Clone, Debug)]
pub struct Merchant {
    pub account: String,
    pub api_key: String,
    pub api_secret: String,
    pub username: String,
    pub password: String,
}

/// Creates a merchant through `tambah merchant create --json` and deposits.
pub fn create_merchant(db: &str, extra: &[&str], deposit_rm: &str) -> Merchant {
    let mut args = vec!["merchant", "create", "--json"];
    if !extra.contains(&"--name") {
        args.extend_from_slice(&["--name", "Test Merchant Sdn Bhd"]);
    }
    args.extend_from_slice(extra);
    let out = cli(db, &args);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let m = Merchant {
        account: v["account"].as_str().unwrap().to_owned(),
        api_key: v["api_key"].as_str().unwrap().to_owned(),
        api_secret: v["api_secret"].as_str().unwrap().to_owned(),
        username: v["username"].as_str().unwrap().to_owned(),
        password: v["password"].as_str().unwrap().to_owned(),
    };
    if deposit_rm != "0" {
        cli(db, &["deposit", "--account", &m.account, "--amount", deposit_rm, "--remarks", "test float"]);
    }
    m
}

/// A running server; killed (SIGKILL) on drop.
pub struct Server {
    pub base: String,
    /// The database URL (SQLite path or postgres://…).
    pub db: String,
    child: Child,
    args: Vec<String>,
    log: PathBuf,
    _db: Option<std::sync::Arc<Db>>,
}

impl Server {
    /// A server on a fresh database with `args` (e.g. `--topup-wait-ms 0`).
    pub fn start(args: &[&str]) -> Server {
        Server::start_on_db(std::sync::Arc::new(Db::fresh("srv")), args)
    }

    /// A server on a database other servers may share (many nodes).
    pub fn start_on_db(db: std::sync::Arc<Db>, args: &[&str]) -> Server {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let log = db.log_path();
        let (child, base) = spawn(&db.url, &args, &log);
        Server { base, db: db.url.clone(), child, args, log, _db: Some(db) }
    }

    /// A server on `db` reached through another URL (another role).
    pub fn start_on_url(db: std::sync::Arc<Db>, url: &str, args: &[&str]) -> Server {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let log = db.log_path();
        let (child, base) = spawn(url, &args, &log);
        Server { base, db: url.to_owned(), child, args, log, _db: Some(db) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server process's peak resident memory so far, in KiB (VmHWM).
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    /// The node's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The node's resident memory now.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).expect("the field in /proc status");
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// SIGKILL: no graceful anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit; returns the exit status success.
    pub fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("server did not exit within 5 s of SIGTERM");
    }

    /// Starts the same server again on the same database (a new port).
    pub fn restart(&mut self) {
        let (child, base) = spawn(&self.db, &self.args, &self.log);
        self.child = child;
        self.base = base;
    }

    pub fn cli(&self, args: &[&str]) -> String {
        cli(&self.db, args)
    }

    /// Runs a CLI command that changes what the running node caches (a
    /// merchant's settings, a key, a member), then waits out the bound
    /// within which every node must refuse or apply it: 1 s (the node reads
    /// the database's change counter every 100 ms, and trusts its caches for
    /// at most 1 s without a reading).
    pub fn cli_change(&self, args: &[&str]) -> String {
        let out = cli(&self.db, args);
        std::thread::sleep(CHANGE_SEEN_WITHIN);
        out
    }

    /// What the server has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn merchant(&self, extra: &[&str], deposit_rm: &str) -> Merchant {
        create_merchant(&self.db, extra, deposit_rm)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(db: &str, args: &[String], log: &Path) -> (Child, String) {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("TAMBAH_DATABASE", db)
        .env("TAMBAH_MASTER_KEY", TEST_MASTER_KEY)
        .env("TAMBAH_LOG", "info")
        // The suites drive merchants far past the default rate limits; the
        // limit tests pass their own (flags win over the environment).
        .env("TAMBAH_RATE_LIVE_PER_S", "1000000")
        .env("TAMBAH_RATE_STAGING_PER_S", "1000000")
        .env("TAMBAH_RATE_UNAUTHENTICATED_PER_S", "1000000")
        .env("TAMBAH_LOGINS_PER_MINUTE", "1000000,1000000,1000000")
        // Nor shedding by delay: a busy CI machine running many tests at
        // once is not an overloaded node (the shedding has its unit tests).
        .env("TAMBAH_SHED_LAG_MS", "0")
        .env("TAMBAH_SHED_QUEUE_DELAY_MS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawning tambah serve");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("tambah listening on ") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(rest.split_whitespace().next().unwrap().to_owned());
                }
            }
        }
    });
    let base = rx.recv_timeout(Duration::from_secs(30)).expect("server did not start within 30 s");
    (child, base)
}

pub fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

pub fn nonce() -> String {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("n{nanos:x}{n:08x}")
}

/// The contract's signature, computed from the spec text alone.
pub fn signature(secret_b64: &str, ts: &str, nonce: &str, method: &str, query: &str, body: &[u8]) -> String {
    let mut pairs: Vec<(String, String)> =
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    pairs.sort();
    let sorted = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let body_hash = B64.encode(Sha256::digest(body));
    let canonical = format!("v1:{ts}:{nonce}:{}:{sorted}:{body_hash}", method.to_uppercase());
    let mut mac = Hmac::<Sha256>::new_from_slice(&B64.decode(secret_b64).unwrap()).unwrap();
    mac.update(canonical.as_bytes());
    format!("v1={}", B64.encode(mac.finalize().into_bytes()))
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
}

impl Reply {
    pub fn code(&self) -> String {
        match (&self.json["statuscode"], &self.json["data"]["statusCode"]) {
            (Value::String(s), _) => s.clone(),
            (_, Value::Number(n)) => n.to_string(),
            _ => panic!("no status code in {}", self.json),
        }
    }
}

pub async fn read(resp: reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let json = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Reply { status, headers, json }
}

/// Signs and sends requests as one merchant.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub m: Merchant,
}

impl Client {
    pub fn new(server: &Server, m: &Merchant) -> Client {
        Client { http: reqwest::Client::new(), base: server.base.clone(), m: m.clone() }
    }

    /// A signed request with an optional JSON body.
    pub async fn signed(&self, method: &str, path_and_query: &str, body: Option<&Value>) -> Reply {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.signed_raw(method, path_and_query, "application/json", body.as_bytes(), &[]).await
    }

    pub async fn signed_raw(
        &self,
        method: &str,
        path_and_query: &str,
        content_type: &str,
        body: &[u8],
        extra_headers: &[(&str, &str)],
    ) -> Reply {
        self.try_signed_raw(method, path_and_query, content_type, body, extra_headers).await.unwrap()
    }

    /// As `signed_raw`, but a transport error (server killed) is returned.
    pub async fn try_signed_raw(
        &self,
        method: &str,
        path_and_query: &str,
        content_type: &str,
        body: &[u8],
        extra_headers: &[(&str, &str)],
    ) -> Result<Reply, reqwest::Error> {
        let ts = now_s().to_string();
        let nonce = nonce();
        let query = path_and_query.split_once('?').map(|(_, q)| q).unwrap_or("");
        let sig = signature(&self.m.api_secret, &ts, &nonce, method, query, body);
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path_and_query}", self.base))
            .header("X-Api-Key", &self.m.api_key)
            .header("X-Timestamp", ts)
            .header("X-Nonce", nonce)
            .header("X-Signature", sig);
        if !body.is_empty() {
            req = req.header("Content-Type", content_type).body(body.to_vec());
        }
        for (k, v) in extra_headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        let json =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Ok(Reply { status, headers, json })
    }

    pub async fn topup(&self, body: Value) -> Reply {
        self.signed("POST", "/v2/topup", Some(&body)).await
    }

    pub async fn balance(&self) -> String {
        let r = self.signed("GET", "/v2/balance", None).await;
        assert_eq!(r.status, 200, "{:?}", r.json);
        r.json["data"]["balance"].to_string()
    }

    /// Logs in with username and password; returns the IdToken.
    pub async fn login(&self) -> String {
        let r = read(
            self.http
                .post(format!("{}/v2/token", self.base))
                .json(&serde_json::json!({"username": self.m.username, "password": self.m.password}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.json);
        r.json["AuthenticationResult"]["IdToken"].as_str().unwrap().to_owned()
    }
}

/// `tambah verify` must pass on the database.
pub fn assert_verified(db: &str) {
    let (ok, out, err) = cli_status(db, &["verify"]);
    assert!(ok, "verify failed:\n{out}\n{err}");
    assert!(out.contains("no violations"), "{out}");
}

/// `"99.4"` → 994_000 (RM × 10⁴), exactly.
pub fn minor_units(rm: &str) -> i64 {
    let (whole, frac) = rm.split_once('.').unwrap_or((rm, ""));
    assert!(frac.len() <= 4, "{rm}");
    whole.parse::<i64>().unwrap() * 10_000 + format!("{frac:0<4}").parse::<i64>().unwrap()
}

/// The code an authenticator app shows for a base32 TOTP secret, `ahead_s`
/// seconds from now.
pub fn authenticator_code(secret: &str, ahead_s: u64) -> String {
    use tambah_engine::operators::Authenticator;
    Authenticator::new(&Authenticator::decode(secret).unwrap()).unwrap().code_at(now_s() + ahead_s)
}
