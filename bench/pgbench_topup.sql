-- The PostgreSQL ceiling for topups: one transaction per topup on tambah's own
-- schema, as a database takes it without group commit, written as well as it
-- can be: one statement, one round trip, holding the hot rows (the wallet and
-- revenue balances) only for that statement. It writes the order with its
-- final status, its hold and its post (the wallet's balance after the hold),
-- and moves the two balances; like the node, it keeps the wallet's statement
-- chain (the entry's number and a SHA-256 over the head and the entry, the
-- head moved on the wallet's row). Run by bench/run.sh with pgbench, 16 clients, on
-- the benchmark's own database after the node's runs (variables: -D merchant=,
-- wallet=, holds=, revenue=).
WITH w AS (
  UPDATE ledger_accounts SET balance_minor = balance_minor - 96500, chain_seq = chain_seq + 1,
    chain_hash = sha256(chain_hash || convert_to((chain_seq + 1)::text || '|0|HOLD|-96500|'
      || (balance_minor - 96500)::text || '|pgb', 'UTF8'))
  WHERE id = :wallet RETURNING balance_minor, chain_seq, chain_hash
), o AS (
  INSERT INTO orders (merchant_id, refid, product, account, amount_minor, cost_minor, status, created_at_ms, updated_at_ms)
  VALUES (:merchant, 'pgb' || nextval('pgbench_refids'), 'D', '0123456789', 100000, 96500, 20, 0, 0)
  RETURNING id
), h AS (
  INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, order_id, created_at_ms, wallet_account,
    wallet_balance_after_minor, wallet_seq, wallet_hash)
  SELECT 'HOLD', :wallet, :holds, 96500, o.id, 0, :wallet, w.balance_minor, w.chain_seq, w.chain_hash FROM o, w
  RETURNING id, order_id
), p AS (
  INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, order_id, pending_id, created_at_ms)
  SELECT 'POST', :holds, :revenue, 96500, h.order_id, h.id, 0 FROM h
), r AS (
  UPDATE ledger_accounts SET balance_minor = balance_minor + 96500 WHERE id = :revenue
)
SELECT 1;
