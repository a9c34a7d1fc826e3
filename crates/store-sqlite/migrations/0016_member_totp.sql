-- Two-factor sign-in of merchant members: the TOTP secret (sealed with the
-- master key) once confirmed, and the last step used (a code is accepted once).
CREATE TABLE user_totp (
    user_id     INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret_sealed BLOB NOT NULL,
    last_step   INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL
);
