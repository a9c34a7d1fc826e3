-- Worker leases: a node that takes due provider work on an order holds it until
-- lease_until_ms; after that any node may take it (the holder died).
ALTER TABLE orders ADD COLUMN lease_owner TEXT;
ALTER TABLE orders ADD COLUMN lease_until_ms BIGINT;
