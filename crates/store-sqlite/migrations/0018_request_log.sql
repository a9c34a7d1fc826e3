-- The merchant's own refused and failed API requests (status 400 and up), for
-- its request log on the dashboard: what it sent, what it got. Rows older
-- than a week are deleted.
CREATE TABLE request_log (
    id          INTEGER PRIMARY KEY,
    merchant_id INTEGER NOT NULL REFERENCES merchants(id),
    at_ms       INTEGER NOT NULL,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      INTEGER NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    message     TEXT NOT NULL DEFAULT '',
    request_id  TEXT NOT NULL DEFAULT '',
    client_ip   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX request_log_merchant ON request_log (merchant_id, id);
CREATE INDEX request_log_at ON request_log (at_ms);
