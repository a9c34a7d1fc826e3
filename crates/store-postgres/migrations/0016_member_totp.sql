-- (PostgreSQL twin of the SQLite migration of the same number.)
-- Two-factor sign-in of merchant members: the TOTP secret (sealed with the
-- master key) once confirmed, and the last step used (a code is accepted once).
CREATE TABLE user_totp (
    user_id     BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret_sealed BYTEA NOT NULL,
    last_step   BIGINT NOT NULL DEFAULT 0,
    created_at_ms BIGINT NOT NULL
);
