-- Per-merchant setting of the contract: token-authenticated topups refused (403)
-- unless made with an API key.
ALTER TABLE merchants ADD COLUMN require_api_key_for_topup BOOLEAN NOT NULL DEFAULT false;
