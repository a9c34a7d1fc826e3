"""Writes N successful orders (with their HOLD and POST transfers and the
balances they imply) for one merchant straight into a tambah SQLite file, so
benchmarks can run against a large history. Usage: preload.py N DB ACCOUNT."""
import random
import sqlite3
import sys
import time

n, db, account = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = sqlite3.connect(db)
c.execute("PRAGMA synchronous = OFF")
mid, wallet = c.execute(
    "SELECT m.id, a.id FROM merchants m JOIN ledger_accounts a ON a.merchant_id = m.id WHERE m.account = ?",
    (account,)).fetchone()
holds, revenue = [c.execute("SELECT id FROM ledger_accounts WHERE environment='staging' AND kind=?", (k,)).fetchone()[0]
                  for k in ("holds", "revenue")]
balance = c.execute("SELECT balance_minor FROM ledger_accounts WHERE id = ?", (wallet,)).fetchone()[0]
cost = 48500  # D, RM 5 at 3%
assert balance >= n * cost, "deposit more first"
now = int(time.time() * 1000)
start = now - 365 * 86400000
rng = random.Random(7)
order_id = c.execute("SELECT COALESCE(MAX(id), 0) FROM orders").fetchone()[0]
transfer_id = c.execute("SELECT COALESCE(MAX(id), 0) FROM transfers").fetchone()[0]
batch = 100000
for b in range(0, n, batch):
    orders, transfers = [], []
    for i in range(b, min(n, b + batch)):
        order_id += 1
        t = start + (i * 365 * 86400000) // n
        orders.append((order_id, mid, f"PRE{i}", "D", "0123456789", 50000, cost, 20, f"{rng.randrange(10**12):012d}", t, t))
        balance -= cost
        transfer_id += 1
        transfers.append((transfer_id, "HOLD", wallet, holds, cost, order_id, None, t, wallet, balance))
        transfer_id += 1
        transfers.append((transfer_id, "POST", holds, revenue, cost, order_id, transfer_id - 1, t, None, None))
    c.executemany("INSERT INTO orders (id, merchant_id, refid, product, account, amount_minor, cost_minor, status, sn,"
                  " created_at_ms, updated_at_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)", orders)
    c.executemany("INSERT INTO transfers (id, kind, debit_account, credit_account, amount_minor, order_id, pending_id,"
                  " created_at_ms, wallet_account, wallet_balance_after_minor) VALUES (?,?,?,?,?,?,?,?,?,?)", transfers)
c.execute("UPDATE ledger_accounts SET balance_minor = ? WHERE id = ?", (balance, wallet))
c.execute("UPDATE ledger_accounts SET balance_minor = balance_minor + ? WHERE id = ?", (n * cost, revenue))
c.commit()
c.execute("ANALYZE")
c.close()
print(f"preloaded {n} orders")
