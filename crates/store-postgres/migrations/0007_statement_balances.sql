-- (PostgreSQL twin of the SQLite migration of the same number.)
-- Each transfer that moves a merchant wallet records which wallet and the
-- wallet's balance right after it, written by the writer that applied it: a
-- statement page reads its balances instead of summing the whole history.
ALTER TABLE transfers ADD COLUMN wallet_account BIGINT REFERENCES ledger_accounts(id);
ALTER TABLE transfers ADD COLUMN wallet_balance_after_minor BIGINT;
-- Rows written before this migration: filled once, with the append-only
-- guard lifted for it.
ALTER TABLE transfers DISABLE TRIGGER transfers_no_change;
UPDATE transfers SET wallet_account = CASE kind WHEN 'HOLD' THEN debit_account WHEN 'POST' THEN NULL ELSE credit_account END;
UPDATE transfers t SET wallet_balance_after_minor = s.after
  FROM (SELECT id, SUM(CASE WHEN kind = 'HOLD' THEN -amount_minor ELSE amount_minor END)
                 OVER (PARTITION BY wallet_account ORDER BY id) AS after
        FROM transfers WHERE wallet_account IS NOT NULL) s
  WHERE s.id = t.id;
ALTER TABLE transfers ENABLE TRIGGER transfers_no_change;
CREATE INDEX transfers_wallet_time ON transfers (wallet_account, created_at_ms, id) WHERE wallet_account IS NOT NULL;
