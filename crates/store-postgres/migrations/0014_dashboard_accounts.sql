-- (PostgreSQL twin of the SQLite migration of the same number.)
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
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
    expires_at_ms BIGINT NOT NULL,
    used_at_ms    BIGINT,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX user_links_user ON user_links (user_id);

-- A staging merchant's request for a live account; the live merchant once
-- the operator approved it (its members sign in with their staging
-- credentials and switch between the two).
CREATE TABLE live_access (
    staging_merchant_id BIGINT PRIMARY KEY REFERENCES merchants(id),
    requested_at_ms     BIGINT NOT NULL,
    live_merchant_id    BIGINT UNIQUE REFERENCES merchants(id),
    approved_at_ms      BIGINT
);

CREATE TABLE operators (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    -- The TOTP secret, sealed with the node's master key.
    totp_sealed   BYTEA NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE operator_sessions (
    token_hash    TEXT PRIMARY KEY,
    operator_id   BIGINT NOT NULL REFERENCES operators(id),
    expires_at_ms BIGINT NOT NULL,
    revoked       BOOLEAN NOT NULL DEFAULT false,
    created_at_ms BIGINT NOT NULL
);

-- Append-only: every operator action, with whom and what.
CREATE TABLE audit_log (
    id            BIGSERIAL PRIMARY KEY,
    operator_id   BIGINT NOT NULL REFERENCES operators(id),
    action        TEXT NOT NULL,
    merchant_id   BIGINT REFERENCES merchants(id),
    detail        TEXT NOT NULL DEFAULT '',
    created_at_ms BIGINT NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
