-- From now on every wallet entry must carry its chain number and hash: a
-- node older than the statement chain (which writes neither) is refused
-- rather than leaving entries outside the chain for ever. Upgrading across
-- migration 21: stop every node, migrate, then start the new ones.
CREATE TRIGGER transfers_chained BEFORE INSERT ON transfers
    WHEN NEW.wallet_account IS NOT NULL AND (NEW.wallet_seq IS NULL OR NEW.wallet_hash IS NULL)
    BEGIN SELECT RAISE(ABORT, 'a wallet entry needs its chain number and hash (written by a node older than the statement chain?)'); END;
