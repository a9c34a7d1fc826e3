//! The dashboard's accounts on PostgreSQL: members, one-use links, live
//! access, operators, their sessions and the audit log. Every write is one
//! statement, so it is atomic on a shared connection.

use tambah_domain::{MerchantId, Role, UserId};
use tambah_store::{
    api_key_listing_columns, audit_columns, live_access_columns, merchant_select, operator_columns,
    request_log_columns, rows, user_columns, AccountStore, ApiKeyListing, AuditRow, BoxFuture, LinkPurpose,
    LiveAccessRow, MerchantRow, MerchantStore, NewMerchant, OperatorRow, RequestLogRow, Result, UserRow,
};

use crate::{all, maybe, PgStore};

/// `text` as a LIKE pattern that matches it anywhere, its wildcards escaped.
fn contains_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

impl AccountStore for PgStore {
    fn api_keys_of(&self, merchant_id: MerchantId) -> BoxFuture<'_, Result<Vec<ApiKeyListing>>> {
        Box::pin(async move {
            const SQL: &str = concat!(
                "SELECT ",
                api_key_listing_columns!(),
                " FROM api_keys WHERE merchant_id = $1 ORDER BY created_at_ms DESC, key_id"
            );
            all(&self.query(SQL, &[&merchant_id.get()]).await?, rows::api_key_listing)
        })
    }

    fn members(&self, merchant_id: MerchantId) -> BoxFuture<'_, Result<Vec<UserRow>>> {
        Box::pin(async move {
            const SQL: &str =
                concat!("SELECT ", user_columns!(), " FROM users WHERE merchant_id = $1 ORDER BY username");
            all(&self.query(SQL, &[&merchant_id.get()]).await?, rows::user)
        })
    }

    fn insert_user<'a>(
        &'a self,
        merchant_id: MerchantId,
        username: &'a str,
        password_hash: &'a str,
        role: Role,
    ) -> BoxFuture<'a, Result<UserId>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "INSERT INTO users (merchant_id, username, password_hash, role) VALUES ($1, $2, $3, $4) RETURNING id",
                    &[&merchant_id.get(), &username, &password_hash, &role.as_str()],
                )
                .await?;
            let id: i64 = row.map(|r| r.get(0)).unwrap_or_default();
            Ok(UserId::new(id))
        })
    }

    fn remove_user(&self, merchant_id: MerchantId, user_id: UserId) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            // The foreign keys are checked at the end of the statement, after
            // the tokens and links are gone.
            let n = self
                .execute(
                    // Not the merchant's last admin: the whole removal is then nothing.
                    "WITH u AS (SELECT id FROM users WHERE id = $1 AND merchant_id = $2
                                AND (role <> 'admin'
                                     OR (SELECT COUNT(*) FROM users a WHERE a.merchant_id = $2 AND a.role = 'admin') > 1)),
                          t AS (DELETE FROM tokens WHERE user_id IN (SELECT id FROM u)),
                          l AS (DELETE FROM user_links WHERE user_id IN (SELECT id FROM u)),
                          z AS (DELETE FROM user_totp WHERE user_id IN (SELECT id FROM u)),
                          d AS (DELETE FROM dashboard_sessions WHERE user_id IN (SELECT id FROM u))
                     DELETE FROM users WHERE id IN (SELECT id FROM u)",
                    &[&user_id.get(), &merchant_id.get()],
                )
                .await?;
            Ok(n > 0)
        })
    }

    fn insert_user_link<'a>(
        &'a self,
        token_hash: &'a str,
        user_id: UserId,
        purpose: LinkPurpose,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.execute(
                "INSERT INTO user_links (token_hash, user_id, purpose, expires_at_ms, created_at_ms)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&token_hash, &user_id.get(), &purpose.as_str(), &expires_at_ms, &now_ms],
            )
            .await
            .map(|_| ())
        })
    }

    fn use_user_link<'a>(
        &'a self,
        token_hash: &'a str,
        purpose: LinkPurpose,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<Option<UserRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(
                "WITH l AS (UPDATE user_links SET used_at_ms = $3
                            WHERE token_hash = $1 AND purpose = $2 AND used_at_ms IS NULL AND expires_at_ms > $3
                            RETURNING user_id)
                 SELECT ",
                user_columns!(),
                " FROM users WHERE id IN (SELECT user_id FROM l)"
            );
            maybe(self.query_opt(SQL, &[&token_hash, &purpose.as_str(), &now_ms]).await?.as_ref(), rows::user)
        })
    }

    fn pending_user_link<'a>(
        &'a self,
        token_hash: &'a str,
        purpose: LinkPurpose,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<Option<UserRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE id = (SELECT user_id FROM user_links
                   WHERE token_hash = $1 AND purpose = $2 AND used_at_ms IS NULL AND expires_at_ms > $3)"
            );
            maybe(self.query_opt(SQL, &[&token_hash, &purpose.as_str(), &now_ms]).await?.as_ref(), rows::user)
        })
    }

    fn insert_request_log<'a>(&'a self, rows: &'a [RequestLogRow]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            // One statement for the batch: arrays of each column, unnested.
            let ints = |f: fn(&RequestLogRow) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
            let texts = |f: fn(&RequestLogRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
            let merchants = ints(|r| r.merchant_id.get());
            let ats = ints(|r| r.at_ms);
            let statuses = ints(|r| i64::from(r.status));
            let methods = texts(|r| &r.method);
            let paths = texts(|r| &r.path);
            let errors = texts(|r| &r.error);
            let messages = texts(|r| &r.message);
            let ids = texts(|r| &r.request_id);
            let ips = texts(|r| &r.client_ip);
            self.execute(
                concat!(
                    "INSERT INTO request_log (",
                    request_log_columns!(),
                    ") SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], \
                     $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[])"
                ),
                &[&merchants, &ats, &methods, &paths, &statuses, &errors, &messages, &ids, &ips],
            )
            .await
            .map(|_| ())
        })
    }

    fn request_log(&self, merchant_id: MerchantId, limit: u32) -> BoxFuture<'_, Result<Vec<RequestLogRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(
                "SELECT ",
                request_log_columns!(),
                " FROM request_log WHERE merchant_id = $1 ORDER BY id DESC LIMIT $2"
            );
            all(&self.query(SQL, &[&merchant_id.get(), &i64::from(limit)]).await?, rows::request_log)
        })
    }

    fn trim_request_log(&self, before_ms: i64, keep_per_merchant: u32) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            let old = self.execute("DELETE FROM request_log WHERE at_ms < $1", &[&before_ms]).await?;
            let beyond = self.execute("DELETE FROM request_log WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY merchant_id ORDER BY id DESC) AS n FROM request_log) t WHERE t.n > $1)", &[&i64::from(keep_per_merchant)]).await?;
            Ok(old + beyond)
        })
    }

    fn set_ip_allowlist<'a>(&'a self, merchant_id: MerchantId, allowlist: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.execute("UPDATE merchants SET ip_allowlist = $2 WHERE id = $1", &[&merchant_id.get(), &allowlist])
                .await
                .map(|_| ())
        })
    }

    fn insert_dashboard_session<'a>(
        &'a self,
        token_hash: &'a str,
        user_id: UserId,
        two_factor: bool,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.execute(
                "INSERT INTO dashboard_sessions (token_hash, user_id, two_factor, expires_at_ms, created_at_ms)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&token_hash, &user_id.get(), &two_factor, &expires_at_ms, &now_ms],
            )
            .await
            .map(|_| ())
        })
    }

    fn dashboard_session<'a>(
        &'a self,
        token_hash: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<Option<(UserRow, bool)>>> {
        Box::pin(async move {
            const SQL: &str = concat!(
                "SELECT ",
                user_columns!(),
                ", s.two_factor FROM dashboard_sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = $1 AND s.expires_at_ms > $2"
            );
            let row = self.query_opt(SQL, &[&token_hash, &now_ms]).await?;
            match row {
                Some(r) => {
                    let user = maybe(Some(&r), rows::user)?.expect("a row maps to a user");
                    Ok(Some((user, r.get::<_, bool>(5))))
                }
                None => Ok(None),
            }
        })
    }

    fn pass_dashboard_two_factor<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            Ok(self
                .execute("UPDATE dashboard_sessions SET two_factor = true WHERE token_hash = $1", &[&token_hash])
                .await?
                > 0)
        })
    }

    fn end_dashboard_session<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            Ok(self.execute("DELETE FROM dashboard_sessions WHERE token_hash = $1", &[&token_hash]).await? > 0)
        })
    }

    fn end_user_dashboard_sessions(&self, user_id: UserId) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.execute("DELETE FROM dashboard_sessions WHERE user_id = $1", &[&user_id.get()]).await.map(|_| ())
        })
    }

    fn spend_user_links(&self, user_id: UserId, now_ms: i64) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.execute(
                "UPDATE user_links SET used_at_ms = $2 WHERE user_id = $1 AND used_at_ms IS NULL",
                &[&user_id.get(), &now_ms],
            )
            .await
            .map(|_| ())
        })
    }

    fn user_totp(&self, user_id: UserId) -> BoxFuture<'_, Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            let row =
                self.query_opt("SELECT secret_sealed FROM user_totp WHERE user_id = $1", &[&user_id.get()]).await?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn set_user_totp<'a>(
        &'a self,
        user_id: UserId,
        sealed: Option<&'a [u8]>,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            // One statement: the old secret goes and the new one (if any)
            // comes at once.
            self.execute(
                "WITH d AS (DELETE FROM user_totp WHERE user_id = $1)
                 INSERT INTO user_totp (user_id, secret_sealed, created_at_ms)
                 SELECT $1, $2::bytea, $3 WHERE $2::bytea IS NOT NULL
                 ON CONFLICT (user_id) DO UPDATE SET secret_sealed = EXCLUDED.secret_sealed, last_step = 0,
                     created_at_ms = EXCLUDED.created_at_ms",
                &[&user_id.get(), &sealed, &now_ms],
            )
            .await
            .map(|_| ())
        })
    }

    fn use_user_totp_step(&self, user_id: UserId, step: i64) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            let n = self
                .execute(
                    "UPDATE user_totp SET last_step = $2 WHERE user_id = $1 AND last_step < $2",
                    &[&user_id.get(), &step],
                )
                .await?;
            Ok(n > 0)
        })
    }

    fn request_live(&self, staging: MerchantId, now_ms: i64) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            let n = self
                .execute(
                    "INSERT INTO live_access (staging_merchant_id, requested_at_ms) VALUES ($1, $2)
                     ON CONFLICT (staging_merchant_id) DO NOTHING",
                    &[&staging.get(), &now_ms],
                )
                .await?;
            Ok(n > 0)
        })
    }

    fn live_access(&self, staging: MerchantId) -> BoxFuture<'_, Result<Option<LiveAccessRow>>> {
        Box::pin(async move {
            const SQL: &str =
                concat!("SELECT ", live_access_columns!(), " FROM live_access WHERE staging_merchant_id = $1");
            maybe(self.query_opt(SQL, &[&staging.get()]).await?.as_ref(), rows::live_access)
        })
    }

    fn live_requests(&self) -> BoxFuture<'_, Result<Vec<LiveAccessRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(
                "SELECT ",
                live_access_columns!(),
                " FROM live_access WHERE live_merchant_id IS NULL ORDER BY requested_at_ms, staging_merchant_id LIMIT 200"
            );
            all(&self.query(SQL, &[]).await?, rows::live_access)
        })
    }

    fn approve_live<'a>(
        &'a self,
        staging: MerchantId,
        live: &'a NewMerchant,
    ) -> BoxFuture<'a, Result<Option<MerchantRow>>> {
        Box::pin(async move {
            // The open request is locked first: a second approval waits, then
            // finds it approved and inserts nothing.
            let row = self
                .query_opt(
                    "WITH r AS (SELECT staging_merchant_id FROM live_access
                                WHERE staging_merchant_id = $6 AND live_merchant_id IS NULL FOR UPDATE),
                          n AS (SELECT nextval('merchants_id_seq') AS id FROM r),
                          m AS (INSERT INTO merchants (id, account, name, environment, level, api_version, created_at_ms)
                                SELECT id, (10000 + id)::text, $1, $2, $3, $4, $5 FROM n RETURNING id),
                          w AS (INSERT INTO ledger_accounts (kind, environment, merchant_id)
                                SELECT 'wallet', $2, id FROM m),
                          a AS (UPDATE live_access SET live_merchant_id = (SELECT id FROM m), approved_at_ms = $5
                                WHERE staging_merchant_id IN (SELECT staging_merchant_id FROM r))
                     SELECT id FROM m",
                    &[
                        &live.name,
                        &live.environment.as_str(),
                        &live.level,
                        &live.api_version,
                        &live.created_at_ms,
                        &staging.get(),
                    ],
                )
                .await?;
            match row {
                Some(r) => self.merchant(MerchantId::new(r.get(0))).await,
                None => Ok(None),
            }
        })
    }

    fn search_merchants<'a>(&'a self, text: &'a str, limit: u32) -> BoxFuture<'a, Result<Vec<MerchantRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(
                merchant_select!(),
                " WHERE m.account ILIKE $1 OR m.name ILIKE $1
                   OR EXISTS (SELECT 1 FROM users u WHERE u.merchant_id = m.id AND u.username ILIKE $1)
                 ORDER BY m.id DESC LIMIT $2"
            );
            all(&self.query(SQL, &[&contains_pattern(text), &i64::from(limit)]).await?, rows::merchant)
        })
    }

    fn insert_operator<'a>(
        &'a self,
        email: &'a str,
        password_hash: &'a str,
        totp_sealed: &'a [u8],
        now_ms: i64,
    ) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "INSERT INTO operators (email, password_hash, totp_sealed, created_at_ms)
                     VALUES ($1, $2, $3, $4) RETURNING id",
                    &[&email, &password_hash, &totp_sealed, &now_ms],
                )
                .await?;
            Ok(row.map(|r| r.get(0)).unwrap_or_default())
        })
    }

    fn operator_by_email<'a>(&'a self, email: &'a str) -> BoxFuture<'a, Result<Option<OperatorRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!("SELECT ", operator_columns!(), " FROM operators o WHERE o.email = $1");
            maybe(self.query_opt(SQL, &[&email]).await?.as_ref(), rows::operator)
        })
    }

    fn insert_operator_session<'a>(
        &'a self,
        token_hash: &'a str,
        operator_id: i64,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.execute(
                "INSERT INTO operator_sessions (token_hash, operator_id, expires_at_ms, created_at_ms)
                 VALUES ($1, $2, $3, $4)",
                &[&token_hash, &operator_id, &expires_at_ms, &now_ms],
            )
            .await
            .map(|_| ())
        })
    }

    fn operator_session<'a>(&'a self, token_hash: &'a str, now_ms: i64) -> BoxFuture<'a, Result<Option<OperatorRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(
                "SELECT ",
                operator_columns!(),
                " FROM operator_sessions s JOIN operators o ON o.id = s.operator_id
                 WHERE s.token_hash = $1 AND NOT s.revoked AND s.expires_at_ms > $2"
            );
            maybe(self.query_opt(SQL, &[&token_hash, &now_ms]).await?.as_ref(), rows::operator)
        })
    }

    fn use_totp_step(&self, operator_id: i64, step: i64) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            let n = self
                .execute(
                    "UPDATE operators SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
                    &[&operator_id, &step],
                )
                .await?;
            Ok(n > 0)
        })
    }

    fn revoke_operator_session<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            Ok(self
                .execute("UPDATE operator_sessions SET revoked = true WHERE token_hash = $1", &[&token_hash])
                .await?
                > 0)
        })
    }

    fn record_audit<'a>(
        &'a self,
        operator_id: i64,
        action: &'a str,
        merchant_id: Option<MerchantId>,
        detail: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.execute(
                "INSERT INTO audit_log (operator_id, action, merchant_id, detail, created_at_ms)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&operator_id, &action, &merchant_id.map(MerchantId::get), &detail, &now_ms],
            )
            .await
            .map(|_| ())
        })
    }

    fn audit_log(&self, limit: u32) -> BoxFuture<'_, Result<Vec<AuditRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_log l JOIN operators o ON o.id = l.operator_id LEFT JOIN merchants m ON m.id = l.merchant_id
                 ORDER BY l.id DESC LIMIT $1"
            );
            all(&self.query(SQL, &[&i64::from(limit)]).await?, rows::audit)
        })
    }
}
