-- (PostgreSQL twin of the SQLite migration of the same number.)
-- Each node's last successful health write: /health proves the database
-- accepts writes by making one.
CREATE TABLE node_heartbeats (
    node TEXT PRIMARY KEY,
    at_ms BIGINT NOT NULL
);
