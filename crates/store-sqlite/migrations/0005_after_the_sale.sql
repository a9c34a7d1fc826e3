-- After the sale: callbacks (an outbox written with the status change, and a
-- log of every delivery attempt), low-balance alerts, disputes, and the
-- indexes that listings and reports read by.

ALTER TABLE merchants ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN callback_url TEXT NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN callback_method TEXT NOT NULL DEFAULT 'POST' CHECK (callback_method IN ('GET', 'POST'));
ALTER TABLE merchants ADD COLUMN callback_secret_sealed BLOB;
ALTER TABLE merchants ADD COLUMN callback_secret_prev_sealed BLOB;
ALTER TABLE merchants ADD COLUMN callback_secret_prev_until_ms INTEGER;
ALTER TABLE merchants ADD COLUMN low_balance_threshold_minor INTEGER NOT NULL DEFAULT 0 CHECK (low_balance_threshold_minor >= 0);
-- Set when a crossing below the threshold was notified; cleared when the
-- balance is back at or above it: one notice per crossing.
ALTER TABLE merchants ADD COLUMN low_balance_notified INTEGER NOT NULL DEFAULT 0 CHECK (low_balance_notified IN (0, 1));

CREATE TABLE callbacks (
    id              INTEGER PRIMARY KEY,
    merchant_id     INTEGER NOT NULL REFERENCES merchants(id),
    kind            TEXT NOT NULL CHECK (kind IN ('order', 'low_balance')),
    order_id        INTEGER REFERENCES orders(id),
    -- The order's status and the wallet balance when the event happened.
    status          INTEGER,
    balance_minor   INTEGER NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    lease_owner     TEXT,
    lease_until_ms  INTEGER,
    CHECK ((kind = 'order') = (order_id IS NOT NULL))
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_ms) WHERE state = 'pending';
CREATE INDEX callbacks_order ON callbacks (order_id);

CREATE TABLE callback_attempts (
    id               INTEGER PRIMARY KEY,
    callback_id      INTEGER NOT NULL REFERENCES callbacks(id),
    attempt          INTEGER NOT NULL,
    at_ms            INTEGER NOT NULL,
    url              TEXT NOT NULL,
    http_status      INTEGER,
    latency_ms       INTEGER NOT NULL,
    error            TEXT NOT NULL DEFAULT '',
    response_excerpt TEXT NOT NULL DEFAULT ''
);
CREATE INDEX callback_attempts_callback ON callback_attempts (callback_id, attempt);

CREATE TABLE disputes (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants(id),
    order_id      INTEGER NOT NULL REFERENCES orders(id),
    emails        TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
    resolution    TEXT NOT NULL DEFAULT '',
    created_at_ms INTEGER NOT NULL,
    resolved_at_ms INTEGER
);
CREATE UNIQUE INDEX disputes_open_once ON disputes (order_id) WHERE state = 'open';

-- Listings and reports read a merchant's orders by time.
CREATE INDEX orders_merchant_time ON orders (merchant_id, created_at_ms);
