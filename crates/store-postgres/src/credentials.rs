//! Credentials on PostgreSQL: API keys, users, tokens (each alone or with its merchant) and signature nonces.

use std::sync::atomic::Ordering;

use tambah_domain::{Role, UserId};
use tambah_store::{
    api_key_columns, merchant_select, rows, token_columns, user_columns, ApiKeyRow, BoxFuture, CredentialStore,
    MerchantRow, Result, TokenRow, UserRow,
};

use crate::{err, maybe, Cols, PgStore};

/// Expired nonces are deleted once every this many new ones.
const NONCE_SWEEP_EVERY: u64 = 4_096;

/// The merchant select as a derived table `q` whose columns have distinct
/// names (it selects both `m.id` and `a.id`), to join a credential to.
macro_rules! merchant_subquery {
    () => {
        concat!(
            "(",
            merchant_select!(),
            ") q (id, account, name, environment, level, access, suspended, api_version, require_api_key_for_topup,
               wallet_id, created_at_ms, email, callback_url, callback_method, low_balance_threshold_minor,
               rate_limit_per_s, ip_allowlist, daily_cap_amount_minor, daily_cap_count)"
        )
    };
}

/// Where the credential's columns start in a `q.*, <credential>` row: after
/// the merchant's 19.
const AFTER_MERCHANT: usize = rows::MERCHANT_COLUMN_COUNT;

impl CredentialStore for PgStore {
    fn change_epoch(&self) -> BoxFuture<'_, Result<i64>> {
        Box::pin(async move {
            let row = self.query_opt("SELECT n FROM cache_epoch WHERE id = 1", &[]).await?;
            Ok(row.map(|r| r.get::<_, i64>(0)).unwrap_or(0))
        })
    }

    fn insert_api_key<'a>(&'a self, key: &'a ApiKeyRow, created_at_ms: i64) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.execute(
                "INSERT INTO api_keys (key_id, merchant_id, secret_sealed, revoked, created_at_ms) VALUES ($1, $2, $3, $4, $5)",
                &[&key.key_id, &key.merchant_id.get(), &key.secret_sealed, &key.revoked, &created_at_ms],
            )
            .await
            .map(|_| ())
        })
    }

    fn api_key<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<Option<ApiKeyRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!("SELECT ", api_key_columns!(), " FROM api_keys WHERE key_id = $1");
            maybe(self.query_opt(SQL, &[&key_id]).await?.as_ref(), rows::api_key)
        })
    }

    fn revoke_api_key<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            Ok(self.execute("UPDATE api_keys SET revoked = true WHERE key_id = $1", &[&key_id]).await? > 0)
        })
    }

    fn api_key_with_merchant<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<Option<(ApiKeyRow, MerchantRow)>>> {
        Box::pin(async move {
            // The key's columns come after the merchant's (their names are not among `q`'s).
            const SQL: &str = concat!(
                "SELECT q.*, ",
                api_key_columns!(),
                " FROM ",
                merchant_subquery!(),
                " JOIN api_keys k ON k.merchant_id = q.id WHERE k.key_id = $1"
            );
            let row = self.query_opt(SQL, &[&key_id]).await?;
            row.map(|r| Ok((rows::api_key(&Cols::at(&r, AFTER_MERCHANT))?, rows::merchant(&Cols::new(&r))?)))
                .transpose()
                .map_err(err)
        })
    }

    fn user_by_username<'a>(&'a self, username: &'a str) -> BoxFuture<'a, Result<Option<UserRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE username = $1");
            maybe(self.query_opt(SQL, &[&username]).await?.as_ref(), rows::user)
        })
    }

    fn user(&self, user_id: UserId) -> BoxFuture<'_, Result<Option<UserRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
            maybe(self.query_opt(SQL, &[&user_id.get()]).await?.as_ref(), rows::user)
        })
    }

    fn set_password_hash<'a>(&'a self, user_id: UserId, password_hash: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.execute("UPDATE users SET password_hash = $1 WHERE id = $2", &[&password_hash, &user_id.get()])
                .await
                .map(|_| ())
        })
    }

    fn insert_token<'a>(&'a self, t: &'a TokenRow, created_at_ms: i64) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.execute(
                "INSERT INTO tokens (token_hash, kind, merchant_id, user_id, expires_at_ms, revoked, created_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &t.token_hash,
                    &t.kind.as_str(),
                    &t.merchant_id.get(),
                    &t.user_id.get(),
                    &t.expires_at_ms,
                    &t.revoked,
                    &created_at_ms,
                ],
            )
            .await
            .map(|_| ())
        })
    }

    fn token<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<Option<TokenRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!("SELECT ", token_columns!(), " FROM tokens WHERE token_hash = $1");
            maybe(self.query_opt(SQL, &[&token_hash]).await?.as_ref(), rows::token)
        })
    }

    fn token_with_merchant<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<(TokenRow, MerchantRow, Role)>>> {
        Box::pin(async move {
            // As `api_key_with_merchant`: the token's columns come after the
            // merchant's, then its user's role.
            const SQL: &str = concat!(
                "SELECT q.*, ",
                token_columns!(),
                ", (SELECT u.role FROM users u WHERE u.id = t.user_id) FROM ",
                merchant_subquery!(),
                " JOIN tokens t ON t.merchant_id = q.id WHERE t.token_hash = $1"
            );
            let row = self.query_opt(SQL, &[&token_hash]).await?;
            row.map(|r| {
                let role = rows::role(&Cols::new(&r), AFTER_MERCHANT + 6)?;
                Ok((rows::token(&Cols::at(&r, AFTER_MERCHANT))?, rows::merchant(&Cols::new(&r))?, role))
            })
            .transpose()
            .map_err(err)
        })
    }

    fn revoke_user_tokens(&self, user_id: UserId) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.execute("UPDATE tokens SET revoked = true WHERE user_id = $1", &[&user_id.get()]).await.map(|_| ())
        })
    }

    fn revoke_token<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            self.execute("UPDATE tokens SET revoked = true WHERE token_hash = $1", &[&token_hash]).await.map(|n| n > 0)
        })
    }

    fn remember_nonce<'a>(
        &'a self,
        key_id: &'a str,
        nonce: &'a str,
        expires_at_s: i64,
        now_s: i64,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let added = self
                .execute(
                    "INSERT INTO nonces (key_id, nonce, expires_at_s) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[&key_id, &nonce, &expires_at_s],
                )
                .await?
                == 1;
            if added && self.nonces_added.fetch_add(1, Ordering::Relaxed).is_multiple_of(NONCE_SWEEP_EVERY) {
                self.execute("DELETE FROM nonces WHERE expires_at_s < $1", &[&now_s]).await?;
            }
            Ok(added)
        })
    }
}
