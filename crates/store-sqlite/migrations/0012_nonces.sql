-- Signature nonces in the database, as on PostgreSQL (its migration 0004): a
-- node restarted on this file still refuses a request signed before the
-- restart. Each key's nonces are its own rows, so one key's requests never
-- displace another key's; rows are deleted once their timestamp has left the
-- window.
CREATE TABLE nonces (
    key_id       TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    expires_at_s INTEGER NOT NULL,
    PRIMARY KEY (key_id, nonce)
) WITHOUT ROWID;
CREATE INDEX nonces_expiry ON nonces (expires_at_s);
