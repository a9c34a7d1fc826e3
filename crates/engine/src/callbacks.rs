//! Callbacks: the merchant's URL and method, the signing secrets (with a
//! rotation overlap), the signature, and manual redelivery (limited: not
//! while one is pending, and [`CALLBACKS_PER_ORDER_MAX`] per order). Queuing
//! happens in the writer (the outbox row is written with the status change);
//! delivery is the `tambah-delivery` worker, through [`crate::outbox`].

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tambah_domain::{CallbackId, MerchantId};
use tambah_store::{CallbackSecrets, MerchantRow, OrderRow, StoreError};

use crate::credentials::random_bytes;
use crate::writer::{Redeliver, Redelivered, WriteError};
use crate::Engine;

/// How long the previous secret stays valid after a rotation.
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3_600_000;

/// Callbacks one order may have in all: its own (one per final status) and
/// redeliveries; a redelivery beyond is refused.
pub const CALLBACKS_PER_ORDER_MAX: u32 = 10;

/// `X-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`: HMAC-SHA256 of `"<t>.<payload>"`
/// under each valid secret (its text is the key), newest first.
pub fn signature(secrets: &[String], t: i64, payload: &[u8]) -> String {
    let mut out = format!("t={t}");
    for secret in secrets {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(",v1=");
        out.push_str(&hex);
    }
    out
}

fn new_secret() -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    format!("tbh_whsec_{}", URL_SAFE_NO_PAD.encode(random_bytes(24)))
}

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("{0}")]
    NotFound(String),
    /// A callback of the order is still pending: redeliver once it is not.
    #[error("{0}")]
    Pending(String),
    /// The order has had [`CALLBACKS_PER_ORDER_MAX`] callbacks.
    #[error("{0}")]
    Limit(String),
    /// The merchant has no callback URL: a redelivery could only fail.
    #[error("{0}")]
    NoUrl(String),
    #[error("{0}")]
    Store(String),
}

impl From<StoreError> for CallbackError {
    fn from(e: StoreError) -> Self {
        CallbackError::Store(e.to_string())
    }
}

impl From<WriteError> for CallbackError {
    fn from(e: WriteError) -> Self {
        CallbackError::Store(e.to_string())
    }
}

impl Engine {
    pub async fn set_callback_url(&self, merchant: &MerchantRow, url: &str, method: &str) -> Result<(), StoreError> {
        self.store().set_callback_url(merchant.id, url, method).await?;
        self.caches.clear();
        // A merchant who sets a URL gets a signing secret at once.
        self.callback_secrets(merchant.id).await.map(|_| ())
    }

    /// The valid signing secrets, newest first (creating the first one).
    pub async fn callback_secrets(&self, merchant_id: MerchantId) -> Result<Vec<String>, StoreError> {
        let stored = self.store().callback_secrets(merchant_id).await?;
        let open = |sealed: &[u8]| -> Result<String, StoreError> {
            let bytes = self.master_key().open(sealed).map_err(StoreError::Other)?;
            String::from_utf8(bytes).map_err(|e| StoreError::Other(e.to_string()))
        };
        let current = match &stored.current {
            Some(sealed) => open(sealed)?,
            None => {
                let secret = new_secret();
                let sealed = self.master_key().seal(secret.as_bytes());
                self.store()
                    .set_callback_secrets(merchant_id, &CallbackSecrets { current: Some(sealed), previous: None })
                    .await?;
                secret
            }
        };
        let mut out = vec![current];
        if let Some((sealed, until_ms)) = &stored.previous {
            if *until_ms > self.now_ms() {
                out.push(open(sealed)?);
            }
        }
        Ok(out)
    }

    /// A new secret; the old one keeps signing for `ROTATION_OVERLAP_MS`.
    pub async fn rotate_callback_secret(&self, merchant_id: MerchantId) -> Result<String, StoreError> {
        let stored = self.store().callback_secrets(merchant_id).await?;
        let secret = new_secret();
        let previous = stored.current.map(|sealed| (sealed, self.now_ms() + ROTATION_OVERLAP_MS));
        let secrets = CallbackSecrets { current: Some(self.master_key().seal(secret.as_bytes())), previous };
        self.store().set_callback_secrets(merchant_id, &secrets).await?;
        self.caches.clear();
        Ok(secret)
    }

    /// Every callback of the merchant's order `refid` with its attempts;
    /// `None` when the merchant has no such order.
    pub async fn callback_log(
        &self,
        merchant_id: MerchantId,
        refid: &str,
    ) -> Result<Option<(OrderRow, tambah_store::CallbackLog)>, StoreError> {
        let Some(order) = self.store().order_by_refid(merchant_id, refid).await? else { return Ok(None) };
        let log = self.store().callback_log(order.id).await?;
        Ok(Some((order, log)))
    }

    /// Queues the order's current status for delivery again, unless the
    /// merchant has no callback URL (it would only fail), a callback of the
    /// order is still pending or the order has had
    /// [`CALLBACKS_PER_ORDER_MAX`] (checked and queued in one writer
    /// transaction, so two requests at once cannot both pass).
    pub async fn redeliver(&self, merchant: &MerchantRow, refid: &str) -> Result<CallbackId, CallbackError> {
        if merchant.callback_url.is_empty() {
            let message = format!("merchant {} has no callback URL: there is nothing to deliver to", merchant.account);
            return Err(CallbackError::NoUrl(message));
        }
        let order = self
            .store()
            .order_by_refid(merchant.id, refid)
            .await?
            .ok_or_else(|| CallbackError::NotFound(format!("no transaction with refid {refid:?}")))?;
        let done = self
            .writer()
            .run(Redeliver {
                order_id: order.id,
                wallet_id: merchant.wallet_id,
                max_callbacks: CALLBACKS_PER_ORDER_MAX,
                now_ms: self.now_ms(),
            })
            .await?;
        match done {
            Redelivered::Queued(id) => Ok(id),
            Redelivered::Pending => Err(CallbackError::Pending(format!(
                "a callback of {refid:?} is still pending; redeliver once it is delivered or has failed"
            ))),
            Redelivered::Limit => Err(CallbackError::Limit(format!(
                "{refid:?} has had {CALLBACKS_PER_ORDER_MAX} callbacks, the most an order may have"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_covers_time_and_payload_with_every_secret() {
        let one = signature(&["whsec_a".into()], 1_700_000_000, b"{}");
        assert!(one.starts_with("t=1700000000,v1="));
        assert_eq!(one.matches("v1=").count(), 1);
        let two = signature(&["whsec_a".into(), "whsec_b".into()], 1_700_000_000, b"{}");
        assert!(two.starts_with(&one), "the newest secret signs first");
        assert_eq!(two.matches("v1=").count(), 2);
        assert_ne!(signature(&["whsec_a".into()], 1_700_000_001, b"{}"), one);
        assert_ne!(signature(&["whsec_a".into()], 1_700_000_000, b"{ }"), one);
    }
}
