//! The node's caches of what nearly every request reads: a token's or an API
//! key's merchant (and the member's role), final orders by refid, and wallet
//! balances. A status check answered from them touches no database.
//!
//! **Invalidation.** The database keeps a change counter (`cache_epoch`,
//! migration 0020) that triggers bump in the same transaction as every
//! change a cached answer could miss: a key or token revoked or deleted, a
//! member or merchant changed or removed, a final order changed (a refund),
//! whoever makes it — this node, another node, the CLI. A task reads it every
//! [`POLL`]; when it moved, every cache is emptied. The node's own changes
//! empty them at once too ([`Caches::clear`]). The caches are trusted only
//! while the last successful read is younger than [`TRUST`]: when the
//! database cannot be read, or the task falls behind, every look-up goes to
//! the database. So a revocation, suspension or password change is refused
//! on every node within [`TRUST`] (1 s).
//!
//! **Races.** A look-up that misses reads the database, then fills the cache
//! only if no clear happened since it started (the generation it read before
//! the database is still current after its insert, else it takes its entry
//! out again): an answer read before a change never outlives the clear that
//! the change caused.
//!
//! **Balances** are a wallet's balance as the last batch of this node's
//! writer left it, or as read from the database; an entry older than
//! [`TRUST`] is read again. Another node's (or the CLI's) change to a
//! balance shows within that second; this node's own at once.
//!
//! **Memory.** Each cache holds a bounded number of entries (S3-FIFO
//! eviction, `quick_cache`): about 9 MB at most in all.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use tambah_domain::{AccountId, Amount, MerchantId, Role};
use tambah_store::{ApiKeyRow, MerchantRow, OrderRow, TokenRow};

/// How often the change counter is read.
pub const POLL: Duration = Duration::from_millis(100);
/// How old the last successful read of the counter (or a balance) may be
/// before the caches are not trusted.
pub const TRUST: Duration = Duration::from_secs(1);

const TOKENS_MAX: usize = 4_096;
const KEYS_MAX: usize = 4_096;
const ORDERS_MAX: usize = 4_096;
const BALANCES_MAX: usize = 4_096;

pub(crate) type TokenEntry = Arc<(TokenRow, MerchantRow, Role)>;
pub(crate) type KeyEntry = Arc<(ApiKeyRow, MerchantRow)>;

/// What a look-up that missed must hand back to fill the cache.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket(u64);

pub(crate) struct Caches {
    enabled: bool,
    /// Bumped by every clear, before the maps are emptied.
    generation: AtomicU64,
    /// The database's counter as last read.
    epoch: AtomicI64,
    /// When the counter was last read successfully, in ms since `start`
    /// (0: never).
    trusted_at_ms: AtomicU64,
    start: Instant,
    /// Set while the counter cannot be read.
    failing: AtomicBool,
    tokens: Cache<String, TokenEntry>,
    keys: Cache<String, KeyEntry>,
    orders: Cache<(MerchantId, String), Arc<OrderRow>>,
    /// A balance and when it was known (ms since `start`).
    balances: Cache<AccountId, (Amount, u64)>,
}

impl Caches {
    /// Caches that hold nothing when `enabled` is false (every look-up goes
    /// to the database).
    pub(crate) fn new(enabled: bool) -> Caches {
        Caches {
            enabled,
            generation: AtomicU64::new(0),
            epoch: AtomicI64::new(i64::MIN),
            trusted_at_ms: AtomicU64::new(0),
            start: Instant::now(),
            failing: AtomicBool::new(false),
            tokens: Cache::new(TOKENS_MAX),
            keys: Cache::new(KEYS_MAX),
            orders: Cache::new(ORDERS_MAX),
            balances: Cache::new(BALANCES_MAX),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether cached answers may be given now.
    fn trusted(&self) -> bool {
        let at = self.trusted_at_ms.load(SeqCst);
        self.enabled && at != 0 && self.now_ms().saturating_sub(at) < TRUST.as_millis() as u64
    }

    /// Empties every cache (a change this node made, or the counter moved).
    pub(crate) fn clear(&self) {
        self.generation.fetch_add(1, SeqCst);
        self.tokens.clear();
        self.keys.clear();
        self.orders.clear();
        self.balances.clear();
    }

    /// Takes a reading of the database's counter: a moved counter empties
    /// the caches; a failed reading stops trusting them.
    pub(crate) fn observe(&self, reading: Result<i64, ()>) {
        match reading {
            Ok(epoch) => {
                let before = self.epoch.swap(epoch, SeqCst);
                if before != epoch {
                    self.clear();
                }
                self.failing.store(false, SeqCst);
                self.trusted_at_ms.store(self.now_ms().max(1), SeqCst);
            }
            Err(()) => {
                if !self.failing.swap(true, SeqCst) {
                    tracing::warn!("the cache change counter cannot be read: caches off until it can");
                }
                self.trusted_at_ms.store(0, SeqCst);
                self.clear();
            }
        }
    }

    /// Taken before a database read whose answer will fill a cache.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(SeqCst))
    }

    /// Inserts unless a clear happened since the ticket; an insert that
    /// races a clear is taken out again.
    fn fill<K, V>(&self, cache: &Cache<K, V>, ticket: Ticket, key: K, value: V)
    where
        K: Eq + std::hash::Hash + Clone,
        V: Clone,
    {
        if !self.trusted() || self.generation.load(SeqCst) != ticket.0 {
            return;
        }
        cache.insert(key.clone(), value);
        if self.generation.load(SeqCst) != ticket.0 {
            cache.remove(&key);
        }
    }

    /// A bearer token's entry, by the token as sent (a hit costs no hash).
    pub(crate) fn token(&self, token: &str) -> Option<TokenEntry> {
        self.trusted().then(|| self.tokens.get(token)).flatten()
    }

    pub(crate) fn fill_token(&self, ticket: Ticket, token: &str, entry: TokenEntry) {
        self.fill(&self.tokens, ticket, token.to_owned(), entry);
    }

    pub(crate) fn key(&self, key_id: &str) -> Option<KeyEntry> {
        self.trusted().then(|| self.keys.get(key_id)).flatten()
    }

    pub(crate) fn fill_key(&self, ticket: Ticket, key_id: &str, entry: KeyEntry) {
        self.fill(&self.keys, ticket, key_id.to_owned(), entry);
    }

    /// A final order of this merchant by refid.
    pub(crate) fn order(&self, merchant_id: MerchantId, refid: &str) -> Option<Arc<OrderRow>> {
        if !self.trusted() {
            return None;
        }
        self.orders.get(&(merchant_id, refid.to_owned()))
    }

    /// Remembers an order read from the database, if it is final.
    pub(crate) fn fill_order(&self, ticket: Ticket, order: &OrderRow) {
        if order.status.is_final() {
            self.fill(&self.orders, ticket, (order.merchant_id, order.refid.clone()), Arc::new(order.clone()));
        }
    }

    /// Forgets an order this node just changed (a success reversed to 53):
    /// a read of its old row still in flight cannot fill it back either.
    pub(crate) fn forget_order(&self, merchant_id: MerchantId, refid: &str) {
        self.generation.fetch_add(1, SeqCst);
        self.orders.remove(&(merchant_id, refid.to_owned()));
    }

    /// A wallet's balance known within [`TRUST`].
    pub(crate) fn balance(&self, wallet_id: AccountId) -> Option<Amount> {
        if !self.trusted() {
            return None;
        }
        let (balance, at) = self.balances.get(&wallet_id)?;
        (self.now_ms().saturating_sub(at) < TRUST.as_millis() as u64).then_some(balance)
    }

    pub(crate) fn fill_balance(&self, ticket: Ticket, wallet_id: AccountId, balance: Amount) {
        self.fill(&self.balances, ticket, wallet_id, (balance, self.now_ms()));
    }

    /// The balances the writer's last batch wrote. Called on the writer
    /// thread after the commit, before any caller is answered (one entry per
    /// wallet and batch: the writer's time is the node's scarcest).
    pub(crate) fn committed(&self, balances: &[(AccountId, Amount)]) {
        if !self.enabled {
            return;
        }
        let now = self.now_ms();
        for &(wallet_id, balance) in balances {
            self.balances.insert(wallet_id, (balance, now));
        }
    }

    /// Reads the counter every [`POLL`] until the engine is dropped.
    pub(crate) fn watch(engine: Weak<crate::Engine>) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(engine) = engine.upgrade() else { return };
                engine.poll_cache_epoch().await;
            }
        });
    }
}

impl crate::Engine {
    /// One reading of the change counter (the watch task's step; the engine
    /// takes one at start).
    pub(crate) async fn poll_cache_epoch(&self) {
        let reading = self.store().change_epoch().await.map_err(|_| ());
        self.caches.observe(reading);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tambah_domain::StatusCode;

    fn order(refid: &str, status: StatusCode) -> OrderRow {
        OrderRow {
            id: tambah_domain::OrderId::new(1),
            merchant_id: MerchantId::new(7),
            refid: refid.into(),
            product: "D".into(),
            account: "0123456789".into(),
            amount: Amount::from_minor(10),
            cost: Amount::from_minor(10),
            status,
            sn: String::new(),
            pin: String::new(),
            expiry: String::new(),
            note: String::new(),
            voucherlink: String::new(),
            remarks: String::new(),
            extras_json: "{}".into(),
            provider: String::new(),
            recheck_at_ms: None,
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    #[test]
    fn nothing_is_answered_before_the_counter_is_read_or_after_a_failed_read() {
        let c = Caches::new(true);
        let t = c.ticket();
        c.fill_order(t, &order("A", StatusCode::SUCCESSFUL));
        assert!(c.order(MerchantId::new(7), "A").is_none(), "untrusted before the first reading");
        c.observe(Ok(5));
        let t = c.ticket();
        c.fill_order(t, &order("A", StatusCode::SUCCESSFUL));
        c.fill_order(t, &order("P", StatusCode::PROCESSING));
        assert!(c.order(MerchantId::new(7), "A").is_some());
        assert!(c.order(MerchantId::new(7), "P").is_none(), "only final orders are kept");
        c.observe(Err(()));
        assert!(c.order(MerchantId::new(7), "A").is_none(), "a failed reading empties and distrusts");
        c.observe(Ok(5));
        assert!(c.order(MerchantId::new(7), "A").is_none(), "and what was held is gone");
    }

    #[test]
    fn a_moved_counter_or_a_clear_empties_and_voids_tickets_taken_before() {
        let c = Caches::new(true);
        c.observe(Ok(1));
        let before = c.ticket();
        c.fill_order(before, &order("A", StatusCode::SUCCESSFUL));
        c.observe(Ok(1));
        assert!(c.order(MerchantId::new(7), "A").is_some(), "an unchanged counter keeps entries");
        c.observe(Ok(2));
        assert!(c.order(MerchantId::new(7), "A").is_none(), "a moved counter empties");
        c.fill_order(before, &order("A", StatusCode::SUCCESSFUL));
        assert!(c.order(MerchantId::new(7), "A").is_none(), "a read from before the change fills nothing");
        let t = c.ticket();
        c.clear();
        c.fill_balance(t, AccountId::new(3), Amount::from_minor(5));
        assert!(c.balance(AccountId::new(3)).is_none());
    }

    #[test]
    fn a_forgotten_order_is_gone_and_a_read_from_before_cannot_put_it_back() {
        let c = Caches::new(true);
        c.observe(Ok(1));
        let before = c.ticket();
        c.fill_order(before, &order("A", StatusCode::SUCCESSFUL));
        c.fill_order(before, &order("B", StatusCode::SUCCESSFUL));
        c.forget_order(MerchantId::new(7), "A");
        assert!(c.order(MerchantId::new(7), "A").is_none());
        assert!(c.order(MerchantId::new(7), "B").is_some(), "only that order goes");
        c.fill_order(before, &order("A", StatusCode::SUCCESSFUL));
        assert!(c.order(MerchantId::new(7), "A").is_none(), "the old row read before fills nothing");
        c.fill_order(c.ticket(), &order("A", StatusCode::REFUND));
        assert_eq!(c.order(MerchantId::new(7), "A").unwrap().status, StatusCode::REFUND);
    }

    #[test]
    fn disabled_caches_hold_nothing() {
        let c = Caches::new(false);
        c.observe(Ok(1));
        c.fill_order(c.ticket(), &order("A", StatusCode::SUCCESSFUL));
        c.committed(&[(AccountId::new(3), Amount::from_minor(5))]);
        assert!(c.order(MerchantId::new(7), "A").is_none());
        assert!(c.balance(AccountId::new(3)).is_none());
    }
}
