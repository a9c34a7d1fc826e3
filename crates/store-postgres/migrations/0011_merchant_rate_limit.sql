-- (PostgreSQL twin of the SQLite migration of the same number.)
-- The operator's own rate limit for a merchant, in requests per second per node
-- (none: the default of its environment).
ALTER TABLE merchants ADD COLUMN rate_limit_per_s BIGINT CHECK (rate_limit_per_s > 0);
