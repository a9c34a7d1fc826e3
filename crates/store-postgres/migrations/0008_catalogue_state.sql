-- (PostgreSQL twin of the SQLite migration of the same number.)
-- Catalogue state shared by every node: the imported catalogue (versions),
-- PIN stock per product (a product without a row is unlimited), and the
-- per-account monthly payment counts of billers that limit them.
CREATE TABLE catalog_versions (
    version       BIGINT PRIMARY KEY,
    json          TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE TABLE stock (
    product   TEXT PRIMARY KEY,
    remaining BIGINT NOT NULL CHECK (remaining >= 0)
);
CREATE TABLE bill_counts (
    product TEXT NOT NULL,
    account TEXT NOT NULL,
    -- yyyymm in Malaysia time
    month   BIGINT NOT NULL,
    count   BIGINT NOT NULL CHECK (count >= 0),
    PRIMARY KEY (product, account, month)
);
