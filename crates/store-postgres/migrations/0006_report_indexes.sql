-- (PostgreSQL twin of the SQLite migration of the same number.)
-- Indexes that let reports read only index entries: the daily summary reads
-- a merchant's successful orders by time, the invoice sums a wallet's
-- movements by time and kind (these replace the plain per-account indexes).
CREATE INDEX orders_merchant_status_time ON orders (merchant_id, status, created_at_ms, product, amount_minor, cost_minor);
DROP INDEX transfers_debit;
DROP INDEX transfers_credit;
CREATE INDEX transfers_debit_time ON transfers (debit_account, created_at_ms, kind, amount_minor);
CREATE INDEX transfers_credit_time ON transfers (credit_account, created_at_ms, kind, amount_minor);
