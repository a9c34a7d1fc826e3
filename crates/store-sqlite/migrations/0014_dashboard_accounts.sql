-- The dashboard's accounts: a role per user, one-use links (invitations
-- and password resets), live access requested by a staging merchant and
-- approved by the operator, the operator's own accounts and sessions, and
-- the audit log of every operator action.

-- admin: everything; developer: keys and settings; finance: reports;
-- viewer: reads only. Every existing user is its merchant's admin.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'
    CHECK (role IN ('admin', 'developer', 'finance', 'viewer'));

-- A link sent to a user to set a password: used once, before it expires.
CREATE TABLE user_links (
    token_hash    TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
    expires_at_ms INTEGER NOT NULL,
    used_at_ms    INTEGER,
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX user_links_user ON user_links (user_id);

-- A staging merchant's request for a live account; the live merchant once
-- the operator approved it (its members sign in with their staging
-- credentials and switch between the two).
CREATE TABLE live_access (
    staging_merchant_id INTEGER PRIMARY KEY REFERENCES merchants(id),
    requested_at_ms     INTEGER NOT NULL,
    live_merchant_id    INTEGER UNIQUE REFERENCES merchants(id),
    approved_at_ms      INTEGER
);

CREATE TABLE operators (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    -- The TOTP secret, sealed with the node's master key.
    totp_sealed   BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE operator_sessions (
    token_hash    TEXT PRIMARY KEY,
    operator_id   INTEGER NOT NULL REFERENCES operators(id),
    expires_at_ms INTEGER NOT NULL,
    revoked       INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    created_at_ms INTEGER NOT NULL
);

-- Append-only: every operator action, with whom and what.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    operator_id   INTEGER NOT NULL REFERENCES operators(id),
    action        TEXT NOT NULL,
    merchant_id   INTEGER REFERENCES merchants(id),
    detail        TEXT NOT NULL DEFAULT '',
    created_at_ms INTEGER NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
