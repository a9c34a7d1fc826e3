-- (PostgreSQL twin of the SQLite migration of the same number.)
-- The addresses an account's API requests may come from (comma-separated
-- addresses and CIDR ranges; empty: any). The dashboard is not limited by it.
ALTER TABLE merchants ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '';
