//! Rate limits at the edge, with governor's keyed GCRA limiters (no hand-made
//! counters). Each node keeps its own quota (the multi-node story: a
//! merchant's allowance is per node, so N nodes behind a proxy allow up to N
//! times it; see docs/security.md): no shared state on the hot path.
//!
//! - **Per merchant**, after authentication: `live_per_s` / `staging_per_s`
//!   (Stripe's anchors: 100/s live, 25/s test), or the operator's per-merchant
//!   figure. Beyond: 429 with `Retry-After` and the IETF draft
//!   `RateLimit-Policy` / `RateLimit` headers.
//! - **Per address, before authentication**: requests that fail to
//!   authenticate cost the address one of `unauthenticated_per_s`; beyond, the
//!   address gets 429 before any check runs (guessing keys or signatures).
//! - **Log-ins**: per address, per username from one network, and per
//!   username from anywhere (all attempts), checked before the password is:
//!   a flood of guesses costs nothing but the look-up, and no lock-out lasts
//!   longer than one refill of its bucket after the guesses stop.
//!
//! - **Block mode** (opt-in, IIMMPACT's rule): an address that sends more
//!   than `requests` in `window` is refused with 403 for `block`, whatever
//!   it sends (IIMMPACT: 30,000 per 5 minutes, then 240 minutes).
//!
//! Addresses are keyed whole for IPv4 and by /64 for IPv6 (one host's
//! allocation). Keys not seen for a while are dropped by `sweep`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};
use tambah_domain::{Environment, MerchantId};

type Keyed<K> = RateLimiter<K, governor::state::keyed::DefaultKeyedStateStore<K>, DefaultClock>;
/// The merchants' limiters also say what is left (for the `RateLimit`
/// header of every answer).
type Informing = governor::middleware::StateInformationMiddleware;
type MerchantKeyed =
    RateLimiter<MerchantId, governor::state::keyed::DefaultKeyedStateStore<MerchantId>, DefaultClock, Informing>;
type MerchantDirect = RateLimiter<governor::state::NotKeyed, governor::state::InMemoryState, DefaultClock, Informing>;

/// What a merchant's request left of its allowance: the quota a second
/// and what remains of it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowance {
    pub quota: u32,
    pub remaining: u32,
}

/// IIMMPACT's per-address block: more than `requests` within `window_s`
/// and the address gets 403 for `block_s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpBlock {
    pub requests: u32,
    pub window_s: u32,
    pub block_s: u32,
}

impl std::str::FromStr for IpBlock {
    type Err = String;

    /// `REQUESTS/WINDOW_S/BLOCK_S`, e.g. `30000/300/14400`.
    fn from_str(s: &str) -> Result<IpBlock, String> {
        let parts: Vec<u32> = s
            .split('/')
            .map(|p| p.trim().parse::<u32>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("{s:?}: expected REQUESTS/WINDOW_SECONDS/BLOCK_SECONDS, e.g. 30000/300/14400"))?;
        match parts[..] {
            [requests, window_s, block_s] if requests > 0 && window_s > 0 && block_s > 0 => {
                Ok(IpBlock { requests, window_s, block_s })
            }
            _ => Err(format!("{s:?}: expected three numbers above 0, e.g. 30000/300/14400")),
        }
    }
}

/// The limits' settings.
#[derive(Clone, Debug)]
pub struct RateConfig {
    /// Requests per second per live merchant (burst: one second's worth).
    pub live_per_s: u32,
    /// Requests per second per staging merchant.
    pub staging_per_s: u32,
    /// Failed authentications per second per address (burst: 10 s' worth).
    pub unauthenticated_per_s: u32,
    /// Log-in attempts per minute per address.
    pub logins_per_ip_per_min: u32,
    /// Log-in attempts per minute per username from one network.
    pub logins_per_user_net_per_min: u32,
    /// Log-in attempts per minute per username from anywhere.
    pub logins_per_user_per_min: u32,
    /// IIMMPACT's block mode, off unless set.
    pub ip_block: Option<IpBlock>,
}

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            live_per_s: 100,
            staging_per_s: 25,
            unauthenticated_per_s: 10,
            logins_per_ip_per_min: 20,
            logins_per_user_net_per_min: 5,
            logins_per_user_per_min: 30,
            ip_block: None,
        }
    }
}

/// An address as limits key it: IPv4 whole, IPv6 by its /64 (one host's
/// allocation, so a host cannot rotate addresses around a limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressKey {
    V4(u32),
    V6(u64),
}

impl AddressKey {
    pub fn of(ip: IpAddr) -> AddressKey {
        match ip {
            IpAddr::V4(v4) => AddressKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey::V4(u32::from(v4)),
                None => AddressKey::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

fn per_second(n: u32, burst_s: u32) -> Quota {
    let rate = NonZeroU32::new(n.max(1)).expect("at least 1");
    let burst = NonZeroU32::new(n.max(1).saturating_mul(burst_s.max(1))).expect("at least 1");
    Quota::per_second(rate).allow_burst(burst)
}

/// `n` per `window_s` seconds, all of them at once if need be.
fn per_window(n: u32, window_s: u32) -> Quota {
    let n = NonZeroU32::new(n.max(1)).expect("at least 1");
    let period = Duration::from_secs(u64::from(window_s.max(1))) / n.get();
    Quota::with_period(period.max(Duration::from_nanos(1))).expect("a period above 0").allow_burst(n)
}

fn per_minute(n: u32) -> Quota {
    let n = NonZeroU32::new(n.max(1)).expect("at least 1");
    Quota::per_minute(n).allow_burst(n)
}

pub struct RateLimits {
    config: RateConfig,
    live: MerchantKeyed,
    staging: MerchantKeyed,
    /// Merchants with the operator's own figure: their own limiter each
    /// (a keyed limiter has one quota for all its keys), rebuilt when the
    /// figure changes.
    own: RwLock<HashMap<MerchantId, (u32, Arc<MerchantDirect>)>>,
    unauthenticated: Keyed<AddressKey>,
    /// Addresses that ran out of failed authentications, until when: they
    /// are refused before any check runs.
    blocked: Mutex<HashMap<AddressKey, Instant>>,
    login_ip: Keyed<AddressKey>,
    login_user_net: Keyed<(String, AddressKey)>,
    login_user: Keyed<String>,
    /// Block mode: every request of an address counted, and the addresses
    /// over it refused until when.
    ip_window: Option<(IpBlock, Keyed<AddressKey>)>,
    ip_blocked: Mutex<HashMap<AddressKey, Instant>>,
}

/// An address in block mode's penalty: 403 until it ends.
#[derive(Debug)]
pub struct Blocked {
    pub retry_after: Duration,
}

impl IntoResponse for Blocked {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": "forbidden",
            "message": "this address sent too many requests and is blocked for a while"});
        let mut res = (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
        let wait_s = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        res.headers_mut().insert("retry-after", HeaderValue::from(wait_s));
        res
    }
}

/// A request refused by a limit: 429 with when to come back.
#[derive(Debug)]
pub struct Limited {
    pub retry_after: Duration,
    /// The policy as the draft's `RateLimit-Policy` item: (name, quota,
    /// window in seconds).
    pub policy: (&'static str, u32, u32),
}

impl IntoResponse for Limited {
    fn into_response(self) -> Response {
        let wait_s = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        let (name, quota, window) = self.policy;
        let body = serde_json::json!({"error": "rate_limited",
            "message": format!("too many requests ({quota} per {window} s); retry after {wait_s} s")});
        let mut res = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
        let headers = res.headers_mut();
        let text = |s: String| HeaderValue::from_str(&s).expect("ascii");
        headers.insert("retry-after", text(wait_s.to_string()));
        headers.insert("ratelimit-policy", text(format!("\"{name}\";q={quota};w={window}")));
        headers.insert("ratelimit", text(format!("\"{name}\";r=0;t={wait_s}")));
        res
    }
}

impl RateLimits {
    pub fn new(config: RateConfig) -> RateLimits {
        RateLimits {
            live: RateLimiter::keyed(per_second(config.live_per_s, 1)).with_middleware::<Informing>(),
            staging: RateLimiter::keyed(per_second(config.staging_per_s, 1)).with_middleware::<Informing>(),
            own: RwLock::new(HashMap::new()),
            unauthenticated: RateLimiter::keyed(per_second(config.unauthenticated_per_s, 10)),
            blocked: Mutex::new(HashMap::new()),
            login_ip: RateLimiter::keyed(per_minute(config.logins_per_ip_per_min)),
            login_user_net: RateLimiter::keyed(per_minute(config.logins_per_user_net_per_min)),
            login_user: RateLimiter::keyed(per_minute(config.logins_per_user_per_min)),
            ip_window: config.ip_block.map(|b| (b, RateLimiter::keyed(per_window(b.requests, b.window_s)))),
            ip_blocked: Mutex::new(HashMap::new()),
            config,
        }
    }

    fn wait<K: std::hash::Hash + Eq + Clone>(
        limiter: &Keyed<K>,
        key: &K,
        policy: (&'static str, u32, u32),
    ) -> Result<(), Limited> {
        limiter.check_key(key).map_err(|not_until| Limited {
            retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            policy,
        })
    }

    /// One request of an authenticated merchant. `own_per_s`: the
    /// operator's figure for this merchant, when set.
    pub fn merchant(&self, id: MerchantId, env: Environment, own_per_s: Option<u32>) -> Result<Allowance, Limited> {
        let refused = |quota: u32| {
            move |not_until: governor::NotUntil<_>| Limited {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
                policy: ("merchant", quota, 1),
            }
        };
        let (quota, snapshot) = match (own_per_s, env) {
            (Some(n), _) => (n, self.own_limiter(id, n).check().map_err(refused(n))?),
            (None, Environment::Live) => {
                let n = self.config.live_per_s;
                (n, self.live.check_key(&id).map_err(refused(n))?)
            }
            (None, Environment::Staging) => {
                let n = self.config.staging_per_s;
                (n, self.staging.check_key(&id).map_err(refused(n))?)
            }
        };
        Ok(Allowance { quota, remaining: snapshot.remaining_burst_capacity() })
    }

    fn own_limiter(&self, id: MerchantId, per_s: u32) -> Arc<MerchantDirect> {
        if let Some((n, limiter)) = self.own.read().expect("rate limits poisoned").get(&id) {
            if *n == per_s {
                return limiter.clone();
            }
        }
        let limiter = Arc::new(RateLimiter::direct(per_second(per_s, 1)).with_middleware::<Informing>());
        self.own.write().expect("rate limits poisoned").insert(id, (per_s, limiter.clone()));
        limiter
    }

    /// Refuses an address that ran out of failed authentications, before
    /// any check runs.
    pub fn check_address(&self, ip: IpAddr) -> Result<(), Limited> {
        let key = AddressKey::of(ip);
        let mut blocked = self.blocked.lock().expect("rate limits poisoned");
        match blocked.get(&key) {
            Some(until) if *until > Instant::now() => Err(Limited {
                retry_after: until.saturating_duration_since(Instant::now()),
                policy: ("unauthenticated", self.config.unauthenticated_per_s, 1),
            }),
            Some(_) => {
                blocked.remove(&key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// A failed authentication from an address: past its allowance the
    /// address is refused until its bucket has room again.
    pub fn failed_authentication(&self, ip: IpAddr) {
        let key = AddressKey::of(ip);
        let policy = ("unauthenticated", self.config.unauthenticated_per_s, 1);
        if let Err(limited) = Self::wait(&self.unauthenticated, &key, policy) {
            tracing::warn!(address = %ip, "too many failed authentications: refused for a while");
            let until = Instant::now() + limited.retry_after.max(Duration::from_secs(1));
            self.blocked.lock().expect("rate limits poisoned").insert(key, until);
        }
    }

    /// A log-in attempt, before the password is checked.
    pub fn login(&self, ip: IpAddr, username: &str) -> Result<(), Limited> {
        let address = AddressKey::of(ip);
        let user = username.to_lowercase();
        Self::wait(&self.login_ip, &address, ("login-address", self.config.logins_per_ip_per_min, 60))?;
        Self::wait(
            &self.login_user_net,
            &(user.clone(), address),
            ("login-user", self.config.logins_per_user_net_per_min, 60),
        )?;
        Self::wait(&self.login_user, &user, ("login-user-anywhere", self.config.logins_per_user_per_min, 60))
    }

    /// Block mode: counts one request of `ip`; refuses it while the address
    /// is blocked, and blocks it once over its allowance.
    pub fn every_request(&self, ip: IpAddr) -> Result<(), Blocked> {
        let Some((rule, window)) = &self.ip_window else { return Ok(()) };
        let key = AddressKey::of(ip);
        let now = Instant::now();
        if let Some(until) = self.ip_blocked.lock().expect("rate limits poisoned").get(&key) {
            if *until > now {
                return Err(Blocked { retry_after: until.saturating_duration_since(now) });
            }
        }
        if window.check_key(&key).is_err() {
            let block = Duration::from_secs(u64::from(rule.block_s));
            tracing::warn!(address = %ip, requests = rule.requests, window_s = rule.window_s, "address over its allowance: blocked");
            self.ip_blocked.lock().expect("rate limits poisoned").insert(key, now + block);
            return Err(Blocked { retry_after: block });
        }
        Ok(())
    }

    /// Drops keys whose buckets are full again (nothing to remember).
    pub fn sweep(&self) {
        self.live.retain_recent();
        self.staging.retain_recent();
        self.unauthenticated.retain_recent();
        let now = Instant::now();
        self.blocked.lock().expect("rate limits poisoned").retain(|_, until| *until > now);
        self.login_ip.retain_recent();
        self.login_user_net.retain_recent();
        self.login_user.retain_recent();
        if let Some((_, window)) = &self.ip_window {
            window.retain_recent();
        }
        self.ip_blocked.lock().expect("rate limits poisoned").retain(|_, until| *until > now);
    }
}

/// The client's address, when the connection is known (always under
/// `serve`; not in tests that call the router directly).
pub(crate) struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(&parts.extensions)))
    }
}

/// The client's address, as `routes::client_address` resolved it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientAddr(pub IpAddr);

pub(crate) fn client_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions.get::<ClientAddr>().map(|c| c.0)
}

/// The address a request comes from: the peer's, or, when the peer is one
/// of the operator's trusted proxies, the right-most `X-Forwarded-For`
/// entry that is not itself a trusted proxy (entries further left are the
/// client's own word, and a client can write anything there).
pub(crate) fn resolve_client(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    // Compared in canonical form: on a dual-stack listener an IPv4 proxy
    // arrives as `::ffff:10.0.0.1`.
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|t| t.to_canonical() == *ip);
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    let hops: Vec<IpAddr> = forwarded
        .flat_map(|v| v.split(','))
        .filter_map(|h| h.trim().parse::<IpAddr>().ok())
        .map(|h| h.to_canonical())
        .collect();
    hops.into_iter().rev().find(|h| !is_trusted(h)).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_behind_a_trusted_proxy_is_the_right_most_untrusted_hop() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2")];
        let mut mapped = axum::http::HeaderMap::new();
        mapped.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
        assert_eq!(
            resolve_client(ip("::ffff:10.0.0.1"), &mapped, &trusted),
            ip("203.0.113.9"),
            "a proxy seen through a dual-stack listener is still the proxy"
        );
        let mut h = axum::http::HeaderMap::new();
        h.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2".parse().unwrap());
        assert_eq!(
            resolve_client(ip("10.0.0.1"), &h, &trusted),
            ip("203.0.113.7"),
            "the left-most is the client's word"
        );
        assert_eq!(
            resolve_client(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1"),
            "an untrusted peer is the client"
        );
        let none = axum::http::HeaderMap::new();
        assert_eq!(resolve_client(ip("10.0.0.1"), &none, &trusted), ip("10.0.0.1"));
        h.insert("x-forwarded-for", "garbage".parse().unwrap());
        assert_eq!(resolve_client(ip("10.0.0.1"), &h, &trusted), ip("10.0.0.1"));
    }

    #[test]
    fn ipv6_hosts_are_keyed_by_their_64_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(AddressKey::of(a), AddressKey::of(b));
        assert_ne!(AddressKey::of(a), AddressKey::of(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(AddressKey::of(mapped), AddressKey::of("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn a_merchant_past_its_quota_is_told_when_to_come_back() {
        let limits = RateLimits::new(RateConfig { staging_per_s: 3, ..RateConfig::default() });
        let m = MerchantId::new(7);
        for _ in 0..3 {
            assert!(limits.merchant(m, Environment::Staging, None).is_ok());
        }
        let refused = limits.merchant(m, Environment::Staging, None).unwrap_err();
        assert!(refused.retry_after <= Duration::from_millis(334), "{refused:?}");
        assert!(limits.merchant(MerchantId::new(8), Environment::Staging, None).is_ok(), "per merchant");
        // The operator's own figure for a merchant.
        for _ in 0..50 {
            assert!(limits.merchant(m, Environment::Staging, Some(50)).is_ok());
        }
        assert!(limits.merchant(m, Environment::Staging, Some(50)).is_err());
    }

    #[test]
    fn failed_authentications_block_an_address_for_a_while_only() {
        let limits = RateLimits::new(RateConfig { unauthenticated_per_s: 1, ..RateConfig::default() });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..10 {
            assert!(limits.check_address(ip).is_ok());
            limits.failed_authentication(ip);
        }
        limits.failed_authentication(ip);
        let refused = limits.check_address(ip).unwrap_err();
        assert!(refused.retry_after <= Duration::from_secs(1), "{refused:?}");
        assert!(limits.check_address("192.0.2.2".parse().unwrap()).is_ok(), "another address");
    }

    #[test]
    fn log_ins_are_limited_per_user_from_one_network_but_not_elsewhere() {
        let limits = RateLimits::new(RateConfig::default());
        let (attacker, victim): (IpAddr, IpAddr) = ("198.51.100.7".parse().unwrap(), "203.0.113.9".parse().unwrap());
        for _ in 0..5 {
            assert!(limits.login(attacker, "ali").is_ok());
        }
        assert!(limits.login(attacker, "ALI").is_err(), "usernames compare case-blind");
        assert!(limits.login(victim, "ali").is_ok(), "the user can still log in from elsewhere");
        assert!(limits.login(attacker, "siti").is_ok(), "another user from the same address");
    }
}
