-- (PostgreSQL twin of the SQLite migration of the same number.)
-- The operator's changes to a provider's code table (what an upstream code
-- means for our order), as a JSON object of key to meaning; the connector's
-- own table answers every key not in it.
ALTER TABLE providers ADD COLUMN codes_json TEXT NOT NULL DEFAULT '{}';
