-- The change counter behind each node's in-memory caches of credentials and
-- final orders. Every change that a cached answer could miss bumps it, in the
-- same transaction, whoever makes it (a node, the CLI, another node): a
-- revoked key or token, a changed or removed member, any change to a
-- merchant, a final order that changes (a refund). Each node reads it a few
-- times a second and empties its caches when it moved. Inserts do not bump
-- it: the caches hold only what was found.
CREATE TABLE cache_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO cache_epoch (id, n) VALUES (1, 0);

CREATE TRIGGER cache_epoch_api_keys_update AFTER UPDATE ON api_keys
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER cache_epoch_api_keys_delete AFTER DELETE ON api_keys
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER cache_epoch_tokens_update AFTER UPDATE ON tokens
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER cache_epoch_tokens_delete AFTER DELETE ON tokens
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER cache_epoch_users_update AFTER UPDATE ON users
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER cache_epoch_users_delete AFTER DELETE ON users
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER cache_epoch_merchants_update AFTER UPDATE ON merchants
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER cache_epoch_merchants_delete AFTER DELETE ON merchants
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
-- Only an order already final can be in a cache (0 accepted, 1 processing).
CREATE TRIGGER cache_epoch_final_orders AFTER UPDATE ON orders WHEN OLD.status NOT IN (0, 1)
    BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
