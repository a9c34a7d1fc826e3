//! A real tambah server for the client to talk to: the `tambah` binary is
//! built (or found) once per test run, each test gets its own process on a
//! fresh SQLite file, and merchants are made with the operator CLI exactly as
//! an operator would (`tambah merchant create --json`, `tambah deposit`).
//!
//! Why a nested `cargo build`: `CARGO_BIN_EXE_tambah` exists only for the
//! `tambah` package's own tests, and making this crate depend on the binary
//! crate would tie the client to the server. `cargo build -p tambah --bin
//! tambah --message-format json` names the executable it built (whatever the
//! target directory), is a no-op when it is up to date, and cannot deadlock:
//! cargo releases its build lock before it runs tests. `TAMBAH_BIN` skips the
//! build and uses the given executable.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tambah_iimmpact::{Client, Config, Credentials};

/// Any 32 bytes, base64: the master key sealing API secrets in the test database.
const MASTER_KEY: &str = "dGFtYmFoLXRlc3QtbWFzdGVyLWtleS0zMi1ieXRlcyE=";

static SEQ: AtomicU64 = AtomicU64::new(0);

/// The `tambah` executable, built once per test process.
pub fn tambah_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var_os("TAMBAH_BIN") {
        Some(path) => PathBuf::from(path),
        None => build_tambah(),
    })
}

/// The variables cargo sets for a test run (besides `CARGO_PKG_*`).
const RUN_ENV: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
];

fn build_tambah() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "-p", "tambah", "--bin", "tambah", "--message-format", "json"])
        .current_dir(&workspace)
        .stderr(Stdio::inherit());
    // What cargo set for running this test describes this crate, not the
    // build: left in, it reaches build scripts that watch it (ring's watches
    // CARGO_MANIFEST_DIR) and rebuilds the server on every run.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_") || RUN_ENV.contains(&name.as_ref()) {
            build.env_remove(name.as_ref());
        }
    }
    let out = build.output().expect("running cargo build -p tambah");
    assert!(out.status.success(), "cargo build -p tambah failed");
    // The compiler-artifact message of the binary names its executable.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "tambah")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo named no tambah executable")
}

/// A fresh directory for one server's database and log, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("tambah-iimmpact-{}-{seq}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A merchant's one-time credentials as `tambah merchant create --json` prints them.
#[derive(Clone, Debug)]
pub struct Merchant {
    pub account: String,
    pub api_key: String,
    pub api_secret: String,
    pub username: String,
    pub password: String,
}

impl Merchant {
    pub fn api_key(&self) -> Credentials {
        Credentials::ApiKey { key_id: self.api_key.clone(), secret: self.api_secret.clone() }
    }

    pub fn password(&self) -> Credentials {
        Credentials::Password { username: self.username.clone(), password: self.password.clone() }
    }
}

/// A running `tambah serve` on its own SQLite file; SIGKILLed on drop.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    args: Vec<String>,
    child: Child,
    dir: TempDir,
}

impl Server {
    /// `args` are extra `serve` flags (`--topup-wait-ms 300`).
    pub fn start(args: &[&str]) -> Server {
        let dir = TempDir::new();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let (child, base) = spawn(&dir.0, &args);
        Server { base, args, child, dir }
    }

    fn database(&self) -> String {
        database(&self.dir.0)
    }

    /// SIGKILL: the process stops mid-whatever, as a crash would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The same server again on the same database (a new port).
    pub fn restart(&mut self) {
        self.kill9();
        let (child, base) = spawn(&self.dir.0, &self.args);
        self.child = child;
        self.base = base;
    }

    /// Runs the operator CLI on this server's database; its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(tambah_bin())
            .args(args)
            .env("TAMBAH_DATABASE", self.database())
            .env("TAMBAH_MASTER_KEY", MASTER_KEY)
            .env("TAMBAH_LOG", "warn")
            .env_remove("TAMBAH_LISTEN")
            .output()
            .expect("running the tambah CLI");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "tambah {args:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        stdout
    }

    /// A staging merchant (`extra` flags of `merchant create`) with `deposit_rm` in its wallet.
    pub fn merchant(&self, extra: &[&str], deposit_rm: &str) -> Merchant {
        let mut args = vec!["merchant", "create", "--json", "--name", "Kedai Ujian Sdn Bhd"];
        args.extend_from_slice(extra);
        let out = self.cli(&args);
        let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
        let field = |name: &str| v[name].as_str().unwrap_or_else(|| panic!("no {name} in {v}")).to_owned();
        let m = Merchant {
            account: field("account"),
            api_key: field("api_key"),
            api_secret: field("api_secret"),
            username: field("username"),
            password: field("password"),
        };
        self.cli(&["deposit", "--account", &m.account, "--amount", deposit_rm, "--remarks", "test float"]);
        m
    }

    /// A client of this server with `credentials`, base URL as IIMMPACT
    /// documents it (`…/v2`).
    pub fn client(&self, credentials: Credentials) -> Client {
        Client::new(Config::new(format!("{}/v2", self.base), credentials)).unwrap()
    }

    /// As `client`, with a whole-call time limit.
    pub fn client_with_timeout(&self, credentials: Credentials, timeout: Duration) -> Client {
        let mut config = Config::new(self.base.clone(), credentials);
        config.timeout = timeout;
        Client::new(config).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn database(dir: &Path) -> String {
    dir.join("tambah.db").to_string_lossy().into_owned()
}

/// Starts `tambah serve` on port 0 and reads the address it bound from its
/// `tambah listening on …` line; stdout is drained after it, the log goes to
/// a file beside the database.
fn spawn(dir: &Path, args: &[String]) -> (Child, String) {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("server.log")).unwrap();
    let mut child = Command::new(tambah_bin())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("TAMBAH_DATABASE", database(dir))
        .env("TAMBAH_MASTER_KEY", MASTER_KEY)
        .env("TAMBAH_LOG", "info")
        // A busy CI machine is not an overloaded node: no shedding by delay.
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
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("tambah listening on ") {
                if let (Some(tx), Some(base)) = (tx.take(), rest.split_whitespace().next()) {
                    let _ = tx.send(base.to_owned());
                }
            }
        }
    });
    let base = rx.recv_timeout(Duration::from_secs(30)).expect("tambah serve did not start within 30 s");
    (child, base)
}
