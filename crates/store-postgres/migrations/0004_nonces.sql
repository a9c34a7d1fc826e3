-- Signature nonces shared by every node: a replay sent to another node is
-- refused too. Rows are deleted once their timestamp has left the window.
CREATE TABLE nonces (
    key_id       TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    expires_at_s BIGINT NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX nonces_expiry ON nonces (expires_at_s);
