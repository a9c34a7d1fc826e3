//! `tambah provider test NAME --product CODE --account NUMBER`: an order put
//! to a provider to be checked, not bought (Ding's `ValidateOnly`), through
//! the product's route there. Nothing is debited, no order or attempt is
//! written, and the reference it carries is never one of an order's.

use tambah_domain::{Amount, MerchantId, OrderId, StatusCode};

use super::{Answer, Outcome, ProviderOrder};
use crate::credentials::random_alnum;
use crate::merchants::AdminError;
use crate::Engine;

impl Engine {
    /// Checks an order of `amount` for `product` on `account` at provider
    /// `name`, with the upstream product of its route there. `Ok`: what the
    /// provider says it would send and deliver; `Err`: what a real send would
    /// have met, no route, or a provider without such a check.
    pub async fn check_at_provider(
        &self,
        name: &str,
        product: &str,
        account: &str,
        amount: Amount,
    ) -> Result<String, AdminError> {
        if amount.minor() <= 0 {
            return Err(AdminError::Invalid("the amount must be greater than 0".into()));
        }
        let row = self.provider_row(name).await?;
        let connector = self.connector(&row).ok_or_else(|| {
            AdminError::Invalid(format!("provider {name}: this build cannot connect to it (see the log)"))
        })?;
        let routes = self.store().routes().await?;
        let route = routes
            .iter()
            .find(|r| r.provider_id == row.id && r.product == product)
            .ok_or_else(|| AdminError::NotFound(format!("no route of {product} to {name}")))?;
        let now_ms = self.now_ms();
        let order = ProviderOrder {
            order_id: OrderId::new(0),
            merchant_id: MerchantId::new(0),
            refid: String::new(),
            product: product.to_owned(),
            account: account.to_owned(),
            amount,
            status: StatusCode::PROCESSING,
            created_at_ms: now_ms,
            upstream_product: route.upstream_product.clone(),
            // Orders' references are the prefix, digits and `-`: a letter
            // after the prefix keeps this one apart from all of them.
            upstream_ref: format!("{}v{}", row.ref_prefix, random_alnum(8)),
            extras: Default::default(),
        };
        let Some(check) = connector.validate(&order, now_ms) else {
            return Err(AdminError::Invalid(format!(
                "provider {name} ({}) cannot check an order without buying it",
                row.kind.as_str()
            )));
        };
        check
            .await
            .map_err(|answer| AdminError::Invalid(format!("provider {name} would not take it: {}", said(&answer))))
    }
}

/// A refusal in words, with the provider's own code.
fn said(answer: &Answer) -> String {
    let what = match &answer.outcome {
        Outcome::Declined { code, reason } => format!("declined ({code}): {reason}"),
        Outcome::Unavailable { reason } => format!("unavailable: {reason}"),
        Outcome::Pending { .. } => "no clear answer".to_owned(),
        other => format!("{other:?}"),
    };
    if answer.upstream_code.is_empty() {
        what
    } else {
        format!("{what} [{}]", answer.upstream_code)
    }
}
