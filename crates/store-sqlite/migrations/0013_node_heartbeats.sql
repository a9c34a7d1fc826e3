-- Each node's last successful health write: /health proves the database
-- accepts writes by making one.
CREATE TABLE node_heartbeats (
    node TEXT PRIMARY KEY,
    at_ms INTEGER NOT NULL
);
