//! The wallets' statement chains from the outside: the API's heads, the
//! dashboard's CSV checked by `tambah statement check` and by the Python of
//! docs/ledger.md, and `tambah verify` naming the entry of each tampering
//! made straight in the database.

use serde_json::{json, Value};

use crate::browsing::*;
use crate::harness::*;

const CURRENT: &str = "2025-05-20";

fn order(refid: &str, account: &str) -> Value {
    json!({"refid": refid, "product": "D", "account": account, "amount": "10"})
}

/// A few movements of every kind: the deposit, holds, voids of failed orders.
async fn history(c: &Client, prefix: &str) {
    for (i, account) in ["0123456789", "60123450048", "0123456789", "60123450052"].iter().enumerate() {
        let r = c.topup(order(&format!("{prefix}-{i}"), account)).await;
        assert_eq!(r.status, 200, "{:?}", r.json);
    }
    // A replay of the first refid: a status check, nothing added.
    c.topup(order(&format!("{prefix}-0"), "0123456789")).await;
}

/// The Python checker of docs/ledger.md, as written there.
fn python_checker(dir: &std::path::Path) -> std::path::PathBuf {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ledger.md")).unwrap();
    let code = doc.split("```python\n").nth(1).and_then(|s| s.split("```").next()).expect("a python block");
    let path = dir.join("check.py");
    std::fs::write(&path, code).unwrap();
    path
}

fn python(script: &std::path::Path, csv: &std::path::Path, head: &str) -> (bool, String) {
    let out = std::process::Command::new("python3").arg(script).arg(csv).arg(head).output().expect("python3");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The API shows each entry's chain fields and each day's head (current
/// version only); the dashboard's CSV checks out against a head kept
/// earlier, with tambah and with the documented Python; an edited file
/// does not, and names the entry.
#[tokio::test]
async fn a_merchant_checks_a_downloaded_statement_against_a_kept_head() {
    let s = Server::start(&[]);
    let m = s.merchant(&["--api-version", CURRENT], "500");
    let c = Client::new(&s, &m);
    history(&c, "H").await;
    let api = c.signed("GET", "/v2/balance-statement?limit=500", None).await.json;
    let rows = api["data"].as_array().unwrap();
    // The deposit, four holds, two voids; the replay added nothing.
    assert_eq!(rows.len(), 7, "{api}");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["chain"]["seq"], json!(i + 1), "{row}");
        assert_eq!(row["chain"]["hash"].as_str().unwrap().len(), 64, "{row}");
    }
    let days = api["chain"]["days"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{api}");
    assert_eq!(days[0]["entries"], json!(7));
    let kept = days[0]["head"].as_str().unwrap().to_owned();
    assert_eq!(rows[6]["chain"]["hash"].as_str(), Some(kept.as_str()), "the day's head is its last entry's hash");
    // The seed version's statement is unchanged: no chain.
    let seed = c.signed_raw("GET", "/v2/balance-statement", "", b"", &[("X-Api-Version", "2023-10-01")]).await.json;
    assert!(seed.get("chain").is_none() && seed["data"][0].get("chain").is_none(), "{seed}");

    // More movements later; the statement downloaded then still holds the head kept now.
    history(&c, "L").await;
    let mut b = Browser::new(&s);
    b.log_in_ok(&m).await;
    let csv = b.get("/dashboard/statement.csv").await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    let dir = TempDir::new("chain");
    let file = dir.path().join("statement.csv");
    std::fs::write(&file, &csv.body).unwrap();
    let path = file.to_str().unwrap();
    let out = cli(&s.db, &["statement", "check", path, "--head", &kept, "--entries", "7"]);
    assert!(out.contains("13 entries") && out.contains("contains the kept head at entry 7"), "{out}");
    let script = python_checker(dir.path());
    let (ok, said) = python(&script, &file, &kept);
    assert!(ok && said.contains("ok: 13 entries"), "{said}");
    // The dashboard's page and PDF show today's head: the last entry's hash.
    let last = said.trim().rsplit(' ').next().unwrap().to_owned();
    let page = b.get("/dashboard/statement").await.body;
    assert!(page.contains("id=\"heads\"") && page.contains(&format!("<code>{last}</code>")), "{page}");
    let pdf = b.get("/dashboard/statement.pdf").await.body;
    assert!(pdf.contains(&last) && pdf.contains("Statement chain"), "the head in the PDF");

    // One sen more on entry 3 of the file: both checkers refuse, naming it.
    let mut lines: Vec<String> = csv.body.lines().map(str::to_owned).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (seq_at, amount_at, shown_amount_at) = (at("seq"), at("amount_minor"), at("amount"));
    let third = lines.iter().position(|l| l.split(',').nth(seq_at) == Some("3")).unwrap();
    let mut fields: Vec<String> = lines[third].split(',').map(str::to_owned).collect();
    // The chained amount and the one people read, edited together.
    let edited = fields[amount_at].parse::<i64>().unwrap() - 100;
    fields[amount_at] = edited.to_string();
    fields[shown_amount_at] = format!("{:.2}", edited as f64 / 10_000.0);
    lines[third] = fields.join(",");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let (ok, out, err) = cli_status(&s.db, &["statement", "check", path, "--head", &kept]);
    assert!(!ok && err.contains("entry 3: its hash does not match"), "{out}{err}");
    let (ok, said) = python(&script, &file, &kept);
    assert!(!ok && said.contains("entry 3"), "{said}");
    // A forged one-row file claiming the kept head at entry 7: the first row
    // of a file that starts after entry 1 is an anchor nothing checks, so a
    // kept head must be a later row. Both checkers refuse it.
    let seventh = csv.body.lines().find(|l| l.split(',').nth(seq_at) == Some("7")).unwrap();
    let mut forged: Vec<String> = seventh.split(',').map(str::to_owned).collect();
    (forged[amount_at], forged[shown_amount_at]) = ("-10000".into(), "-1.00".into());
    std::fs::write(&file, format!("{}\n{}\n", lines[0], forged.join(","))).unwrap();
    let (ok, _, err) = cli_status(&s.db, &["statement", "check", path, "--head", &kept, "--entries", "7"]);
    assert!(!ok && err.contains("first entry"), "{err}");
    let (ok, said) = python(&script, &file, &kept);
    assert!(!ok && said.contains("not among"), "{said}");
    // The amount people read edited alone (the chained columns intact).
    let mut shown = csv.body.lines().map(str::to_owned).collect::<Vec<_>>();
    let row = shown.iter().position(|l| l.split(',').nth(seq_at) == Some("2")).unwrap();
    let mut fields: Vec<String> = shown[row].split(',').map(str::to_owned).collect();
    fields[shown_amount_at] = "-0.97".into();
    shown[row] = fields.join(",");
    std::fs::write(&file, shown.join("\n") + "\n").unwrap();
    let (ok, _, err) = cli_status(&s.db, &["statement", "check", path]);
    assert!(!ok && err.contains("entry 2: the amount column says"), "{err}");
    // A head the history never had is refused.
    std::fs::write(&file, &csv.body).unwrap();
    let (ok, _, err) = cli_status(&s.db, &["statement", "check", path, "--head", &"ab".repeat(32)]);
    assert!(!ok && err.contains("not in this file"), "{err}");
    assert_verified(&s.db);
}

/// Runs SQL on the (stopped) database with the append-only guard lifted, as
/// an operator with the database's owner rights could.
fn tamper(db: &Db, sql: &str) {
    if db.is_postgres() {
        let (url, sql) = (db.url.clone(), sql.to_owned());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(conn);
                let guarded = format!(
                    "ALTER TABLE transfers DISABLE TRIGGER transfers_no_change; {sql};
                     ALTER TABLE transfers ENABLE TRIGGER transfers_no_change"
                );
                client.batch_execute(&guarded).await.unwrap();
            })
        })
        .join()
        .unwrap();
    } else {
        let conn = rusqlite::Connection::open(&db.url).unwrap();
        let guarded = format!(
            "DROP TRIGGER transfers_no_update; DROP TRIGGER transfers_no_delete; {sql};
             CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
                 BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END;
             CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers
                 BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END;"
        );
        conn.execute_batch(&guarded).unwrap();
    }
}

/// The wallet of a merchant, as SQL.
fn wallet_of(account: &str) -> String {
    format!(
        "(SELECT id FROM ledger_accounts WHERE merchant_id = (SELECT id FROM merchants WHERE account = '{account}'))"
    )
}

/// SQL that tampers with a wallet (given as SQL), with another wallet at hand.
type Tampering = fn(&str, &str) -> String;

/// Each tampering made straight in the database — an amount edited, an
/// entry deleted, two entries reordered, another wallet's entry spliced in —
/// is caught by `tambah verify`, which names the wallet's entry.
#[tokio::test]
async fn verify_names_the_entry_of_each_tampering() {
    let cases: [(&str, Tampering, &str); 4] = [
        (
            "an amount edited",
            |w, _| {
                format!("UPDATE transfers SET amount_minor = amount_minor + 1 WHERE wallet_account = {w} AND wallet_seq = 3")
            },
            "entry 3 (transfer",
        ),
        // Entry 4 is the release of a failed order's hold (nothing refers to it).
        (
            "an entry deleted",
            |w, _| format!("DELETE FROM transfers WHERE wallet_account = {w} AND wallet_seq = 4"),
            "entry 4 is missing",
        ),
        (
            "two entries reordered",
            |w, _| {
                format!(
                    "UPDATE transfers SET wallet_seq = CASE wallet_seq WHEN 2 THEN 3 ELSE 2 END
                     WHERE wallet_account = {w} AND wallet_seq IN (2, 3)"
                )
            },
            "entry 2 (transfer",
        ),
        (
            "another wallet's entry spliced in",
            |w, other| {
                format!(
                    "INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, remarks, created_at_ms,
                       wallet_account, wallet_balance_after_minor, wallet_seq, wallet_hash)
                     SELECT kind, debit_account, {w}, amount_minor, remarks, created_at_ms + 1000000, {w},
                       wallet_balance_after_minor, 8, wallet_hash
                     FROM transfers WHERE wallet_account = {other} AND wallet_seq = 1"
                )
            },
            "entry 8 (transfer",
        ),
    ];
    for (what, sql, named) in cases {
        let db = std::sync::Arc::new(Db::fresh("tamper"));
        let mut s = Server::start_on_db(db.clone(), &[]);
        let m = s.merchant(&[], "500");
        let other = s.merchant(&[], "300");
        history(&Client::new(&s, &m), "T").await;
        assert_verified(&s.db);
        assert!(s.terminate(), "the node stops");
        let wallet = wallet_of(&m.account);
        let (w, o) = (wallet.as_str(), wallet_of(&other.account));
        tamper(&db, &sql(w, &o));
        let (ok, out, _) = cli_status(&db.url, &["verify"]);
        assert!(!ok, "{what}: verify must fail:\n{out}");
        let chain_check = out.lines().skip_while(|l| !l.contains("statement chain")).collect::<Vec<_>>().join("\n");
        assert!(chain_check.starts_with("FAIL") && chain_check.contains(named), "{what}: expected {named:?}:\n{out}");
    }
}

/// Runs one statement on PostgreSQL at `url` (off the test's runtime).
fn pg_execute(url: &str, sql: &str) -> Result<u64, String> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (client, conn) =
                tokio_postgres::connect(&url, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            client.execute(&sql, &[]).await.map_err(|e| format!("{e}: {:?}", e.as_db_error().map(|d| d.message())))
        })
    })
    .join()
    .unwrap()
}

/// The application cannot rewrite the ledger: on SQLite its triggers refuse
/// an UPDATE or DELETE of an entry; on PostgreSQL the node and the CLI run
/// as a login role in `tambah_app` (docs/deploy.md), which may only INSERT
/// and SELECT entries, and serve everything that way. An entry edited by
/// the database's superuser is caught by `verify` and by the merchant's
/// checker against the head they kept.
#[tokio::test]
async fn the_application_cannot_rewrite_the_ledger() {
    let db = std::sync::Arc::new(Db::fresh("approle"));
    cli(&db.url, &["migrate"]);
    let role = format!("tambah_node_{}", std::process::id());
    let url = if db.is_postgres() {
        pg_execute(&db.url, &format!("DROP ROLE IF EXISTS {role}")).unwrap();
        pg_execute(&db.url, &format!("CREATE ROLE {role} LOGIN IN ROLE tambah_app")).unwrap();
        db.url.replacen("postgres@", &format!("{role}@"), 1)
    } else {
        db.url.clone()
    };
    let s = Server::start_on_url(db.clone(), &url, &[]);
    let m = s.merchant(&["--api-version", CURRENT], "500");
    let c = Client::new(&s, &m);
    history(&c, "R").await;
    let kept = c.signed("GET", "/v2/balance-statement", None).await.json["chain"]["days"][0]["head"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_verified(&url);
    for sql in ["UPDATE transfers SET amount_minor = amount_minor + 1", "DELETE FROM transfers"] {
        let refused = if db.is_postgres() {
            pg_execute(&url, sql).expect_err("the application's role may not change entries")
        } else {
            rusqlite::Connection::open(&url).unwrap().execute(sql, []).expect_err("the triggers refuse").to_string()
        };
        assert!(refused.contains("permission denied") || refused.contains("append-only"), "{sql}: {refused}");
    }
    // The superuser (the file's owner) edits entry 2; verify and the merchant's checker catch it.
    tamper(
        &db,
        &format!(
            "UPDATE transfers SET amount_minor = amount_minor + 100 WHERE wallet_account = {} AND wallet_seq = 2",
            wallet_of(&m.account)
        ),
    );
    let (ok, out, _) = cli_status(&url, &["verify"]);
    assert!(!ok && out.contains("entry 2 (transfer"), "{out}");
    let mut b = Browser::new(&s);
    b.log_in_ok(&m).await;
    let csv = b.get("/dashboard/statement.csv").await.body;
    let dir = TempDir::new("approle");
    let file = dir.path().join("statement.csv");
    std::fs::write(&file, csv).unwrap();
    let (ok, _, err) = cli_status(&url, &["statement", "check", file.to_str().unwrap(), "--head", &kept]);
    assert!(!ok && err.contains("entry 2"), "{err}");
    drop(s);
    if db.is_postgres() {
        let _ = pg_execute(&db.url, &format!("DROP ROLE IF EXISTS {role}"));
    }
}
