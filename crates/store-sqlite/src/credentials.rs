//! Credentials on SQLite: API keys, users and tokens (each alone, and with
//! its merchant in one look-up for the hot path of every request), and
//! signature nonces (`nonces.rs`).

use rusqlite::{params, OptionalExtension};
use tambah_domain::{Role, UserId};
use tambah_store::{
    api_key_columns, merchant_columns, ready, rows, token_columns, user_columns, ApiKeyRow, BoxFuture, CredentialStore,
    MerchantRow, Result, TokenRow, UserRow,
};

use crate::{Cols, SqliteStore};

const API_KEY: &str = concat!("SELECT ", api_key_columns!(), " FROM api_keys WHERE key_id = ?1");
const USER_BY_USERNAME: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE username = ?1");
const USER_BY_ID: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = ?1");
const TOKEN: &str = concat!("SELECT ", token_columns!(), " FROM tokens WHERE token_hash = ?1");

/// The merchant's columns, then the key's (`rows::api_key` from column 15).
const API_KEY_WITH_MERCHANT: &str = concat!(
    "SELECT ",
    merchant_columns!(),
    ", k.key_id, k.merchant_id, k.secret_sealed, k.revoked
     FROM api_keys k JOIN merchants m ON m.id = k.merchant_id JOIN ledger_accounts a ON a.merchant_id = m.id
     WHERE k.key_id = ?1"
);

/// The merchant's columns, then the token's (`rows::token` from column 16),
/// then its user's role.
const TOKEN_WITH_MERCHANT: &str = concat!(
    "SELECT ",
    merchant_columns!(),
    ", t.token_hash, t.kind, t.merchant_id, t.user_id, t.expires_at_ms, t.revoked,
       (SELECT u.role FROM users u WHERE u.id = t.user_id)
     FROM tokens t JOIN merchants m ON m.id = t.merchant_id JOIN ledger_accounts a ON a.merchant_id = m.id
     WHERE t.token_hash = ?1"
);

/// Where the second store row starts in the joined look-ups above.
const AFTER_MERCHANT: usize = rows::MERCHANT_COLUMN_COUNT;

impl SqliteStore {
    fn user_where(&self, sql: &str, key: &dyn rusqlite::ToSql) -> Result<Option<UserRow>> {
        self.read(|c| c.prepare_cached(sql)?.query_row([key], |r| rows::user(&Cols::new(r))).optional())
    }
}

impl CredentialStore for SqliteStore {
    fn change_epoch(&self) -> BoxFuture<'_, Result<i64>> {
        ready(self.read(|c| c.prepare_cached("SELECT n FROM cache_epoch WHERE id = 1")?.query_row([], |r| r.get(0))))
    }

    fn insert_api_key<'a>(&'a self, key: &'a ApiKeyRow, created_at_ms: i64) -> BoxFuture<'a, Result<()>> {
        ready(self.write(|tx| {
            tx.execute(
                "INSERT INTO api_keys (key_id, merchant_id, secret_sealed, revoked, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key.key_id, key.merchant_id.get(), key.secret_sealed, key.revoked, created_at_ms],
            )
            .map(|_| ())
        }))
    }

    fn api_key<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<Option<ApiKeyRow>>> {
        ready(
            self.read(|c| c.prepare_cached(API_KEY)?.query_row([key_id], |r| rows::api_key(&Cols::new(r))).optional()),
        )
    }

    fn revoke_api_key<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<bool>> {
        ready(self.write(|tx| tx.execute("UPDATE api_keys SET revoked = 1 WHERE key_id = ?1", [key_id]).map(|n| n > 0)))
    }

    fn api_key_with_merchant<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<Option<(ApiKeyRow, MerchantRow)>>> {
        ready(self.read(|c| {
            c.prepare_cached(API_KEY_WITH_MERCHANT)?
                .query_row([key_id], |r| {
                    Ok((rows::api_key(&Cols::at(r, AFTER_MERCHANT))?, rows::merchant(&Cols::new(r))?))
                })
                .optional()
        }))
    }

    fn user_by_username<'a>(&'a self, username: &'a str) -> BoxFuture<'a, Result<Option<UserRow>>> {
        ready(self.user_where(USER_BY_USERNAME, &username))
    }

    fn user(&self, user_id: UserId) -> BoxFuture<'_, Result<Option<UserRow>>> {
        ready(self.user_where(USER_BY_ID, &user_id.get()))
    }

    fn set_password_hash<'a>(&'a self, user_id: UserId, password_hash: &'a str) -> BoxFuture<'a, Result<()>> {
        ready(self.write(|tx| {
            tx.execute("UPDATE users SET password_hash = ?1 WHERE id = ?2", params![password_hash, user_id.get()])
                .map(|_| ())
        }))
    }

    fn insert_token<'a>(&'a self, t: &'a TokenRow, created_at_ms: i64) -> BoxFuture<'a, Result<()>> {
        ready(self.write(|tx| {
            tx.execute(
                "INSERT INTO tokens (token_hash, kind, merchant_id, user_id, expires_at_ms, revoked, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    t.token_hash,
                    t.kind.as_str(),
                    t.merchant_id.get(),
                    t.user_id.get(),
                    t.expires_at_ms,
                    t.revoked,
                    created_at_ms
                ],
            )
            .map(|_| ())
        }))
    }

    fn token<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<Option<TokenRow>>> {
        ready(
            self.read(|c| c.prepare_cached(TOKEN)?.query_row([token_hash], |r| rows::token(&Cols::new(r))).optional()),
        )
    }

    fn token_with_merchant<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<(TokenRow, MerchantRow, Role)>>> {
        ready(self.read(|c| {
            c.prepare_cached(TOKEN_WITH_MERCHANT)?
                .query_row([token_hash], |r| {
                    let role = rows::role(&Cols::new(r), AFTER_MERCHANT + 6)?;
                    Ok((rows::token(&Cols::at(r, AFTER_MERCHANT))?, rows::merchant(&Cols::new(r))?, role))
                })
                .optional()
        }))
    }

    fn revoke_user_tokens(&self, user_id: UserId) -> BoxFuture<'_, Result<()>> {
        let user_id = user_id.get();
        ready(self.write(|tx| tx.execute("UPDATE tokens SET revoked = 1 WHERE user_id = ?1", [user_id]).map(|_| ())))
    }

    fn revoke_token<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<bool>> {
        ready(
            self.write(|tx| {
                tx.execute("UPDATE tokens SET revoked = 1 WHERE token_hash = ?1", [token_hash]).map(|n| n > 0)
            }),
        )
    }

    fn remember_nonce<'a>(
        &'a self,
        key_id: &'a str,
        nonce: &'a str,
        expires_at_s: i64,
        now_s: i64,
    ) -> BoxFuture<'a, Result<bool>> {
        ready(self.nonces.first_use(key_id, nonce, expires_at_s, now_s))
    }
}
