-- Kept in step with the PostgreSQL migration of the same number, which adds a
-- shared nonce table. One SQLite file is served by one node, which keeps its
-- nonces in memory, so there is nothing to add here.
SELECT 1;
