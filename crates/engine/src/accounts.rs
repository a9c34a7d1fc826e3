//! The dashboard's accounts, merchant side: self-serve staging sign-up,
//! members and their roles, invitations, API keys as a member manages them,
//! and the request for live access. The role rules are `Role::may`; every
//! use case here checks them, so no edge can forget.

use tambah_domain::{Capability, Environment, MerchantId, Role, UserId};
use tambah_store::{ApiKeyListing, LinkPurpose, LiveAccessRow, MerchantRow, NewMerchant, StoreError, UserRow};

use crate::auth::{AuthError, AuthMethod, Caller};
use crate::credentials::{new_token, token_hash};
use crate::merchants::{check_name, is_email, AdminError, DEFAULT_API_VERSION, DEFAULT_LEVEL};
use crate::operators::Authenticator;
use crate::Engine;

/// How long an invitation link stays valid.
pub const INVITE_TTL_MS: i64 = 7 * 86_400_000;
/// How long a password reset link stays valid.
pub const RESET_TTL_MS: i64 = 3_600_000;
/// How long a dashboard session lasts.
pub const SESSION_TTL_MS: i64 = 12 * 3_600_000;

/// A dashboard session's token (for its cookie) and lifetime.
#[derive(Clone, Debug)]
pub struct DashboardSession {
    pub token: String,
    pub expires_in_s: i64,
}
/// A password hash that matches no password: an invited member who has not
/// chosen one yet cannot sign in.
const NO_PASSWORD: &str = "!";

/// A signed-in member, and the merchant account it is acting on: its own
/// (staging, or live when it was created live) or the live account linked
/// to its staging one.
#[derive(Clone, Debug)]
pub struct Member {
    pub user: UserRow,
    /// The member's own merchant, where its membership and role live.
    pub home: MerchantRow,
    /// The account the member is looking at.
    pub merchant: MerchantRow,
    /// The member's staging account has a live one linked to it.
    pub live_available: bool,
    /// This session's member gave a two-factor code (at log-in, or by
    /// setting it up in this session).
    pub two_factor: bool,
    /// The session's token hash (to record a code given in it).
    pub session: String,
}

impl Member {
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// The member may change the account's settings: its role and second
    /// factor, then the API's own rules (suspension, read-only,
    /// require-API-key), as a token of its role would meet them.
    pub fn may_change(&self) -> Result<(), AdminError> {
        self.must(Capability::Settings)?;
        self.caller().may(crate::auth::SettingAccess::Change).map_err(|m| AdminError::Forbidden(m.into()))
    }

    /// The member as an API caller on the account it is looking at (a
    /// token of its role), for the rules the API and the dashboard share.
    pub fn caller(&self) -> Caller {
        Caller {
            merchant: self.merchant.clone(),
            via: AuthMethod::Token { user_id: self.user.id, role: self.user.role },
        }
    }

    /// Refuses what the member's role does not allow. On the dashboard,
    /// keys, settings and secrets also need two-factor sign-in set up.
    pub fn must(&self, capability: Capability) -> Result<(), AdminError> {
        if self.user.role.may(capability) {
            if matches!(capability, Capability::Settings | Capability::Members) && !self.two_factor {
                return Err(AdminError::Forbidden(
                    "API keys, settings and members need two-factor sign-in: set it up on Your account \
                     (or log in again with your code) first"
                        .into(),
                ));
            }
            return Ok(());
        }
        let what = match capability {
            Capability::Read => "read",
            Capability::Order => "place orders",
            Capability::Settings => "manage API keys and settings",
            Capability::Members => "manage members",
        };
        Err(AdminError::Forbidden(format!("a member with the {} role cannot {what}", self.user.role.as_str())))
    }
}

/// What a self-serve sign-up gives.
#[derive(Clone, Debug)]
pub struct SignUp {
    pub company: String,
    pub email: String,
    pub password: String,
}

fn check_email(email: &str) -> Result<(), AdminError> {
    if email.len() > 64 || !is_email(email) {
        return Err(AdminError::Invalid(format!("{email:?} is not an e-mail address (at most 64 characters)")));
    }
    Ok(())
}

impl Engine {
    /// The member behind a dashboard session (never an API token), acting
    /// on its own account or, with `live`, on the live account linked to
    /// its staging one.
    pub async fn member(&self, session_token: &str, live: bool) -> Result<Member, AdminError> {
        let session = token_hash(session_token);
        let found = self.store().dashboard_session(&session, self.now_ms()).await?;
        let (user, two_factor) = found.ok_or_else(|| AdminError::NotFound("no such session".into()))?;
        let home = self.merchant_by_id(user.merchant_id).await?;
        if home.suspended {
            return Err(AdminError::Forbidden("the account is suspended: ask the operator".into()));
        }
        if !self.env_allowed(home.environment) {
            return Err(AdminError::NotFound("no such session".into()));
        }
        let linked = self.linked_live(&home).await?;
        let live_available = linked.is_some();
        let merchant = match linked {
            Some(live_merchant) if live => live_merchant,
            _ => home.clone(),
        };
        Ok(Member { user, home, merchant, live_available, two_factor, session })
    }

    /// A new dashboard session of a member.
    async fn start_session(&self, user_id: UserId, two_factor: bool) -> Result<DashboardSession, AdminError> {
        let (token, hash) = new_token("tbh_ds_");
        let now = self.now_ms();
        self.store().insert_dashboard_session(&hash, user_id, two_factor, now + SESSION_TTL_MS, now).await?;
        Ok(DashboardSession { token, expires_in_s: SESSION_TTL_MS / 1000 })
    }

    /// Ends a dashboard session on every node.
    pub async fn dashboard_logout(&self, session_token: &str) -> Result<(), AdminError> {
        self.store().end_dashboard_session(&token_hash(session_token)).await?;
        Ok(())
    }

    /// The live account approved for a staging merchant, if any (and if
    /// this node serves live accounts).
    pub async fn linked_live(&self, staging: &MerchantRow) -> Result<Option<MerchantRow>, AdminError> {
        if staging.environment != Environment::Staging || !self.env_allowed(Environment::Live) {
            return Ok(None);
        }
        let Some(access) = self.store().live_access(staging.id).await? else { return Ok(None) };
        match access.live_merchant_id {
            Some(id) => Ok(self.store().merchant(id).await?),
            None => Ok(None),
        }
    }

    /// Self-serve sign-up: a staging merchant with its first member, an
    /// admin, signed in at once. Refused when this node does not serve
    /// staging or the operator turned sign-up off.
    pub async fn sign_up(&self, form: &SignUp) -> Result<DashboardSession, AdminError> {
        if !self.config().signup || !self.env_allowed(Environment::Staging) {
            return Err(AdminError::Forbidden("sign-up is closed on this server: ask the operator".into()));
        }
        let company = form.company.trim();
        check_name(company)?;
        let email = form.email.trim().to_ascii_lowercase();
        check_email(&email)?;
        crate::auth::check_password_rules(&form.password).map_err(AdminError::Invalid)?;
        let hash = self.passwords.hash(form.password.clone()).await.map_err(|_| AdminError::Busy)?;
        let new = NewMerchant {
            name: company.to_owned(),
            environment: Environment::Staging,
            level: DEFAULT_LEVEL.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            username: email.clone(),
            password_hash: hash,
            created_at_ms: self.now_ms(),
        };
        self.store().create_merchant(&new).await.map_err(|e| match e {
            StoreError::Unique(_) => AdminError::Invalid(format!("{email} already has an account: sign in instead")),
            e => e.into(),
        })?;
        let user = self.store().user_by_username(&email).await?;
        let user = user.ok_or_else(|| AdminError::Store("the new member vanished".into()))?;
        self.start_session(user.id, false).await
    }

    /// The API keys of the account the member is looking at, never their
    /// secrets.
    pub async fn member_keys(&self, m: &Member) -> Result<Vec<ApiKeyListing>, AdminError> {
        m.must(Capability::Settings)?;
        Ok(self.store().api_keys_of(m.merchant.id).await?)
    }

    /// A new API key; its secret is returned now and never again.
    pub async fn member_create_key(&self, m: &Member) -> Result<(String, String), AdminError> {
        m.must(Capability::Settings)?;
        if m.merchant.suspended {
            return Err(AdminError::Forbidden("the account is suspended: no new keys".into()));
        }
        self.create_api_key(&m.merchant).await
    }

    /// Revokes one of the account's keys (another account's key is not
    /// found, the same answer as a key that does not exist).
    pub async fn member_revoke_key(&self, m: &Member, key_id: &str) -> Result<bool, AdminError> {
        m.must(Capability::Settings)?;
        match self.store().api_key(key_id).await? {
            Some(k) if k.merchant_id == m.merchant.id => self.revoke_api_key(key_id).await,
            _ => Err(AdminError::NotFound(format!("no API key {key_id:?}"))),
        }
    }

    /// The members of the member's own merchant.
    pub async fn members(&self, m: &Member) -> Result<Vec<UserRow>, AdminError> {
        m.must(Capability::Members)?;
        Ok(self.store().members(m.home.id).await?)
    }

    /// Invites `email` with `role`: the member exists at once without a
    /// password; the returned link token (valid for `INVITE_TTL_MS`, used
    /// once) lets them choose one.
    pub async fn invite(&self, m: &Member, email: &str, role: Role) -> Result<String, AdminError> {
        m.must(Capability::Members)?;
        let email = email.trim().to_ascii_lowercase();
        check_email(&email)?;
        let user_id = self.store().insert_user(m.home.id, &email, NO_PASSWORD, role).await.map_err(|e| match e {
            StoreError::Unique(_) => AdminError::Invalid(format!("{email} is already a member of an account")),
            e => e.into(),
        })?;
        let (token, hash) = new_token("tbh_inv_");
        let now = self.now_ms();
        self.store().insert_user_link(&hash, user_id, LinkPurpose::Invite, now + INVITE_TTL_MS, now).await?;
        Ok(token)
    }

    /// Who an invitation is for (its e-mail and the account's name), while
    /// it can still be used: the invited person sees what they join.
    pub async fn invitation(&self, token: &str) -> Result<(String, String), AdminError> {
        let user = self.pending_invitation(token).await?;
        let merchant = self.merchant_by_id(user.merchant_id).await?;
        Ok((user.username, merchant.name))
    }

    async fn pending_invitation(&self, token: &str) -> Result<UserRow, AdminError> {
        let hash = token_hash(token.trim());
        let user = self.store().pending_user_link(&hash, LinkPurpose::Invite, self.now_ms()).await?;
        // An invitation is for choosing the first password only.
        user.filter(|u| u.password_hash == NO_PASSWORD).ok_or_else(|| {
            AdminError::NotFound("this invitation was used, has expired, or does not exist: ask for a new one".into())
        })
    }

    /// An invited member chooses a password (the link then is spent) and
    /// is signed in. The link is checked before the password is hashed, so
    /// a made-up link costs no hashing.
    pub async fn accept_invite(&self, token: &str, password: &str) -> Result<DashboardSession, AdminError> {
        crate::auth::check_password_rules(password).map_err(AdminError::Invalid)?;
        let pending = self.pending_invitation(token).await?;
        if self.merchant_by_id(pending.merchant_id).await?.suspended {
            return Err(AdminError::Forbidden("the account is suspended: ask the operator".into()));
        }
        let hash = self.passwords.hash(password.to_owned()).await.map_err(|_| AdminError::Busy)?;
        let link = self.store().use_user_link(&token_hash(token.trim()), LinkPurpose::Invite, self.now_ms()).await?;
        let user = link.ok_or_else(|| AdminError::NotFound("this invitation was used a moment ago".into()))?;
        self.set_password(user.id, &hash).await?;
        self.start_session(user.id, false).await
    }

    /// A password reset link for the member signing in as `email`, to be
    /// e-mailed to that address: `None` when there is no such member (the
    /// caller answers the same either way, so nobody learns who has an
    /// account).
    pub async fn request_password_reset(&self, email: &str) -> Result<Option<(String, String)>, AdminError> {
        let email = email.trim().to_ascii_lowercase();
        let Some(user) = self.store().user_by_username(&email).await? else { return Ok(None) };
        if !is_email(&user.username) {
            // A username that is not an address has nowhere to send a link.
            return Ok(None);
        }
        let (token, hash) = new_token("tbh_rst_");
        let now = self.now_ms();
        self.store().insert_user_link(&hash, user.id, LinkPurpose::Reset, now + RESET_TTL_MS, now).await?;
        Ok(Some((token, user.username)))
    }

    /// A new password through a reset link (used once): every session and
    /// token of the member ends, and it logs in again (with its code, when
    /// it has two-factor sign-in: the link alone opens nothing).
    pub async fn reset_password(&self, token: &str, password: &str) -> Result<(), AdminError> {
        crate::auth::check_password_rules(password).map_err(AdminError::Invalid)?;
        let hash_of = token_hash(token.trim());
        let gone =
            || AdminError::NotFound("this link was used, has expired, or does not exist: ask for a new one".into());
        self.store().pending_user_link(&hash_of, LinkPurpose::Reset, self.now_ms()).await?.ok_or_else(gone)?;
        let hash = self.passwords.hash(password.to_owned()).await.map_err(|_| AdminError::Busy)?;
        let user = self.store().use_user_link(&hash_of, LinkPurpose::Reset, self.now_ms()).await?.ok_or_else(gone)?;
        self.set_password(user.id, &hash).await
    }

    /// A member's new password: its other links are spent, and every
    /// session and API token of the old one ends.
    pub(crate) async fn set_password(&self, user_id: UserId, hash: &str) -> Result<(), AdminError> {
        self.store().set_password_hash(user_id, hash).await?;
        self.store().spend_user_links(user_id, self.now_ms()).await?;
        self.store().revoke_user_tokens(user_id).await?;
        self.caches.clear();
        self.store().end_user_dashboard_sessions(user_id).await?;
        Ok(())
    }

    /// Pins the account's API version (the shape of its answers and
    /// callbacks): one of `API_VERSIONS`.
    pub async fn member_set_api_version(&self, m: &Member, version: &str) -> Result<MerchantRow, AdminError> {
        m.may_change()?;
        let changes = crate::merchants::MerchantChanges {
            api_version: Some(version.trim().to_owned()),
            ..crate::merchants::MerchantChanges::default()
        };
        self.update_merchant(&m.merchant.account, &changes).await
    }

    /// Where the account's API requests may come from (see
    /// `parse_ip_allowlist`); empty: any address.
    pub async fn member_set_ip_allowlist(&self, m: &Member, text: &str) -> Result<String, AdminError> {
        m.may_change()?;
        let list = crate::auth::parse_ip_allowlist(text).map_err(AdminError::Invalid)?;
        self.store().set_ip_allowlist(m.merchant.id, &list).await?;
        self.caches.clear();
        Ok(list)
    }

    /// Where low-balance alerts are e-mailed (empty: nowhere).
    pub async fn member_set_alert_email(&self, m: &Member, email: &str) -> Result<MerchantRow, AdminError> {
        m.may_change()?;
        let changes = crate::merchants::MerchantChanges {
            email: Some(email.trim().to_ascii_lowercase()),
            ..crate::merchants::MerchantChanges::default()
        };
        self.update_merchant(&m.merchant.account, &changes).await
    }

    /// A dashboard log-in: the password, then, for a member with two-factor
    /// sign-in, a TOTP code not used before. `Ok(None)`: the password is
    /// right and a code is needed.
    pub async fn dashboard_login(
        &self,
        username: &str,
        password: &str,
        code: &str,
    ) -> Result<Option<DashboardSession>, AuthError> {
        let user = self.check_password(username, password).await?;
        let mut two_factor = false;
        if let Some(sealed) = self.store().user_totp(user.id).await.map_err(AuthError::store)? {
            if code.trim().is_empty() {
                return Ok(None);
            }
            let secret = self.master_key().open(&sealed).map_err(|_| AuthError::Internal)?;
            if !self.take_code(user.id, &secret, code).await? {
                return Err(AuthError::WrongCredentials);
            }
            two_factor = true;
        }
        self.start_session(user.id, two_factor).await.map(Some).map_err(|_| AuthError::Internal)
    }

    /// Whether `code` is good for `secret` now and its step was not used
    /// by this member before (then it is used).
    async fn take_code(&self, user_id: UserId, secret: &[u8], code: &str) -> Result<bool, AuthError> {
        let authenticator = Authenticator::new(secret).map_err(|_| AuthError::Internal)?;
        let now_s = u64::try_from(self.now_ms() / 1000).unwrap_or(0);
        let Some(step) = authenticator.step_of(code.trim(), now_s) else { return Ok(false) };
        let step = i64::try_from(step).map_err(|_| AuthError::Internal)?;
        self.store().use_user_totp_step(user_id, step).await.map_err(AuthError::store)
    }

    /// A fresh TOTP secret for the member to add to an authenticator app:
    /// (base32, otpauth URI). Nothing is stored until a code confirms it.
    pub fn new_totp_secret(&self, m: &Member) -> Result<(String, String), AdminError> {
        let secret = crate::credentials::random_bytes(20);
        let encoded = Authenticator::new(&secret).map_err(AdminError::Store)?.base32();
        let uri = crate::operators::otpauth_uri(&m.user.username, &encoded);
        Ok((encoded, uri))
    }

    /// Turns two-factor sign-in on with `secret_base32` (as shown by
    /// `new_totp_secret`) once `code` proves the app has it; replaces an
    /// earlier secret.
    ///
    /// Replacing a secret needs a code of the current one: a session alone
    /// cannot take over a member's second factor.
    pub async fn confirm_totp(
        &self,
        m: &Member,
        secret_base32: &str,
        code: &str,
        current_code: &str,
    ) -> Result<(), AdminError> {
        if let Some(sealed) = self.store().user_totp(m.user.id).await? {
            let current = self.master_key().open(&sealed).map_err(AdminError::Store)?;
            let good = self
                .take_code(m.user.id, &current, current_code)
                .await
                .map_err(|e| AdminError::Store(e.detail().into()))?;
            if !good {
                return Err(AdminError::Invalid(
                    "enter a code of the app you set up before, to replace it (each code once)".into(),
                ));
            }
        }
        let secret = Authenticator::decode(secret_base32)
            .map_err(|_| AdminError::Invalid("the secret is not base32: reload the page".into()))?;
        let authenticator = Authenticator::new(&secret).map_err(AdminError::Invalid)?;
        let now_s = u64::try_from(self.now_ms() / 1000).unwrap_or(0);
        if authenticator.step_of(code.trim(), now_s).is_none() {
            return Err(AdminError::Invalid("that code is not the app's current one: try the next".into()));
        }
        let sealed = self.master_key().seal(&secret);
        self.store().set_user_totp(m.user.id, Some(&sealed), self.now_ms()).await?;
        // The code that confirmed it is spent, and this session gave one.
        self.take_code(m.user.id, &secret, code).await.map_err(|e| AdminError::Store(e.detail().into()))?;
        self.store().pass_dashboard_two_factor(&m.session).await?;
        Ok(())
    }

    /// Turns two-factor sign-in off: only for roles that do not need it.
    pub async fn remove_totp(&self, m: &Member) -> Result<(), AdminError> {
        if m.role().may(Capability::Settings) {
            return Err(AdminError::Forbidden(format!(
                "a member with the {} role keeps two-factor sign-in (it can see API keys and secrets)",
                m.role().as_str()
            )));
        }
        self.store().set_user_totp(m.user.id, None, self.now_ms()).await?;
        Ok(())
    }

    /// Removes a member of the member's own merchant, with its sessions.
    /// Nobody removes themselves (an account keeps an admin).
    pub async fn remove_member(&self, m: &Member, user_id: UserId) -> Result<(), AdminError> {
        m.must(Capability::Members)?;
        if user_id == m.user.id {
            return Err(AdminError::Invalid("you cannot remove yourself".into()));
        }
        let removed = self.store().remove_user(m.home.id, user_id).await?;
        self.caches.clear();
        if removed {
            Ok(())
        } else {
            Err(AdminError::NotFound("no such member, or the account's last admin (make another admin first)".into()))
        }
    }

    /// Asks the operator for a live account (staging merchants only; once).
    pub async fn request_live(&self, m: &Member) -> Result<(), AdminError> {
        m.must(Capability::Members)?;
        if m.home.environment != Environment::Staging {
            return Err(AdminError::Invalid("this account is live already".into()));
        }
        self.store().request_live(m.home.id, self.now_ms()).await?;
        Ok(())
    }

    /// The state of the member's request for live access.
    pub async fn live_request(&self, m: &Member) -> Result<Option<LiveAccessRow>, AdminError> {
        Ok(self.store().live_access(m.home.id).await?)
    }

    /// A merchant by id (the operator console's links).
    pub async fn merchant_by_id(&self, id: MerchantId) -> Result<MerchantRow, AdminError> {
        self.store().merchant(id).await?.ok_or_else(|| AdminError::NotFound("no such merchant".into()))
    }
}
