-- Each transfer that moves a merchant wallet records which wallet and the
-- wallet's balance right after it, written by the writer that applied it: a
-- statement page reads its balances instead of summing the whole history.
ALTER TABLE transfers ADD COLUMN wallet_account INTEGER REFERENCES ledger_accounts(id);
ALTER TABLE transfers ADD COLUMN wallet_balance_after_minor INTEGER;
-- Rows written before this migration: filled once (the append-only guard is
-- lifted for this one statement pair and put back).
DROP TRIGGER transfers_no_update;
UPDATE transfers SET wallet_account = CASE kind WHEN 'HOLD' THEN debit_account WHEN 'POST' THEN NULL ELSE credit_account END;
UPDATE transfers SET wallet_balance_after_minor = (
    SELECT SUM(CASE WHEN t2.kind = 'HOLD' THEN -t2.amount_minor ELSE t2.amount_minor END)
    FROM transfers t2 WHERE t2.wallet_account = transfers.wallet_account AND t2.id <= transfers.id)
  WHERE wallet_account IS NOT NULL;
CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
    BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END;
CREATE INDEX transfers_wallet_time ON transfers (wallet_account, created_at_ms, id) WHERE wallet_account IS NOT NULL;
