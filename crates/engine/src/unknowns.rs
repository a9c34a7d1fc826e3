//! Orders whose outcome is still unknown, for the operator: the list of
//! those older than an age, and their resolution by hand once the provider's
//! answer is known some other way (its portal, its support). A resolution is
//! audited: it is recorded on the order's last attempt with the reason, and
//! it moves the order and its hold exactly as a provider's answer would.

use tambah_domain::StatusCode;
use tambah_store::{AttemptRow, MerchantRow, OrderRow, StoreError};

use crate::disputes::DisputeError;
use crate::providers::{Answer, Delivery, Outcome};
use crate::Engine;

/// Orders listed at most.
pub const PENDING_LIST_MAX: u32 = 1_000;

/// A pending order with who it belongs to and where it was sent.
#[derive(Clone, Debug)]
pub struct PendingOrder {
    pub order: OrderRow,
    pub merchant_account: String,
    /// The last attempt at a configured provider, if any.
    pub attempt: Option<AttemptRow>,
}

/// What the operator learned about an order.
#[derive(Clone, Debug)]
pub enum HandResolution {
    Delivered { sn: String },
    Failed { reason: String },
}

impl Engine {
    /// Orders still Accepted or Processing that were created more than
    /// `older_than_ms` ago, oldest first.
    pub async fn pending_orders(&self, older_than_ms: i64) -> Result<Vec<PendingOrder>, StoreError> {
        let cut = self.now_ms() - older_than_ms;
        let mut out = Vec::new();
        for order in self.store().pending_orders(cut, PENDING_LIST_MAX).await? {
            let merchant_account =
                self.store().merchant(order.merchant_id).await?.map(|m| m.account).unwrap_or_default();
            let attempt = self.store().attempts(order.id).await?.pop();
            out.push(PendingOrder { order, merchant_account, attempt });
        }
        Ok(out)
    }

    /// Settles a pending order by hand. Only Accepted and Processing orders
    /// can be; the reason (and who said so) goes to the attempt log.
    pub async fn resolve_by_hand(
        &self,
        merchant: &MerchantRow,
        refid: &str,
        resolution: &HandResolution,
    ) -> Result<OrderRow, DisputeError> {
        let failed = |e: StoreError| DisputeError::Failed(e.to_string());
        let order = self
            .store()
            .order_by_refid(merchant.id, refid)
            .await
            .map_err(failed)?
            .ok_or_else(|| DisputeError::NotFound(format!("no transaction with refid {refid:?}")))?;
        if order.status.is_final() {
            return Err(DisputeError::NotPending(Box::new(order)));
        }
        let (outcome, note) = match resolution {
            HandResolution::Delivered { sn } => (
                Outcome::Delivered(Delivery { sn: sn.clone(), ..Delivery::default() }),
                format!("resolved by hand: delivered (sn {sn:?})"),
            ),
            HandResolution::Failed { reason } => (
                Outcome::Declined { code: StatusCode::REJECTED, reason: reason.clone() },
                format!("resolved by hand: failed: {reason}"),
            ),
        };
        let attempt = self.store().attempts(order.id).await.map_err(failed)?.pop().map(|a| a.attempt);
        tracing::warn!(order = %order.id, refid, %note, "an order was resolved by hand");
        let answer = Answer { outcome, upstream_code: crate::orders::OPERATOR.into(), excerpt: note, cost: None };
        let after = self
            .record_answer(merchant, order.id, answer, attempt)
            .await
            .map_err(|e| DisputeError::Failed(e.to_string()))?;
        // An answer that came in meanwhile settled it first: this one changed nothing.
        let wanted = match resolution {
            HandResolution::Delivered { .. } => StatusCode::SUCCESSFUL,
            HandResolution::Failed { .. } => StatusCode::REJECTED,
        };
        if after.status != wanted {
            return Err(DisputeError::NotPending(Box::new(after)));
        }
        Ok(after)
    }
}

/// What became of a provider's callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prompt {
    /// The order will be asked about, if it may be.
    Noted,
    /// No current attempt of ours at that provider has that reference.
    Unknown,
    /// The provider signs its callbacks and this one is not signed right.
    BadSignature,
}

/// How far a callback's signed time may be from ours, in seconds.
const SIGNATURE_WINDOW_S: i64 = 300;

impl Engine {
    /// A provider's callback about our reference `upstream_ref`: only a
    /// prompt to ask that provider (never proof on its own). When the
    /// provider has a callback secret, the `X-Signature` over `payload` (the
    /// body, or the query of a GET) must check out first.
    pub async fn upstream_callback(
        &self,
        provider: &str,
        upstream_ref: &str,
        signature: Option<&str>,
        payload: &[u8],
    ) -> Prompt {
        let Ok(row) = self.provider_row(provider).await else { return Prompt::Unknown };
        if let Ok(crate::providers::config::Credentials::ApiKey { callback_secret: Some(secret), .. }) =
            self.provider_credentials(provider).await
        {
            let now_s = self.now_ms() / 1000;
            if !signature.is_some_and(|s| signed_by(s, &secret, payload, now_s)) {
                return Prompt::BadSignature;
            }
        }
        let Some(order_id) = order_of_reference(&row.ref_prefix, upstream_ref) else { return Prompt::Unknown };
        let Ok(Some(order)) = self.store().order(order_id).await else { return Prompt::Unknown };
        // Only about the order's current attempt: an older reference is
        // settled (it failed over), and asking about it could place it anew.
        let Ok(attempts) = self.store().attempts(order.id).await else { return Prompt::Unknown };
        if !attempts.last().is_some_and(|a| a.upstream_ref == upstream_ref && a.provider_id == row.id) {
            return Prompt::Unknown;
        }
        let engine = self.arc();
        tokio::spawn(async move {
            if let Err(e) = engine.recheck(order).await {
                tracing::warn!(error = %e, "provider callback: the query failed; the reconciler will ask again");
            }
        });
        Prompt::Noted
    }
}

/// `t=<unix>,v1=<hex>[,v1=<hex>]` with a `v1` equal to the one `secret`
/// gives for `t` and `payload` (see `callbacks::signature`), and `t` within
/// the window.
fn signed_by(header: &str, secret: &str, payload: &[u8], now_s: i64) -> bool {
    let mut t = None;
    let mut given = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => given.push(v.to_owned()),
            _ => {}
        }
    }
    let Some(t) = t.filter(|t| (now_s - t).abs() <= SIGNATURE_WINDOW_S) else { return false };
    let expected = crate::callbacks::signature(&[secret.to_owned()], t, payload);
    let Some(expected) = expected.split(",v1=").nth(1) else { return false };
    given.iter().any(|g| constant_time_eq(g.as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The order id in one of our upstream references (`<prefix><order id>-<attempt>`).
fn order_of_reference(prefix: &str, reference: &str) -> Option<tambah_domain::OrderId> {
    let (order, _attempt) = reference.strip_prefix(prefix)?.split_once('-')?;
    order.parse().ok().map(tambah_domain::OrderId::new)
}

/// An attempt with its provider's name, for the operator.
#[derive(Clone, Debug)]
pub struct AttemptView {
    pub provider: String,
    pub attempt: AttemptRow,
}

impl Engine {
    /// A merchant's order and every attempt at sending it, first first.
    pub async fn order_attempts(
        &self,
        merchant: &MerchantRow,
        refid: &str,
    ) -> Result<Option<(OrderRow, Vec<AttemptView>)>, StoreError> {
        let Some(order) = self.store().order_by_refid(merchant.id, refid).await? else { return Ok(None) };
        let names: std::collections::HashMap<_, _> =
            self.store().providers().await?.into_iter().map(|p| (p.id, p.name)).collect();
        let attempts = self.store().attempts(order.id).await?;
        let views = attempts
            .into_iter()
            .map(|a| AttemptView { provider: names.get(&a.provider_id).cloned().unwrap_or_default(), attempt: a })
            .collect();
        Ok(Some((order, views)))
    }
}
