-- Kept in step with the PostgreSQL migration of the same number, which adds a
-- shared nonce table. Until migration 0012 a SQLite node kept its nonces in
-- memory, so there is nothing to add here.
SELECT 1;
