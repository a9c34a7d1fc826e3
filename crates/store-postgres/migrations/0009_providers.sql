-- (PostgreSQL twin of the SQLite migration of the same number.)
-- Upstream providers (the connectors live orders are sent to), the routes of
-- each product to them, and one attempt row per try at sending an order,
-- written before the network call so that an order whose node died mid-call
-- is looked up upstream by its reference, never sent again.
CREATE TABLE providers (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL CHECK (kind IN ('iimmpact', 'reloadly', 'ding')),
    base_url       TEXT NOT NULL,
    auth_url       TEXT NOT NULL DEFAULT '',
    -- Starts every upstream reference of this installation at this provider,
    -- so that two installations sharing an upstream account never collide.
    ref_prefix     TEXT NOT NULL,
    -- The credentials as JSON, sealed with the node's master key.
    secrets_sealed BYTEA NOT NULL,
    timeout_ms     BIGINT NOT NULL CHECK (timeout_ms > 0),
    -- Alert the operator when our float there falls below this (none: never).
    low_balance_minor BIGINT CHECK (low_balance_minor >= 0),
    enabled        BOOLEAN NOT NULL DEFAULT true,
    created_at_ms  BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL
);
CREATE TABLE routes (
    product          TEXT NOT NULL,
    provider_id      BIGINT NOT NULL REFERENCES providers(id),
    upstream_product TEXT NOT NULL,
    -- Lower first; routes of the same priority share by weight.
    priority         BIGINT NOT NULL CHECK (priority >= 0),
    weight           BIGINT NOT NULL CHECK (weight > 0),
    buy_price_minor  BIGINT CHECK (buy_price_minor >= 0),
    PRIMARY KEY (product, provider_id)
);
CREATE TABLE attempts (
    order_id       BIGINT NOT NULL REFERENCES orders(id),
    attempt        BIGINT NOT NULL CHECK (attempt > 0),
    provider_id    BIGINT NOT NULL REFERENCES providers(id),
    upstream_ref   TEXT NOT NULL UNIQUE,
    -- The provider's product code the order was sent as (a query must ask
    -- about the same product, whatever the routes say by then).
    upstream_product TEXT NOT NULL,
    sent_at_ms     BIGINT NOT NULL,
    -- sent (no answer recorded yet), or what the answer meant.
    outcome        TEXT NOT NULL DEFAULT 'sent'
                   CHECK (outcome IN ('sent', 'delivered', 'declined', 'not_sent', 'unknown', 'reversed')),
    upstream_code  TEXT NOT NULL DEFAULT '',
    answer_excerpt TEXT NOT NULL DEFAULT '',
    -- What the provider charged us for it, when its answer says (cost of goods).
    cost_minor     BIGINT CHECK (cost_minor >= 0),
    answered_at_ms BIGINT,
    PRIMARY KEY (order_id, attempt)
);
-- Reconciliation reads one provider's attempts of a day.
CREATE INDEX attempts_provider_sent ON attempts (provider_id, sent_at_ms);
-- Failures of a provider for a product, as a leaky bucket shared by every
-- node: a provider whose bucket overflows is out of rotation until
-- out_until_ms. Advisory (no money depends on it).
CREATE TABLE provider_health (
    provider_id   BIGINT NOT NULL REFERENCES providers(id),
    product       TEXT NOT NULL,
    -- Failures in the bucket, in thousandths.
    level_milli   BIGINT NOT NULL CHECK (level_milli >= 0),
    updated_at_ms BIGINT NOT NULL,
    out_until_ms  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (provider_id, product)
);
