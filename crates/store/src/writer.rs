//! The write session of the group-commit writer: one connection owned by one
//! thread, every order and ledger write inside its batch transaction.

use tambah_domain::{AccountId, Amount, CallbackId, MerchantId, OrderId, TransferId};

use crate::{
    AccountState, AttemptAnswer, AttemptRow, Inserted, LowBalanceWatch, NewAttempt, NewCallback, NewTransfer,
    OrderCallbacks, OrderRow, OrderTransfers, OrderUpdate, Result, SpendingCaps, StoreError,
};

/// One open write session (a connection owned by one thread). All primitives
/// act inside the transaction opened by `begin`.
pub trait Writer: Send {
    fn begin(&mut self) -> Result<()>;
    fn commit(&mut self) -> Result<()>;
    fn rollback(&mut self) -> Result<()>;
    /// Marks the start of one command inside the batch.
    fn savepoint(&mut self) -> Result<()>;
    fn release_savepoint(&mut self) -> Result<()>;
    fn rollback_to_savepoint(&mut self) -> Result<()>;

    /// Reads (and on backends that need it, locks) accounts; callers pass ids
    /// sorted ascending so that concurrent writers never deadlock.
    fn lock_balances(&mut self, sorted_ids: &[AccountId]) -> Result<Vec<(AccountId, AccountState)>>;
    /// Writes an account's balance and chain head.
    fn set_balance(&mut self, account_id: AccountId, state: &AccountState) -> Result<()>;

    fn find_order(&mut self, merchant_id: MerchantId, refid: &str) -> Result<Option<OrderRow>>;
    fn get_order(&mut self, order_id: OrderId) -> Result<Option<OrderRow>>;
    /// Inserts `order` (its `id` ignored) and returns the new id;
    /// `StoreError::Unique` when the merchant already has the refid.
    fn insert_order(&mut self, order: &OrderRow) -> Result<OrderId>;
    fn update_order(&mut self, update: &OrderUpdate) -> Result<()>;
    /// The HOLD transfer of an order and whether it has been resolved.
    fn order_hold(&mut self, order_id: OrderId) -> Result<Option<(TransferId, Amount, bool)>>;
    fn insert_transfer(&mut self, transfer: &NewTransfer) -> Result<TransferId>;

    /// Queues a callback (the outbox), inside the batch transaction.
    fn insert_callback(&mut self, callback: &NewCallback) -> Result<CallbackId>;
    /// The order's callbacks, counted (pending, and in all).
    fn order_callbacks(&mut self, order_id: OrderId) -> Result<OrderCallbacks>;
    /// The low-balance settings of the merchants owning these wallets (only
    /// those with a threshold set).
    fn low_balance_watch(&mut self, wallet_ids: &[AccountId]) -> Result<Vec<LowBalanceWatch>>;
    fn set_low_balance_notified(&mut self, merchant_id: MerchantId, notified: bool) -> Result<()>;
    /// Records an attempt at sending an order, before the network call;
    /// `StoreError::Unique` when its upstream reference was used.
    fn insert_attempt(&mut self, attempt: &NewAttempt) -> Result<()>;
    /// Records the answer to an attempt.
    fn answer_attempt(&mut self, answer: &AttemptAnswer) -> Result<()>;
    /// The order's latest attempt.
    fn last_attempt(&mut self, order_id: OrderId) -> Result<Option<AttemptRow>>;
    /// Whether one more order of `cost` stays within a capped merchant's
    /// caps for its Malaysia-time `day` (read under the batch's wallet lock).
    fn spend_fits(&mut self, merchant_id: MerchantId, day: i64, cost: Amount, caps: &SpendingCaps) -> Result<bool> {
        let (count, spent) = self.spend_of(merchant_id, day)?;
        let count_fits = caps.count.is_none_or(|cap| count < u64::from(cap));
        let amount_fits = caps.amount.is_none_or(|cap| spent.checked_add(cost).is_some_and(|after| after <= cap));
        Ok(count_fits && amount_fits)
    }
    /// A merchant's orders counted and their cost on a day.
    fn spend_of(&mut self, merchant_id: MerchantId, day: i64) -> Result<(u64, Amount)>;
    /// Counts an accepted order of `cost` in its merchant's `day`.
    fn add_spend(&mut self, merchant_id: MerchantId, day: i64, cost: Amount) -> Result<()>;
    /// Takes one unit of a product's stock: `None` when the product has no
    /// stock limit, `Some(false)` when it is out of stock.
    fn take_stock(&mut self, product: &str) -> Result<Option<bool>>;
    /// Counts a payment to a biller account in a month unless `limit` is
    /// reached; false when it is.
    fn count_bill_payment(&mut self, product: &str, account: &str, month: i64, limit: u32) -> Result<bool>;

    /// Inserts an order unless the merchant already has its refid, with its
    /// transfers (see `OrderTransfers`). Network backends override this to
    /// do it in one round trip; this default composes the primitives (fine
    /// where a failed statement does not abort the transaction, as on SQLite).
    fn insert_order_with_transfers(&mut self, order: &OrderRow, transfers: &OrderTransfers) -> Result<Inserted> {
        let order_id = match self.insert_order(order) {
            Ok(id) => id,
            Err(StoreError::Unique(_)) => return Ok(Inserted::Exists),
            Err(e) => return Err(e),
        };
        let mut hold_id = None;
        if let Some(hold) = &transfers.hold {
            hold_id = Some(self.insert_transfer(&NewTransfer { order_id: Some(order_id), ..hold.clone() })?);
        }
        if let Some(resolution) = &transfers.resolution {
            let pending_id = hold_id.ok_or_else(|| StoreError::Constraint("a resolution needs a hold".into()))?;
            self.insert_transfer(&NewTransfer {
                order_id: Some(order_id),
                pending_id: Some(pending_id),
                ..resolution.clone()
            })?;
        }
        Ok(Inserted::New { order_id, hold_id })
    }
}
