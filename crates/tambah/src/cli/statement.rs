//! `tambah statement check FILE.csv --head HASH`: a merchant's check of a
//! downloaded balance statement (the dashboard's CSV) against a chain head
//! they kept. Needs no database: it recomputes the chain from the file's own
//! columns (docs/ledger.md gives the same algorithm in a few lines of Python).

use clap::{Args as ClapArgs, Subcommand};
use tambah_domain::chain::{from_hex, to_hex, Entry, Head};
use tambah_domain::Amount;

#[derive(Subcommand, Debug)]
pub enum StatementCommand {
    /// Recompute a downloaded statement's chain; with --head, check that it
    /// contains that head (non-zero exit on any mismatch).
    Check(CheckArgs),
}

#[derive(ClapArgs, Debug)]
pub struct CheckArgs {
    /// The statement CSV as downloaded from the dashboard.
    pub file: std::path::PathBuf,
    /// A head hash kept earlier (from the API's `chain.days` or a statement);
    /// the file must contain the entry with this hash.
    #[arg(long)]
    pub head: Option<String>,
    /// The number of entries the kept head stands at, when known.
    #[arg(long)]
    pub entries: Option<u64>,
}

pub fn run(c: StatementCommand) -> Result<(), String> {
    match c {
        StatementCommand::Check(a) => check(&a),
    }
}

/// One row of the file: the entry its hash covers, and the hash.
struct Row {
    seq: u64,
    at_ms: i64,
    kind: String,
    amount_minor: i64,
    balance_minor: i64,
    refid: String,
    hash: [u8; 32],
}

fn read(path: &std::path::Path) -> Result<Vec<Row>, String> {
    let mut file = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = file.headers().map_err(|e| e.to_string())?.clone();
    if let Some((_, twice)) = headers.iter().enumerate().find(|(i, h)| headers.iter().skip(i + 1).any(|o| o == *h)) {
        return Err(format!("the column {twice:?} appears twice"));
    }
    let column =
        |name: &str| headers.iter().position(|h| h == name).ok_or_else(|| format!("the file has no {name:?} column"));
    let at = [
        column("seq")?,
        column("time_ms")?,
        column("kind")?,
        column("amount_minor")?,
        column("balance_minor")?,
        column("refid")?,
        column("hash")?,
    ];
    // The columns people read, checked against the chained ones.
    let shown = [(headers.iter().position(|h| h == "amount"), 3), (headers.iter().position(|h| h == "balance"), 4)];
    let mut rows = Vec::new();
    for (line, record) in file.records().enumerate() {
        let record = record.map_err(|e| e.to_string())?;
        let field = |i: usize| record.get(at[i]).unwrap_or("");
        let bad = |what: &str| format!("line {}: {what} is not valid: {:?}", line + 2, field(0));
        for (shown_at, chained) in shown {
            let Some(shown_at) = shown_at else { continue };
            let said = field(chained)
                .parse::<i64>()
                .map(|m| Amount::from_minor(m).to_cents())
                .map_err(|_| bad("a minor amount"))?;
            let column = headers.get(shown_at).unwrap_or_default();
            if record.get(shown_at) != Some(said.as_str()) {
                return Err(format!(
                    "entry {}: the {column} column says {:?}, its chained entry {said}",
                    field(0),
                    record.get(shown_at).unwrap_or_default()
                ));
            }
        }
        rows.push(Row {
            seq: field(0).parse().map_err(|_| bad("seq"))?,
            at_ms: field(1).parse().map_err(|_| bad("time_ms"))?,
            kind: field(2).to_owned(),
            amount_minor: field(3).parse().map_err(|_| bad("amount_minor"))?,
            balance_minor: field(4).parse().map_err(|_| bad("balance_minor"))?,
            refid: field(5).to_owned(),
            hash: from_hex(field(6)).ok_or_else(|| bad("hash"))?,
        });
    }
    Ok(rows)
}

/// Every entry's hash recomputed from its fields after the entry before it;
/// answers the head the file ends at. A file that starts after entry 1
/// continues from its first row's hash, which is taken as given (an anchor:
/// its own fields cannot be checked without the entry before it).
fn recompute(rows: &[Row]) -> Result<Head, String> {
    let first = rows.first().ok_or("the file has no entries")?;
    // A file that starts after entry 1 continues a chain whose earlier
    // entries it does not hold: its first entry's hash is taken as given.
    let mut head = if first.seq == 1 { Head::EMPTY } else { Head { seq: first.seq, hash: first.hash } };
    let start = usize::from(first.seq != 1);
    for row in &rows[start..] {
        if row.seq != head.seq + 1 {
            return Err(format!("entry {} follows entry {}: entries are missing or repeated", row.seq, head.seq));
        }
        let entry = Entry {
            seq: row.seq,
            at_ms: row.at_ms,
            kind: &row.kind,
            amount_minor: row.amount_minor,
            balance_minor: row.balance_minor,
            refid: &row.refid,
        };
        let next = entry.append_to(&head);
        if next.hash != row.hash {
            return Err(format!(
                "entry {}: its hash does not match its fields and the entry before it (file {}, recomputed {})",
                row.seq,
                to_hex(&row.hash),
                to_hex(&next.hash)
            ));
        }
        head = next;
    }
    Ok(head)
}

fn check(a: &CheckArgs) -> Result<(), String> {
    let mut rows = read(&a.file)?;
    rows.sort_by_key(|r| r.seq);
    let end = recompute(&rows)?;
    let (first, last) = (rows[0].seq, end.seq);
    let from = if first == 1 { "the wallet's first entry".to_owned() } else { format!("entry {first}") };
    println!("{} entries, {from} to entry {last}: every hash recomputes", rows.len());
    println!("ends at entry {last} with head {}", to_hex(&end.hash));
    let Some(kept) = &a.head else { return Ok(()) };
    let kept_hash = from_hex(kept.trim()).ok_or("--head is not 64 hexadecimal digits")?;
    let anchor = (first != 1).then_some(first);
    match rows.iter().find(|r| r.hash == kept_hash) {
        Some(r) if Some(r.seq) == anchor => Err(format!(
            "the kept head is this file's first entry ({}), which it cannot check without the entry before it: \
             download a statement that starts earlier",
            r.seq
        )),
        Some(r) if a.entries.is_some_and(|n| n != r.seq) => Err(format!(
            "the head is entry {} of this file, not entry {}: the history before it changed",
            r.seq,
            a.entries.unwrap_or_default()
        )),
        Some(r) => {
            println!("contains the kept head at entry {}: nothing up to it was changed", r.seq);
            Ok(())
        }
        None if a.entries.is_some_and(|n| n < first || n > last) => Err(format!(
            "the kept head's entry {} is not in this file (entries {first} to {last}): download a statement that covers it",
            a.entries.unwrap_or_default()
        )),
        None => Err(format!(
            "the kept head {kept} is not in this file: the history up to it differs from what you were shown"
        )),
    }
}
