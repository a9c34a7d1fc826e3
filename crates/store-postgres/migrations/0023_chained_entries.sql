-- (PostgreSQL twin of the SQLite migration of the same number.)
-- From now on every wallet entry must carry its chain number and hash: a
-- node older than the statement chain (which writes neither) is refused
-- rather than leaving entries outside the chain for ever. Upgrading across
-- migration 21: stop every node, migrate, then start the new ones.
ALTER TABLE transfers ADD CONSTRAINT transfers_chained
    CHECK (wallet_account IS NULL OR (wallet_seq IS NOT NULL AND wallet_hash IS NOT NULL));
