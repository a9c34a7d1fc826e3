-- (PostgreSQL twin of the SQLite migration of the same number.)
-- Dashboard sessions, apart from the API's tokens: a token from /v2/token
-- opens no dashboard page, and a session records whether its member gave a
-- two-factor code (what keys, settings and members need).
CREATE TABLE dashboard_sessions (
    token_hash    TEXT PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    two_factor    BOOLEAN NOT NULL DEFAULT false,
    expires_at_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_user ON dashboard_sessions (user_id);
