-- (PostgreSQL twin of the SQLite migration of the same number.)
-- The statement chain of each wallet (docs/ledger.md): every transfer that
-- moves a wallet records its entry number in that wallet's statement and
-- hash(n) = SHA-256(hash(n-1) || "seq|at_ms|kind|amount|balance|refid"),
-- computed by the writer in its batch; each account records where its chain
-- stands (number, hash, and the last entry's time). Rows written before this
-- migration are chained once by the migration runner, in id order.
ALTER TABLE transfers ADD COLUMN wallet_seq BIGINT;
ALTER TABLE transfers ADD COLUMN wallet_hash BYTEA;
ALTER TABLE ledger_accounts ADD COLUMN chain_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ledger_accounts ADD COLUMN chain_hash BYTEA NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000';
ALTER TABLE ledger_accounts ADD COLUMN chain_at_ms BIGINT NOT NULL DEFAULT 0;
