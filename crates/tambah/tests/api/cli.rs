//! The operator CLI in the exact forms scripts depend on, on a database with
//! and without a running server.

use serde_json::{json, Value};

use crate::harness::*;

#[test]
fn merchant_create_json_deposit_and_verify_without_a_server() {
    // The database does not exist yet: every command creates it as needed.
    let fresh = Db::fresh("cli");
    let db = fresh.url.as_str();
    let out = cli(
        db,
        &[
            "merchant",
            "create",
            "--name",
            "Kedai Runcit Ali",
            "--environment",
            "live",
            "--level",
            "12",
            "--username",
            "ali",
            "--password",
            "s3cret-pass",
            "--json",
        ],
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    for field in ["account", "environment", "api_key", "api_secret", "username", "password"] {
        assert!(v[field].is_string(), "{field} in {v}");
    }
    assert_eq!(v["environment"], "live");
    assert_eq!(v["username"], "ali");
    assert_eq!(v["password"], "s3cret-pass");
    assert!(v["api_key"].as_str().unwrap().starts_with("tbh_live_"));
    let account = v["account"].as_str().unwrap();

    let out = cli(db, &["deposit", "--account", account, "--amount", "250.50", "--remarks", "bank transfer 8812"]);
    assert!(out.contains("balance RM 250.50"), "{out}");
    let out = cli(db, &["deposit", "--account", account, "--amount", "0.0001"]);
    assert!(out.contains("balance RM 250.5001"), "{out}");

    // Bad input: a clear error and no change.
    let (ok, _, err) = cli_status(db, &["deposit", "--account", account, "--amount=-5"]);
    assert!(!ok && err.contains("negative"), "{err}");
    let (ok, _, err) = cli_status(db, &["deposit", "--account", "99999", "--amount", "5"]);
    assert!(!ok && err.contains("no merchant account"), "{err}");
    let (ok, _, err) = cli_status(db, &["merchant", "create", "--name", "Dup", "--username", "ali"]);
    assert!(!ok && err.contains("taken"), "{err}");
    let (ok, _, err) = cli_status(db, &["merchant", "create", "--name", "X", "--environment", "prod"]);
    assert!(!ok && err.contains("staging or live"), "{err}");

    let out = cli(db, &["verify"]);
    assert!(out.contains("no violations"), "{out}");
    assert!(out.contains("each account's balance equals the sum of its entries"), "{out}");

    // Without --json: readable lines with the generated credentials.
    let out = cli(db, &["merchant", "create", "--name", "Plain"]);
    assert!(out.contains("API secret:") && out.contains("username:"), "{out}");

    let (ok, _, err) = cli_status(db, &["key", "revoke", "tbh_test_nope"]);
    assert!(!ok && err.contains("no API key"), "{err}");
}

#[test]
fn verify_fails_on_a_tampered_ledger() {
    let fresh = Db::fresh("tamper");
    let db = fresh.url.as_str();
    let m = create_merchant(db, &[], "100");
    assert_verified(db);
    // Someone edits a wallet balance behind the ledger's back.
    let sql = "UPDATE ledger_accounts SET balance_minor = balance_minor + 10000
               WHERE merchant_id = (SELECT id FROM merchants WHERE account = $1)";
    let changed = if fresh.is_postgres() {
        let url = db.to_owned();
        let account = m.account.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(conn);
                client.execute(sql, &[&account]).await.unwrap() as usize
            })
        })
        .join()
        .unwrap()
    } else {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute(&sql.replace("$1", "?1"), [&m.account]).unwrap()
    };
    assert_eq!(changed, 1);
    let (ok, out, err) = cli_status(db, &["verify"]);
    assert!(!ok, "verify must fail:\n{out}");
    assert!(out.contains("FAIL"), "{out}");
    assert!(err.contains("violation"), "{err}");
}

#[tokio::test]
async fn sign_prints_headers_that_the_server_accepts() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let body = json!({"refid": "SIGNED-1", "product": "D", "account": "0123456789", "amount": "10"}).to_string();
    let out = s.cli(&[
        "sign",
        "--key",
        &m.api_key,
        "--secret",
        &m.api_secret,
        "--method",
        "POST",
        "--url",
        &s.url("/v2/topup"),
        "--data",
        &body,
        "--headers-only",
    ]);
    let mut req =
        reqwest::Client::new().post(s.url("/v2/topup")).header("Content-Type", "application/json").body(body.clone());
    for line in out.lines() {
        let (k, v) = line.split_once(": ").unwrap();
        req = req.header(k, v);
    }
    let r = read(req.send().await.unwrap()).await;
    assert_eq!((r.status, r.json["statuscode"].as_str()), (200, Some("20")), "{:?}", r.json);
    // The default output is a curl command line.
    let line = s.cli(&["sign", "--key", &m.api_key, "--secret", &m.api_secret, "--url", &s.url("/v2/balance")]);
    assert!(line.starts_with("curl ") && line.contains("X-Signature: v1="), "{line}");
}

#[tokio::test]
async fn cli_works_while_the_server_runs() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "10");
    let c = Client::new(&s, &m);
    assert_eq!(c.balance().await, "10");
    s.cli(&["deposit", "--account", &m.account, "--amount", "5"]);
    assert_eq!(c.balance().await, "15");
    assert_verified(&s.db);
}

#[tokio::test]
async fn first_run_creates_a_demo_merchant_whose_credentials_work() {
    let fresh = Db::fresh("demo");
    let db = fresh.url.as_str();
    let out = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("TAMBAH_DATABASE", db)
        .env("TAMBAH_MASTER_KEY", TEST_MASTER_KEY)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut child = out;
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.starts_with("tambah listening on");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    let text = lines.join("\n");
    let field = |name: &str| {
        lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.split_whitespace().next().unwrap().to_owned())
            .unwrap()
    };
    assert!(text.contains("RM 1000.00"), "{text}");
    let base = field("tambah listening on");
    let (user, pass) = (field("username:"), field("password:"));
    let r = read(
        reqwest::Client::new()
            .post(format!("{base}/v2/token"))
            .form(&[("username", &user), ("password", &pass)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = r.json["AuthenticationResult"]["IdToken"].as_str().unwrap().to_owned();
    let r =
        read(reqwest::Client::new().get(format!("{base}/v2/balance")).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(r.json["data"]["balance"], json!(1000));
    // The example topup from the banner works as printed.
    let r = read(
        reqwest::Client::new()
            .post(format!("{base}/v2/topup"))
            .bearer_auth(&token)
            .form(&[("refid", "DEMO-1"), ("product", "D"), ("account", "0123456789"), ("amount", "10")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.json["statuscode"], "20", "{:?}", r.json);
    // The signed example runs as printed, from a shell with no tambah on its
    // PATH (as after `cargo run`): the banner names the binary by its path.
    let start = lines.iter().position(|l| l.starts_with("Try it (signed")).unwrap();
    let script = lines[start + 1..].iter().take_while(|l| !l.is_empty()).cloned().collect::<Vec<_>>().join("\n");
    assert!(script.trim_start().starts_with('/'), "the binary's full path: {script}");
    let out = std::process::Command::new("sh").args(["-c", &script]).env("PATH", "/usr/bin:/bin").output().unwrap();
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(answer.contains(r#""statuscode":"20""#), "{answer} {}", String::from_utf8_lossy(&out.stderr));
    let _ = child.kill();
    let _ = child.wait();
}

/// A command's help shows its own flags first; the database and server
/// settings every command accepts follow under their own headings.
#[test]
fn help_shows_a_commands_own_flags_first() {
    let out = std::process::Command::new(BIN).args(["merchant", "create", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let options = help.find("Options:").expect("an Options heading");
    let own = options + help[options..].find("--name").unwrap();
    let database = help.find("Database:").expect("a Database heading");
    let server = help.find("Server settings").expect("a server settings heading");
    let listen = help.find("--listen").unwrap();
    assert!(options < own && own < database && database < server && server < listen, "{help}");
}

/// Whatever the umask (here one that lets anyone read and write), the files
/// tambah creates for a SQLite database are its owner's only: the database,
/// its WAL and shared-memory files while a server has it open, and the master
/// key created next to it.
#[test]
fn files_are_created_for_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let dir = TempDir::new("modes");
    let mut server = Command::new("sh")
        .args(["-c", "umask 000; exec \"$0\" serve --listen 127.0.0.1:0", BIN])
        .env("TAMBAH_DATABASE", dir.path().join("tambah.db"))
        .env_remove("TAMBAH_MASTER_KEY")
        .env_remove("TAMBAH_MASTER_KEY_FILE")
        .env("TAMBAH_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawning tambah serve");
    let files = ["tambah.db", "tambah.db-wal", "tambah.db-shm", "tambah.db.key"].map(|f| dir.path().join(f));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !files.iter().all(|f| f.exists()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let modes: Vec<(String, u32)> = files
        .iter()
        .map(|f| {
            let mode = std::fs::metadata(f).map_or(0, |m| m.permissions().mode() & 0o777);
            (f.file_name().unwrap().to_string_lossy().into_owned(), mode)
        })
        .collect();
    let _ = server.kill();
    let _ = server.wait();
    for (file, mode) in modes {
        assert_eq!(mode, 0o600, "{file} is {mode:o} (0 when missing)");
    }
}

/// Runs a command that must fail: a non-zero exit, and on stderr `words`, in
/// words (not a debug dump of an error value, not a panic).
fn fails(db: &str, args: &[&str], words: &str) {
    let (ok, out, err) = cli_status(db, args);
    assert!(!ok, "tambah {args:?} exited 0: {out}");
    assert!(err.contains(words), "tambah {args:?}: {err}");
    assert!(!err.contains("(\"") && !err.contains(" { ") && !err.contains("panicked"), "tambah {args:?}: {err}");
}

/// What would change nothing is refused, not printed as done; errors are
/// errors, in words.
#[tokio::test]
async fn commands_that_would_change_nothing_fail_in_words() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let r = c.topup(json!({"refid": "CLI-1", "product": "D", "account": "0123456789", "amount": 10})).await;
    assert_eq!(r.code(), "20", "{:?}", r.json);
    let db = s.db.as_str();
    let opened = c.signed("POST", "/v2/transactions/check", Some(&json!({"refid": "CLI-1"}))).await;
    assert_eq!(opened.status, 200, "{:?}", opened.json);
    let listed = s.cli(&["dispute", "list"]);
    let id = serde_json::from_str::<Value>(listed.lines().next().unwrap()).unwrap()["id"].to_string();

    // A redelivery to a merchant without a callback URL could only fail.
    fails(db, &["callbacks", "redeliver", "--account", &m.account, "--refid", "CLI-1"], "no callback URL");
    // Only PINs and vouchers count stock.
    fails(db, &["catalog", "stock", "--product", "D", "--set", "5"], "counts no stock");
    assert!(s.cli(&["catalog", "stock", "--product", "CP", "--set", "5"]).contains("stock of CP: 5"));
    // An update without a setting.
    fails(db, &["merchant", "update", "--account", &m.account], "nothing to change");
    // Revoking a revoked key says so.
    let out = s.cli(&["key", "revoke", &m.api_key]);
    assert!(out.contains("revoked") && !out.contains("already"), "{out}");
    assert!(s.cli(&["key", "revoke", &m.api_key]).contains("was already revoked"));

    // Errors in words.
    fails(db, &["dispute", "resolve", "999", "--resolution", "x"], "no open dispute 999");
    fails(db, &["callbacks", "log", "--account", &m.account, "--refid", "NOPE"], "no transaction with refid");
    fails(db, &["report", "invoice", "--account", &m.account, "--month", "2024-13"], "is not a month");
    // A dispute whose order was refunded meanwhile cannot be refunded again.
    s.cli(&["order", "refund", "CLI-1"]);
    fails(db, &["dispute", "resolve", &id, "--resolution", "x", "--refund"], "only successful (20) orders");

    // A PostgreSQL server that is not there: an error, not a crash.
    fails("postgres://postgres@127.0.0.1:1/tambah_nowhere", &["order", "pending"], "opening PostgreSQL");
}
