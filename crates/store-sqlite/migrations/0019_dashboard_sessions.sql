-- Dashboard sessions, apart from the API's tokens: a token from /v2/token
-- opens no dashboard page, and a session records whether its member gave a
-- two-factor code (what keys, settings and members need).
CREATE TABLE dashboard_sessions (
    token_hash    TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    two_factor    INTEGER NOT NULL DEFAULT 0 CHECK (two_factor IN (0, 1)),
    expires_at_ms INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX dashboard_sessions_user ON dashboard_sessions (user_id);
