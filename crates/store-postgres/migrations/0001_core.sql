-- tambah core schema (PostgreSQL dialect of the SQLite migration of the same
-- number): merchants, credentials, the ledger and orders. Money columns are
-- integers in minor units (RM x 10^4), suffixed _minor.

CREATE TABLE merchants (
    id            BIGSERIAL PRIMARY KEY,
    account       TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    environment   TEXT NOT NULL CHECK (environment IN ('staging', 'live')),
    level         TEXT NOT NULL,
    access        SMALLINT NOT NULL DEFAULT 0 CHECK (access IN (0, 50)),
    suspended     BOOLEAN NOT NULL DEFAULT false,
    api_version   TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

-- Double-entry accounts. Wallets belong to a merchant; system accounts
-- (funding, holds, revenue) to an environment. Only funding may go negative.
CREATE TABLE ledger_accounts (
    id             BIGSERIAL PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('wallet', 'funding', 'holds', 'revenue')),
    environment    TEXT NOT NULL CHECK (environment IN ('staging', 'live')),
    merchant_id    BIGINT UNIQUE REFERENCES merchants(id),
    balance_minor  BIGINT NOT NULL DEFAULT 0,
    CHECK (kind = 'funding' OR balance_minor >= 0),
    CHECK ((kind = 'wallet') = (merchant_id IS NOT NULL))
);
CREATE UNIQUE INDEX ledger_accounts_system ON ledger_accounts (environment, kind) WHERE kind <> 'wallet';

INSERT INTO ledger_accounts (kind, environment) VALUES
    ('funding', 'staging'), ('holds', 'staging'), ('revenue', 'staging'),
    ('funding', 'live'), ('holds', 'live'), ('revenue', 'live');

CREATE TABLE orders (
    id            BIGSERIAL PRIMARY KEY,
    merchant_id   BIGINT NOT NULL REFERENCES merchants(id),
    refid         TEXT NOT NULL,
    product       TEXT NOT NULL,
    account       TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL CHECK (amount_minor > 0),
    cost_minor    BIGINT NOT NULL CHECK (cost_minor >= 0),
    status        SMALLINT NOT NULL,
    sn            TEXT NOT NULL DEFAULT '',
    pin           TEXT NOT NULL DEFAULT '',
    expiry        TEXT NOT NULL DEFAULT '',
    note          TEXT NOT NULL DEFAULT '',
    voucherlink   TEXT NOT NULL DEFAULT '',
    remarks       TEXT NOT NULL DEFAULT '',
    extras_json   TEXT NOT NULL DEFAULT '{}',
    provider      TEXT NOT NULL DEFAULT '',
    recheck_at_ms BIGINT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    UNIQUE (merchant_id, refid)
);
CREATE INDEX orders_pending ON orders (status, created_at_ms) WHERE status IN (0, 1);
CREATE INDEX orders_recheck ON orders (recheck_at_ms) WHERE recheck_at_ms IS NOT NULL;

-- Append-only: no UPDATE or DELETE ever touches this table (trigger below).
CREATE TABLE transfers (
    id             BIGSERIAL PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('DEPOSIT', 'HOLD', 'POST', 'VOID', 'REFUND')),
    debit_account  BIGINT NOT NULL REFERENCES ledger_accounts(id),
    credit_account BIGINT NOT NULL REFERENCES ledger_accounts(id),
    amount_minor   BIGINT NOT NULL CHECK (amount_minor > 0),
    order_id       BIGINT REFERENCES orders(id),
    pending_id     BIGINT REFERENCES transfers(id),
    remarks        TEXT NOT NULL DEFAULT '',
    created_at_ms  BIGINT NOT NULL,
    CHECK (debit_account <> credit_account),
    CHECK ((kind IN ('POST', 'VOID')) = (pending_id IS NOT NULL)),
    CHECK ((kind = 'DEPOSIT') = (order_id IS NULL))
);
-- A hold is posted or voided at most once.
CREATE UNIQUE INDEX transfers_resolve_once ON transfers (pending_id) WHERE pending_id IS NOT NULL;
-- An order has at most one hold, one post, one void, one refund.
CREATE UNIQUE INDEX transfers_order_kind ON transfers (order_id, kind) WHERE order_id IS NOT NULL;
CREATE INDEX transfers_debit ON transfers (debit_account, id);
CREATE INDEX transfers_credit ON transfers (credit_account, id);
CREATE FUNCTION transfers_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'transfers are append-only';
END
$$;
CREATE TRIGGER transfers_no_change BEFORE UPDATE OR DELETE ON transfers
    FOR EACH ROW EXECUTE FUNCTION transfers_append_only();

CREATE TABLE api_keys (
    key_id        TEXT PRIMARY KEY,
    merchant_id   BIGINT NOT NULL REFERENCES merchants(id),
    secret_sealed BYTEA NOT NULL,
    revoked       BOOLEAN NOT NULL DEFAULT false,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    merchant_id   BIGINT NOT NULL REFERENCES merchants(id),
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL
);

CREATE TABLE tokens (
    token_hash    TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('id', 'access', 'refresh')),
    merchant_id   BIGINT NOT NULL REFERENCES merchants(id),
    user_id       BIGINT NOT NULL REFERENCES users(id),
    expires_at_ms BIGINT NOT NULL,
    revoked       BOOLEAN NOT NULL DEFAULT false,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX tokens_user ON tokens (user_id);
