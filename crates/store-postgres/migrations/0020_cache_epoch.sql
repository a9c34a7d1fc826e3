-- The change counter behind each node's in-memory caches of credentials and
-- final orders (see the SQLite migration of the same number): bumped in the
-- same transaction by every change a cached answer could miss; read by each
-- node a few times a second.
CREATE TABLE cache_epoch (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO cache_epoch (id, n) VALUES (1, 0);

CREATE FUNCTION cache_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_epoch SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER cache_epoch_api_keys AFTER UPDATE OR DELETE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epoch_bump();
CREATE TRIGGER cache_epoch_tokens AFTER UPDATE OR DELETE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epoch_bump();
CREATE TRIGGER cache_epoch_users AFTER UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epoch_bump();
CREATE TRIGGER cache_epoch_merchants AFTER UPDATE OR DELETE ON merchants
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epoch_bump();
-- Only an order already final can be in a cache (0 accepted, 1 processing).
CREATE TRIGGER cache_epoch_final_orders AFTER UPDATE ON orders
    FOR EACH ROW WHEN (OLD.status NOT IN (0, 1)) EXECUTE FUNCTION cache_epoch_bump();
