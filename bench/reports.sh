#!/usr/bin/env bash
# Reports over a large history: one merchant with N successful orders spread
# over the last 30 days (written straight into a fresh SQLite file, with their
# HOLD and POST transfers so the ledger balances), then the reports and
# listings timed over HTTP (median of 5 runs each).
#   bench/reports.sh [orders=1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
cargo build --release -q -p tambah
BIN=target/release/tambah
DIR=$(mktemp -d)
PID=
trap '[[ -n $PID ]] && kill $PID 2>/dev/null; rm -rf "$DIR"' EXIT
export TAMBAH_DATABASE=$DIR/reports.db TAMBAH_LOG=warn
$BIN merchant create --name Reports --username reports --password reports-password --json > "$DIR/m.json"
ACCOUNT=$(sed -E 's/.*"account":"([^"]+)".*/\1/' "$DIR/m.json")
echo "== writing $N orders"
python3 - "$TAMBAH_DATABASE" "$ACCOUNT" "$N" <<'PY'
import sqlite3, sys, time, random
db, account, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = sqlite3.connect(db)
mid, wallet = c.execute("SELECT m.id, a.id FROM merchants m JOIN ledger_accounts a ON a.merchant_id = m.id WHERE m.account = ?", (account,)).fetchone()
funding, holds, revenue = [c.execute("SELECT id FROM ledger_accounts WHERE environment='staging' AND kind=?", (k,)).fetchone()[0] for k in ("funding", "holds", "revenue")]
now = int(time.time() * 1000)
start = now - 30 * 86400000
products = [("D", 10, 97000), ("C", 30, 291000), ("M", 50, 485000), ("CB", 25, 250000), ("TNB", 120, 1200000)]
deposit = sum(p[2] for p in products) * (n // len(products) + 1)
c.execute("INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, remarks, created_at_ms, wallet_account, wallet_balance_after_minor) VALUES ('DEPOSIT', ?, ?, ?, 'bench', ?, ?, ?)", (funding, wallet, deposit, start - 1, wallet, deposit))
rng = random.Random(7)
spent = 0
batch = 50000
for b in range(0, n, batch):
    orders, transfers = [], []
    for i in range(b, min(n, b + batch)):
        code, rm, cost = products[i % len(products)]
        t = start + (i * 30 * 86400000) // n
        orders.append((i + 1, mid, f"R{i}", code, "0123456789", rm * 10000, cost, 20, f"{rng.randrange(10**12):012d}", t, t))
        spent += cost
        transfers.append(("HOLD", wallet, holds, cost, i + 1, None, t, wallet, deposit - spent))
    c.executemany("INSERT INTO orders (id, merchant_id, refid, product, account, amount_minor, cost_minor, status, sn, created_at_ms, updated_at_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)", orders)
    first = c.execute("SELECT COALESCE(MAX(id), 0) FROM transfers").fetchone()[0] + 1
    c.executemany("INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, order_id, pending_id, created_at_ms, wallet_account, wallet_balance_after_minor) VALUES (?,?,?,?,?,?,?,?,?)", transfers)
    c.executemany("INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, order_id, pending_id, created_at_ms) VALUES ('POST',?,?,?,?,?,?)",
                  [(holds, revenue, t[3], t[4], first + k, t[6]) for k, t in enumerate(transfers)])
c.execute("UPDATE ledger_accounts SET balance_minor = ? WHERE id = ?", (deposit - spent, wallet))
c.execute("UPDATE ledger_accounts SET balance_minor = ? WHERE id = ?", (-deposit, funding))
c.execute("UPDATE ledger_accounts SET balance_minor = ? WHERE id = ?", (spent, revenue))
c.commit()
c.execute("ANALYZE")
c.close()
PY
$BIN verify | tail -1
$BIN serve --listen 127.0.0.1:18199 > "$DIR/out" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q listening "$DIR/out" 2>/dev/null && break; sleep 0.1; done
TOKEN=$(curl -s -X POST http://127.0.0.1:18199/v2/token -d username=reports -d password=reports-password | sed -E 's/.*"IdToken":"([^"]+)".*/\1/')
FROM=$(TZ=Asia/Kuala_Lumpur date -d '-31 days' +%F)
TO=$(TZ=Asia/Kuala_Lumpur date +%F)
MONTH=$(TZ=Asia/Kuala_Lumpur date +%Y-%m)
time_it() { # label path
  local times=()
  for _ in 1 2 3 4 5; do
    times+=($(curl -s -o "$DIR/body" -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:18199$2"))
  done
  printf '%-44s median %ss  (runs: %s)  %s bytes\n' "$1" "$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)" "${times[*]}" "$(wc -c < "$DIR/body")"
}
RANGE=$(python3 -c "import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1]))" "$FROM - $TO")
echo "== $N orders; times over HTTP (curl total)"
time_it "transaction summary, 31 days" "/v2/reports/transaction-summary?date=$RANGE"
time_it "transaction summary, 31 days, CSV" "/v2/reports/transaction-summary?date=$RANGE&format=csv"
time_it "invoice, this month" "/v2/reports/invoice?month=$MONTH"
time_it "transactions, 31 days, first page + meta" "/v2/transactions?date=$RANGE&limit=50"
time_it "balance statement, first page + summary" "/v2/balance-statement?limit=50"
time_it "balance statement, last page" "/v2/balance-statement?limit=50&page=40000"
