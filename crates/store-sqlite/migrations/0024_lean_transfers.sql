-- Less to write per order (the writer's cost per topup, measured with
-- bench/run.sh):
--
-- 1. A wallet entry's chain number and hash are required by a CHECK of the
--    table instead of migration 23's trigger. Any INSERT trigger marks every
--    insert into the table as a statement that may write several rows, so
--    SQLite opened a statement journal for each one and copied every page it
--    touched; a CHECK costs a comparison.
-- 2. The movement sums of a wallet read the wallet's index, which now carries
--    the kind, the amount and the credited account; the two indexes on
--    (debit or credit account, time, kind, amount), four entries per order,
--    go. `verify` sums every account's entries in one grouped pass instead.
--
-- SQLite cannot add a CHECK to a table, so the table is rebuilt (the
-- documented twelve steps; the runner turns foreign keys off around its
-- transaction and checks them before it commits). A large database takes a
-- while here, once.
DROP TRIGGER transfers_no_update;
DROP TRIGGER transfers_no_delete;
DROP TRIGGER transfers_chained;
CREATE TABLE transfers_new (
    id             INTEGER PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('DEPOSIT', 'HOLD', 'POST', 'VOID', 'REFUND')),
    debit_account  INTEGER NOT NULL REFERENCES ledger_accounts(id),
    credit_account INTEGER NOT NULL REFERENCES ledger_accounts(id),
    amount_minor   INTEGER NOT NULL CHECK (amount_minor > 0),
    order_id       INTEGER REFERENCES orders(id),
    pending_id     INTEGER REFERENCES transfers_new(id),
    remarks        TEXT NOT NULL DEFAULT '',
    created_at_ms  INTEGER NOT NULL,
    wallet_account INTEGER REFERENCES ledger_accounts(id),
    wallet_balance_after_minor INTEGER,
    wallet_seq     INTEGER,
    wallet_hash    BLOB,
    CHECK (debit_account <> credit_account),
    CHECK ((kind IN ('POST', 'VOID')) = (pending_id IS NOT NULL)),
    CHECK ((kind = 'DEPOSIT') = (order_id IS NULL)),
    -- A node older than the statement chain writes neither: it is refused
    -- rather than leaving entries outside the chain for ever.
    CONSTRAINT wallet_entry_chained CHECK (wallet_account IS NULL OR (wallet_seq IS NOT NULL AND wallet_hash IS NOT NULL))
);
INSERT INTO transfers_new (id, kind, debit_account, credit_account, amount_minor, order_id, pending_id, remarks,
        created_at_ms, wallet_account, wallet_balance_after_minor, wallet_seq, wallet_hash)
    SELECT id, kind, debit_account, credit_account, amount_minor, order_id, pending_id, remarks,
        created_at_ms, wallet_account, wallet_balance_after_minor, wallet_seq, wallet_hash
    FROM transfers ORDER BY id;
DROP TABLE transfers;
ALTER TABLE transfers_new RENAME TO transfers;
-- A hold is posted or voided at most once.
CREATE UNIQUE INDEX transfers_resolve_once ON transfers (pending_id) WHERE pending_id IS NOT NULL;
-- An order has at most one hold, one post, one void, one refund.
CREATE UNIQUE INDEX transfers_order_kind ON transfers (order_id, kind) WHERE order_id IS NOT NULL;
-- A wallet's statement (by time) and its movement sums (kind, amount, and
-- which side the wallet is on), read from the index alone.
CREATE INDEX transfers_wallet_time ON transfers (wallet_account, created_at_ms, id, kind, amount_minor, credit_account)
    WHERE wallet_account IS NOT NULL;
CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
    BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END;
CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers
    BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END;
