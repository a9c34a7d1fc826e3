-- (PostgreSQL twin of the SQLite migration of the same number.)
-- SQLite now keeps signature nonces in a `nonces` table too. PostgreSQL has
-- had that table since migration 0004, so there is nothing to add here.
SELECT 1;
