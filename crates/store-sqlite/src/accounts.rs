//! The dashboard's accounts on SQLite: members, one-use links, live access,
//! operators, their sessions and the audit log.

use rusqlite::{params, OptionalExtension};
use tambah_domain::{MerchantId, Role, UserId};
use tambah_store::{
    api_key_listing_columns, audit_columns, live_access_columns, merchant_select, operator_columns, ready,
    request_log_columns, rows, user_columns, AccountStore, ApiKeyListing, AuditRow, BoxFuture, LinkPurpose,
    LiveAccessRow, MerchantRow, NewMerchant, OperatorRow, RequestLogRow, Result, UserRow,
};

use crate::merchants::insert_merchant;
use crate::{Cols, SqliteStore};

const KEYS: &str = concat!(
    "SELECT ",
    api_key_listing_columns!(),
    " FROM api_keys WHERE merchant_id = ?1 ORDER BY created_at_ms DESC, key_id"
);
const MEMBERS: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE merchant_id = ?1 ORDER BY username");
const LIVE_ACCESS: &str =
    concat!("SELECT ", live_access_columns!(), " FROM live_access WHERE staging_merchant_id = ?1");
const LIVE_REQUESTS: &str = concat!(
    "SELECT ",
    live_access_columns!(),
    " FROM live_access WHERE live_merchant_id IS NULL ORDER BY requested_at_ms, staging_merchant_id LIMIT 200"
);
const SEARCH: &str = concat!(
    merchant_select!(),
    " WHERE m.account LIKE ?1 ESCAPE '\\' OR m.name LIKE ?1 ESCAPE '\\'
       OR EXISTS (SELECT 1 FROM users u WHERE u.merchant_id = m.id AND u.username LIKE ?1 ESCAPE '\\')
     ORDER BY m.id DESC LIMIT ?2"
);
const OPERATOR_BY_EMAIL: &str = concat!("SELECT ", operator_columns!(), " FROM operators o WHERE o.email = ?1");
const OPERATOR_SESSION: &str = concat!(
    "SELECT ",
    operator_columns!(),
    " FROM operator_sessions s JOIN operators o ON o.id = s.operator_id
     WHERE s.token_hash = ?1 AND s.revoked = 0 AND s.expires_at_ms > ?2"
);
const AUDIT: &str = concat!(
    "SELECT ",
    audit_columns!(),
    " FROM audit_log l JOIN operators o ON o.id = l.operator_id LEFT JOIN merchants m ON m.id = l.merchant_id
     ORDER BY l.id DESC LIMIT ?1"
);

/// A member may go unless it is its merchant's last admin (`?2` is the
/// merchant).
const KEEPS_AN_ADMIN: &str =
    "(role <> 'admin' OR (SELECT COUNT(*) FROM users a WHERE a.merchant_id = ?2 AND a.role = 'admin') > 1)";

/// `text` as a LIKE pattern that matches it anywhere, its wildcards escaped.
fn contains_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

impl SqliteStore {
    fn use_user_link_now(&self, token_hash: &str, purpose: LinkPurpose, now_ms: i64) -> Result<Option<UserRow>> {
        let user_id: Option<i64> = self.write(|tx| {
            tx.query_row(
                "UPDATE user_links SET used_at_ms = ?3
                 WHERE token_hash = ?1 AND purpose = ?2 AND used_at_ms IS NULL AND expires_at_ms > ?3
                 RETURNING user_id",
                params![token_hash, purpose.as_str(), now_ms],
                |r| r.get(0),
            )
            .optional()
        })?;
        let Some(user_id) = user_id else { return Ok(None) };
        const USER: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = ?1");
        self.read(|c| c.prepare_cached(USER)?.query_row([user_id], |r| rows::user(&Cols::new(r))).optional())
    }

    fn approve_live_now(&self, staging: MerchantId, live: &NewMerchant) -> Result<Option<MerchantRow>> {
        let id = self.write(|tx| {
            let open: Option<i64> = tx
                .query_row(
                    "SELECT staging_merchant_id FROM live_access
                     WHERE staging_merchant_id = ?1 AND live_merchant_id IS NULL",
                    [staging.get()],
                    |r| r.get(0),
                )
                .optional()?;
            if open.is_none() {
                return Ok(None);
            }
            let id = insert_merchant(tx, live)?;
            tx.execute(
                "UPDATE live_access SET live_merchant_id = ?2, approved_at_ms = ?3 WHERE staging_merchant_id = ?1",
                params![staging.get(), id, live.created_at_ms],
            )?;
            Ok(Some(id))
        })?;
        match id {
            Some(id) => self.merchant_now(id),
            None => Ok(None),
        }
    }

    fn remove_user_now(&self, merchant_id: MerchantId, user_id: UserId) -> Result<bool> {
        self.write(|tx| {
            // Not the last admin: the whole removal is then nothing.
            let member = format!("SELECT id FROM users WHERE id = ?1 AND merchant_id = ?2 AND {KEEPS_AN_ADMIN}");
            let ids = params![user_id.get(), merchant_id.get()];
            tx.execute(&format!("DELETE FROM tokens WHERE user_id IN ({member})"), ids)?;
            tx.execute(&format!("DELETE FROM user_links WHERE user_id IN ({member})"), ids)?;
            tx.execute(&format!("DELETE FROM user_totp WHERE user_id IN ({member})"), ids)?;
            tx.execute(&format!("DELETE FROM dashboard_sessions WHERE user_id IN ({member})"), ids)?;
            tx.execute(&format!("DELETE FROM users WHERE id IN ({member}) AND {KEEPS_AN_ADMIN}"), ids).map(|n| n > 0)
        })
    }
}

impl AccountStore for SqliteStore {
    fn api_keys_of(&self, merchant_id: MerchantId) -> BoxFuture<'_, Result<Vec<ApiKeyListing>>> {
        ready(self.read(|c| {
            c.prepare_cached(KEYS)?.query_map([merchant_id.get()], |r| rows::api_key_listing(&Cols::new(r)))?.collect()
        }))
    }

    fn members(&self, merchant_id: MerchantId) -> BoxFuture<'_, Result<Vec<UserRow>>> {
        ready(self.read(|c| {
            c.prepare_cached(MEMBERS)?.query_map([merchant_id.get()], |r| rows::user(&Cols::new(r)))?.collect()
        }))
    }

    fn insert_user<'a>(
        &'a self,
        merchant_id: MerchantId,
        username: &'a str,
        password_hash: &'a str,
        role: Role,
    ) -> BoxFuture<'a, Result<UserId>> {
        ready(self.write(|tx| {
            tx.execute(
                "INSERT INTO users (merchant_id, username, password_hash, role) VALUES (?1, ?2, ?3, ?4)",
                params![merchant_id.get(), username, password_hash, role.as_str()],
            )?;
            Ok(UserId::new(tx.last_insert_rowid()))
        }))
    }

    fn remove_user(&self, merchant_id: MerchantId, user_id: UserId) -> BoxFuture<'_, Result<bool>> {
        ready(self.remove_user_now(merchant_id, user_id))
    }

    fn insert_user_link<'a>(
        &'a self,
        token_hash: &'a str,
        user_id: UserId,
        purpose: LinkPurpose,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<()>> {
        ready(self.write(|tx| {
            tx.execute(
                "INSERT INTO user_links (token_hash, user_id, purpose, expires_at_ms, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![token_hash, user_id.get(), purpose.as_str(), expires_at_ms, now_ms],
            )
            .map(|_| ())
        }))
    }

    fn use_user_link<'a>(
        &'a self,
        token_hash: &'a str,
        purpose: LinkPurpose,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<Option<UserRow>>> {
        ready(self.use_user_link_now(token_hash, purpose, now_ms))
    }

    fn pending_user_link<'a>(
        &'a self,
        token_hash: &'a str,
        purpose: LinkPurpose,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<Option<UserRow>>> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = (SELECT user_id FROM user_links
               WHERE token_hash = ?1 AND purpose = ?2 AND used_at_ms IS NULL AND expires_at_ms > ?3)"
        );
        ready(self.read(|c| {
            c.prepare_cached(SQL)?
                .query_row(params![token_hash, purpose.as_str(), now_ms], |r| rows::user(&Cols::new(r)))
                .optional()
        }))
    }

    fn insert_request_log<'a>(&'a self, rows: &'a [RequestLogRow]) -> BoxFuture<'a, Result<()>> {
        ready(self.write(|tx| {
            let mut insert = tx.prepare_cached(concat!(
                "INSERT INTO request_log (",
                request_log_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))?;
            for r in rows {
                insert.execute(params![
                    r.merchant_id.get(),
                    r.at_ms,
                    r.method,
                    r.path,
                    r.status,
                    r.error,
                    r.message,
                    r.request_id,
                    r.client_ip
                ])?;
            }
            Ok(())
        }))
    }

    fn request_log(&self, merchant_id: MerchantId, limit: u32) -> BoxFuture<'_, Result<Vec<RequestLogRow>>> {
        const SQL: &str = concat!(
            "SELECT ",
            request_log_columns!(),
            " FROM request_log WHERE merchant_id = ?1 ORDER BY id DESC LIMIT ?2"
        );
        ready(self.read(|c| {
            c.prepare_cached(SQL)?
                .query_map(params![merchant_id.get(), limit], |r| rows::request_log(&Cols::new(r)))?
                .collect()
        }))
    }

    fn trim_request_log(&self, before_ms: i64, keep_per_merchant: u32) -> BoxFuture<'_, Result<u64>> {
        ready(self.write(|tx| {
            let old = tx.execute("DELETE FROM request_log WHERE at_ms < ?1", [before_ms])?;
            let beyond = tx.execute("DELETE FROM request_log WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY merchant_id ORDER BY id DESC) AS n FROM request_log) t WHERE t.n > ?1)", [keep_per_merchant])?;
            Ok((old + beyond) as u64)
        }))
    }

    fn set_ip_allowlist<'a>(&'a self, merchant_id: MerchantId, allowlist: &'a str) -> BoxFuture<'a, Result<()>> {
        ready(self.write(|tx| {
            tx.execute("UPDATE merchants SET ip_allowlist = ?2 WHERE id = ?1", params![merchant_id.get(), allowlist])
                .map(|_| ())
        }))
    }

    fn insert_dashboard_session<'a>(
        &'a self,
        token_hash: &'a str,
        user_id: UserId,
        two_factor: bool,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<()>> {
        ready(self.write(|tx| {
            tx.execute(
                "INSERT INTO dashboard_sessions (token_hash, user_id, two_factor, expires_at_ms, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![token_hash, user_id.get(), two_factor, expires_at_ms, now_ms],
            )
            .map(|_| ())
        }))
    }

    fn dashboard_session<'a>(
        &'a self,
        token_hash: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<Option<(UserRow, bool)>>> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            ", s.two_factor FROM dashboard_sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.expires_at_ms > ?2"
        );
        ready(self.read(|c| {
            c.prepare_cached(SQL)?
                .query_row(params![token_hash, now_ms], |r| Ok((rows::user(&Cols::new(r))?, r.get::<_, bool>(5)?)))
                .optional()
        }))
    }

    fn pass_dashboard_two_factor<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<bool>> {
        ready(self.write(|tx| {
            tx.execute("UPDATE dashboard_sessions SET two_factor = 1 WHERE token_hash = ?1", [token_hash])
                .map(|n| n > 0)
        }))
    }

    fn end_dashboard_session<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<bool>> {
        ready(self.write(|tx| {
            tx.execute("DELETE FROM dashboard_sessions WHERE token_hash = ?1", [token_hash]).map(|n| n > 0)
        }))
    }

    fn end_user_dashboard_sessions(&self, user_id: UserId) -> BoxFuture<'_, Result<()>> {
        ready(
            self.write(|tx| {
                tx.execute("DELETE FROM dashboard_sessions WHERE user_id = ?1", [user_id.get()]).map(|_| ())
            }),
        )
    }

    fn spend_user_links(&self, user_id: UserId, now_ms: i64) -> BoxFuture<'_, Result<()>> {
        ready(self.write(|tx| {
            tx.execute(
                "UPDATE user_links SET used_at_ms = ?2 WHERE user_id = ?1 AND used_at_ms IS NULL",
                params![user_id.get(), now_ms],
            )
            .map(|_| ())
        }))
    }

    fn user_totp(&self, user_id: UserId) -> BoxFuture<'_, Result<Option<Vec<u8>>>> {
        ready(self.read(|c| {
            c.prepare_cached("SELECT secret_sealed FROM user_totp WHERE user_id = ?1")?
                .query_row([user_id.get()], |r| r.get(0))
                .optional()
        }))
    }

    fn set_user_totp<'a>(
        &'a self,
        user_id: UserId,
        sealed: Option<&'a [u8]>,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<()>> {
        ready(self.write(|tx| {
            tx.execute("DELETE FROM user_totp WHERE user_id = ?1", [user_id.get()])?;
            if let Some(sealed) = sealed {
                tx.execute(
                    "INSERT INTO user_totp (user_id, secret_sealed, created_at_ms) VALUES (?1, ?2, ?3)",
                    params![user_id.get(), sealed, now_ms],
                )?;
            }
            Ok(())
        }))
    }

    fn use_user_totp_step(&self, user_id: UserId, step: i64) -> BoxFuture<'_, Result<bool>> {
        ready(self.write(|tx| {
            tx.execute(
                "UPDATE user_totp SET last_step = ?2 WHERE user_id = ?1 AND last_step < ?2",
                params![user_id.get(), step],
            )
            .map(|n| n > 0)
        }))
    }

    fn request_live(&self, staging: MerchantId, now_ms: i64) -> BoxFuture<'_, Result<bool>> {
        ready(self.write(|tx| {
            tx.execute(
                "INSERT INTO live_access (staging_merchant_id, requested_at_ms) VALUES (?1, ?2)
                 ON CONFLICT (staging_merchant_id) DO NOTHING",
                params![staging.get(), now_ms],
            )
            .map(|n| n > 0)
        }))
    }

    fn live_access(&self, staging: MerchantId) -> BoxFuture<'_, Result<Option<LiveAccessRow>>> {
        ready(self.read(|c| {
            c.prepare_cached(LIVE_ACCESS)?.query_row([staging.get()], |r| rows::live_access(&Cols::new(r))).optional()
        }))
    }

    fn live_requests(&self) -> BoxFuture<'_, Result<Vec<LiveAccessRow>>> {
        ready(
            self.read(|c| {
                c.prepare_cached(LIVE_REQUESTS)?.query_map([], |r| rows::live_access(&Cols::new(r)))?.collect()
            }),
        )
    }

    fn approve_live<'a>(
        &'a self,
        staging: MerchantId,
        live: &'a NewMerchant,
    ) -> BoxFuture<'a, Result<Option<MerchantRow>>> {
        ready(self.approve_live_now(staging, live))
    }

    fn search_merchants<'a>(&'a self, text: &'a str, limit: u32) -> BoxFuture<'a, Result<Vec<MerchantRow>>> {
        ready(self.read(|c| {
            c.prepare_cached(SEARCH)?
                .query_map(params![contains_pattern(text), limit], |r| rows::merchant(&Cols::new(r)))?
                .collect()
        }))
    }

    fn insert_operator<'a>(
        &'a self,
        email: &'a str,
        password_hash: &'a str,
        totp_sealed: &'a [u8],
        now_ms: i64,
    ) -> BoxFuture<'a, Result<i64>> {
        ready(self.write(|tx| {
            tx.execute(
                "INSERT INTO operators (email, password_hash, totp_sealed, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
                params![email, password_hash, totp_sealed, now_ms],
            )?;
            Ok(tx.last_insert_rowid())
        }))
    }

    fn operator_by_email<'a>(&'a self, email: &'a str) -> BoxFuture<'a, Result<Option<OperatorRow>>> {
        ready(self.read(|c| {
            c.prepare_cached(OPERATOR_BY_EMAIL)?.query_row([email], |r| rows::operator(&Cols::new(r))).optional()
        }))
    }

    fn insert_operator_session<'a>(
        &'a self,
        token_hash: &'a str,
        operator_id: i64,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<()>> {
        ready(self.write(|tx| {
            tx.execute(
                "INSERT INTO operator_sessions (token_hash, operator_id, expires_at_ms, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4)",
                params![token_hash, operator_id, expires_at_ms, now_ms],
            )
            .map(|_| ())
        }))
    }

    fn operator_session<'a>(&'a self, token_hash: &'a str, now_ms: i64) -> BoxFuture<'a, Result<Option<OperatorRow>>> {
        ready(self.read(|c| {
            c.prepare_cached(OPERATOR_SESSION)?
                .query_row(params![token_hash, now_ms], |r| rows::operator(&Cols::new(r)))
                .optional()
        }))
    }

    fn use_totp_step(&self, operator_id: i64, step: i64) -> BoxFuture<'_, Result<bool>> {
        ready(self.write(|tx| {
            tx.execute(
                "UPDATE operators SET totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2",
                params![operator_id, step],
            )
            .map(|n| n > 0)
        }))
    }

    fn revoke_operator_session<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<bool>> {
        ready(self.write(|tx| {
            tx.execute("UPDATE operator_sessions SET revoked = 1 WHERE token_hash = ?1", [token_hash]).map(|n| n > 0)
        }))
    }

    fn record_audit<'a>(
        &'a self,
        operator_id: i64,
        action: &'a str,
        merchant_id: Option<MerchantId>,
        detail: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<()>> {
        ready(self.write(|tx| {
            tx.execute(
                "INSERT INTO audit_log (operator_id, action, merchant_id, detail, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![operator_id, action, merchant_id.map(MerchantId::get), detail, now_ms],
            )
            .map(|_| ())
        }))
    }

    fn audit_log(&self, limit: u32) -> BoxFuture<'_, Result<Vec<AuditRow>>> {
        ready(self.read(|c| c.prepare_cached(AUDIT)?.query_map([limit], |r| rows::audit(&Cols::new(r)))?.collect()))
    }
}
