-- (PostgreSQL twin of the SQLite migration of the same number, which also
-- rebuilds SQLite's table for a CHECK PostgreSQL has had since 23.)
-- The movement sums of a wallet read the wallet's index, which now carries
-- the kind, the amount and the credited account; the two indexes on (debit
-- or credit account, time, kind, amount), four entries per order, go.
-- `verify` sums every account's entries in one grouped pass instead.
DROP INDEX transfers_debit_time;
DROP INDEX transfers_credit_time;
DROP INDEX transfers_wallet_time;
CREATE INDEX transfers_wallet_time ON transfers (wallet_account, created_at_ms, id)
    INCLUDE (kind, amount_minor, credit_account) WHERE wallet_account IS NOT NULL;
