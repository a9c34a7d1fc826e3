-- Per-merchant setting of the contract: token-authenticated topups refused (403)
-- unless made with an API key.
ALTER TABLE merchants ADD COLUMN require_api_key_for_topup INTEGER NOT NULL DEFAULT 0
    CHECK (require_api_key_for_topup IN (0, 1));
