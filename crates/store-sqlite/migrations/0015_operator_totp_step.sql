-- The last TOTP step each operator signed in with, on every node: a code is
-- accepted once even when a second node sees it.
ALTER TABLE operators ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
