//! The operator console's order queue, disputes, system page, catalogue
//! and merchant settings: thin use cases over the engine's own
//! (`pending_orders` and `resolve_by_hand`, `resolve_dispute` and its
//! refund, `verify`, `import_catalog`, `set_stock`, `update_merchant`) that
//! the console calls with the signed-in operator, each action written to
//! the audit log with who took it. Nothing here moves money itself: a
//! refund is the engine's refund (the ledger's REFUND entry), a resolution
//! the engine's answer.

use std::collections::HashMap;

use tambah_domain::{DisputeId, MerchantId};
use tambah_store::{Check, DisputeRow, MerchantRow, OperatorRow, OrderQuery, OrderRow, StatusGroup, StoreError};

use crate::catalog::StockLevels;
use crate::disputes::DisputeError;
use crate::merchants::{AdminError, MerchantChanges};
use crate::unknowns::{AttemptView, HandResolution, PendingOrder};
use crate::Engine;

/// Orders one search lists at most.
pub const SEARCH_MAX: usize = 100;
/// Resolved disputes listed after the open ones, the latest first.
pub const RESOLVED_SHOWN: usize = 50;
/// The audit action of a ledger verification; its detail holds the result.
pub const VERIFY_ACTION: &str = "ledger verify";
/// Audit entries looked through for the last verification.
const VERIFY_LOOKBACK: u32 = 500;
/// The longest reason or resolution an operator writes.
const TEXT_MAX: usize = 200;

/// What the operator searches orders by.
#[derive(Clone, Debug, Default)]
pub struct OrderSearch {
    /// The exact refid (empty: any).
    pub refid: String,
    /// The merchant's account number (empty: every merchant that used the refid).
    pub account: String,
    /// One status group (none: any status).
    pub status: Option<StatusGroup>,
}

/// An order found by a search, with its merchant's account number.
#[derive(Clone, Debug)]
pub struct FoundOrder {
    pub order: OrderRow,
    pub merchant_account: String,
}

/// An order of the queue still waiting for its outcome, with every attempt
/// at sending it (none for the staging simulator).
#[derive(Clone, Debug)]
pub struct QueuedOrder {
    pub pending: PendingOrder,
    pub attempts: Vec<AttemptView>,
}

/// A dispute with its merchant's account number and its order.
#[derive(Clone, Debug)]
pub struct DisputeCase {
    pub dispute: DisputeRow,
    pub merchant_account: String,
    pub order: Option<OrderRow>,
}

/// The result of a ledger verification run from the console, as its audit
/// entry keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyRun {
    pub at_ms: i64,
    pub operator_email: String,
    pub checks: usize,
    /// Every violation counted (more than listed when a check has many).
    pub violations: usize,
    /// The violations listed, each as `check: text`.
    pub lines: Vec<String>,
}

impl Engine {
    async fn console_audit(
        &self,
        op: &OperatorRow,
        action: &str,
        merchant: Option<MerchantId>,
        detail: &str,
    ) -> Result<(), AdminError> {
        Ok(self.store().record_audit(op.id, action, merchant, detail, self.now_ms()).await?)
    }

    /// Orders of one merchant, or of every merchant that used a refid, in
    /// the listing's order (newest first), at most [`SEARCH_MAX`].
    pub async fn search_orders(&self, search: &OrderSearch) -> Result<Vec<FoundOrder>, AdminError> {
        let refid = search.refid.trim();
        let account = search.account.trim();
        let merchants = if !account.is_empty() {
            vec![self.merchant_by_account(account).await?]
        } else if !refid.is_empty() {
            self.merchants_with_refid(refid).await?
        } else {
            return Err(AdminError::Invalid("search by refid, by merchant account, or both".into()));
        };
        let mut found = Vec::new();
        for m in merchants {
            let query = OrderQuery {
                merchant_id: m.id,
                statuses: search.status.into_iter().collect(),
                refid: (!refid.is_empty()).then(|| refid.to_owned()),
                limit: SEARCH_MAX as u32,
                ..OrderQuery::default()
            };
            let (rows, _) = self.reports().transactions(&query).await?;
            found.extend(rows.into_iter().map(|order| FoundOrder { order, merchant_account: m.account.clone() }));
            if found.len() >= SEARCH_MAX {
                found.truncate(SEARCH_MAX);
                break;
            }
        }
        Ok(found)
    }

    /// The orders still Accepted or Processing after `older_than_ms`
    /// (`pending_orders`), each with its attempts and their providers.
    pub async fn order_queue(&self, older_than_ms: i64) -> Result<Vec<QueuedOrder>, AdminError> {
        let pending = self.pending_orders(older_than_ms).await?;
        let names: HashMap<_, _> = self.store().providers().await?.into_iter().map(|p| (p.id, p.name)).collect();
        let mut queue = Vec::with_capacity(pending.len());
        for p in pending {
            let attempts = self
                .store()
                .attempts(p.order.id)
                .await?
                .into_iter()
                .map(|a| AttemptView { provider: names.get(&a.provider_id).cloned().unwrap_or_default(), attempt: a })
                .collect();
            queue.push(QueuedOrder { pending: p, attempts });
        }
        Ok(queue)
    }

    /// Settles a pending order by hand (`resolve_by_hand`, as `tambah order
    /// resolve` does); a failure's reason names the operator on the attempt.
    pub async fn console_resolve_order(
        &self,
        op: &OperatorRow,
        account: &str,
        refid: &str,
        resolution: &HandResolution,
    ) -> Result<OrderRow, AdminError> {
        let merchant = self.merchant_by_account(account.trim()).await?;
        let resolution = match resolution {
            HandResolution::Delivered { sn } => HandResolution::Delivered { sn: bounded("serial", sn, true)? },
            HandResolution::Failed { reason } => {
                let reason = bounded("reason", reason, false)?;
                HandResolution::Failed { reason: format!("{reason} (operator {})", op.email) }
            }
        };
        let order = self.resolve_by_hand(&merchant, refid, &resolution).await.map_err(refused)?;
        let detail = match &resolution {
            HandResolution::Delivered { sn } => {
                format!("refid {refid}: delivered (sn {sn:?}), status {}", order.status)
            }
            HandResolution::Failed { reason } => format!("refid {refid}: failed: {reason}, status {}", order.status),
        };
        self.console_audit(op, "resolve order", Some(merchant.id), &detail).await?;
        Ok(order)
    }

    /// The open disputes (oldest first), then the latest resolved ones.
    pub async fn dispute_cases(&self) -> Result<Vec<DisputeCase>, AdminError> {
        let mut all = self.disputes(false).await?;
        let (mut resolved, open): (Vec<_>, Vec<_>) = all.drain(..).partition(|d| d.state != "open");
        resolved.sort_by_key(|d| std::cmp::Reverse((d.resolved_at_ms, d.id)));
        resolved.truncate(RESOLVED_SHOWN);
        let mut accounts: HashMap<MerchantId, String> = HashMap::new();
        let mut cases = Vec::new();
        for dispute in open.into_iter().chain(resolved) {
            let merchant_account = match accounts.get(&dispute.merchant_id) {
                Some(account) => account.clone(),
                None => {
                    let m = self.store().merchant(dispute.merchant_id).await?;
                    let account = m.map(|m| m.account).unwrap_or_default();
                    accounts.insert(dispute.merchant_id, account.clone());
                    account
                }
            };
            let order = self.store().order(dispute.order_id).await?;
            cases.push(DisputeCase { dispute, merchant_account, order });
        }
        Ok(cases)
    }

    /// Closes an open dispute (`resolve_dispute`, as `tambah dispute
    /// resolve` does): with `refund`, the engine's refund returns the cost
    /// through the ledger first. A dispute already closed is not found, so
    /// a form sent twice refunds once.
    pub async fn console_resolve_dispute(
        &self,
        op: &OperatorRow,
        id: DisputeId,
        refund: bool,
        resolution: &str,
    ) -> Result<DisputeRow, AdminError> {
        let mut resolution = bounded("resolution", resolution, true)?;
        if resolution.is_empty() {
            resolution = if refund { "refunded by the operator" } else { "rejected by the operator" }.to_owned();
        }
        let d = self.resolve_dispute(id, &resolution, refund).await.map_err(refused)?;
        let action = if refund { "refund dispute" } else { "reject dispute" };
        let detail = format!("dispute {id}, refid {}: {resolution}", d.refid);
        self.console_audit(op, action, Some(d.merchant_id), &detail).await?;
        Ok(d)
    }

    /// Every ledger invariant checked (as `tambah verify`); the result is
    /// kept in the audit entry, where [`Engine::last_ledger_verify`] reads it.
    pub async fn console_verify(&self, op: &OperatorRow) -> Result<VerifyRun, AdminError> {
        let checks = self.verify().await?;
        let detail = verify_detail(&checks);
        self.console_audit(op, VERIFY_ACTION, None, &detail).await?;
        let run = parse_verify(self.now_ms(), &op.email, &detail);
        run.ok_or_else(|| AdminError::Store("a verification's result did not read back".into()))
    }

    /// The latest verification run from the console, if one is among the
    /// recent audit entries.
    pub async fn last_ledger_verify(&self) -> Result<Option<VerifyRun>, AdminError> {
        let entries = self.audit_log(VERIFY_LOOKBACK).await?;
        let last = entries.into_iter().find(|a| a.action == VERIFY_ACTION);
        Ok(last.and_then(|a| parse_verify(a.created_at_ms, &a.operator_email, &a.detail)))
    }

    /// Checks a catalogue and makes it the active one (`import_catalog`, as
    /// `tambah catalog import` does): this node loads it at once, the others
    /// within seconds. A catalogue that does not parse is `Invalid` with the
    /// parser's words. Returns the version and the product count.
    pub async fn console_import_catalog(&self, op: &OperatorRow, json: &str) -> Result<(i64, usize), AdminError> {
        if json.trim().is_empty() {
            return Err(AdminError::Invalid("no catalogue was given: paste the catalogue's JSON".into()));
        }
        crate::catalog::parse(json).map_err(AdminError::Invalid)?;
        let (version, products) = self.import_catalog(json).await.map_err(AdminError::Store)?;
        self.console_audit(op, "import catalogue", None, &format!("version {version}: {products} products")).await?;
        if let Err(e) = self.reload_catalog().await {
            tracing::warn!(error = %e, "the imported catalogue is not loaded yet; the next reload retries");
        }
        Ok((version, products))
    }

    /// The units left of every product whose stock is counted (a PIN or
    /// voucher product not listed has unlimited stock).
    pub async fn stock_levels(&self) -> Result<StockLevels, AdminError> {
        Ok(self.store().stock_levels().await?)
    }

    /// Sets a PIN or voucher product's stock (`set_stock`, as `tambah catalog
    /// stock` does; `None`: unlimited).
    pub async fn console_set_stock(
        &self,
        op: &OperatorRow,
        product: &str,
        remaining: Option<u64>,
    ) -> Result<(), AdminError> {
        let product = product.trim();
        let counted = self.catalog().get(product).is_some_and(|p| p.family.delivers_pin());
        // For a product that counts stock, a refusal can only be the store's.
        let refused = |e: String| if counted { AdminError::Store(e) } else { AdminError::Invalid(e) };
        self.set_stock(product, remaining).await.map_err(refused)?;
        let detail = match remaining {
            Some(n) => format!("product {product}: {n} units left"),
            None => format!("product {product}: unlimited"),
        };
        self.console_audit(op, "set stock", None, &detail).await
    }

    /// Sets a merchant's pricing level (`update_merchant`, as `tambah
    /// merchant update --level` does).
    pub async fn console_set_level(
        &self,
        op: &OperatorRow,
        account: &str,
        level: &str,
    ) -> Result<MerchantRow, AdminError> {
        let account = account.trim();
        let before = self.merchant_by_account(account).await?;
        let changes = MerchantChanges { level: Some(level.trim().to_owned()), ..MerchantChanges::default() };
        let after = self.update_merchant(account, &changes).await?;
        let detail = format!("from {} to {}", before.level, after.level);
        self.console_audit(op, "set level", Some(after.id), &detail).await?;
        Ok(after)
    }

    /// Every node's last heartbeat (written when its `/health` is asked), the latest first.
    pub async fn node_heartbeats(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.store().node_heartbeats().await
    }
}

/// An operator's text, trimmed, of at most [`TEXT_MAX`] characters (and at
/// least one unless `may_be_empty`).
fn bounded(what: &str, text: &str, may_be_empty: bool) -> Result<String, AdminError> {
    let text = text.trim();
    if (text.is_empty() && !may_be_empty) || text.chars().count() > TEXT_MAX {
        let least = if may_be_empty { 0 } else { 1 };
        return Err(AdminError::Invalid(format!("the {what} takes {least}-{TEXT_MAX} characters")));
    }
    Ok(text.to_owned())
}

/// A refusal of the order and dispute use cases, in the console's terms.
fn refused(e: DisputeError) -> AdminError {
    match e {
        DisputeError::NotFound(m) => AdminError::NotFound(m),
        e @ (DisputeError::NotRefundable(_) | DisputeError::NotPending(_)) => AdminError::Invalid(e.to_string()),
        DisputeError::Failed(m) => AdminError::Store(m),
    }
}

/// A verification as its audit detail: a first line with the counts, then
/// each violation listed, one a line.
fn verify_detail(checks: &[Check]) -> String {
    let violations: usize = checks.iter().map(|c| c.found).sum();
    let mut detail = format!("{violations} violations in {} checks", checks.len());
    for c in checks {
        for v in &c.violations {
            detail.push('\n');
            detail.push_str(&format!("{}: {}", c.name, v.replace('\n', " ")));
        }
    }
    detail
}

fn parse_verify(at_ms: i64, operator_email: &str, detail: &str) -> Option<VerifyRun> {
    let mut lines = detail.lines();
    let mut words = lines.next()?.split(' ');
    let violations = words.next()?.parse().ok()?;
    let checks = words.nth(2)?.parse().ok()?;
    let lines = lines.map(str::to_owned).collect();
    Some(VerifyRun { at_ms, operator_email: operator_email.to_owned(), checks, violations, lines })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, violations: &[&str], found: usize) -> Check {
        Check {
            name: name.into(),
            examined: 3,
            violations: violations.iter().map(|v| (*v).to_owned()).collect(),
            found,
        }
    }

    #[test]
    fn a_verification_reads_back_from_its_audit_detail() {
        let clean = verify_detail(&[check("a", &[], 0), check("b", &[], 0)]);
        assert_eq!(clean, "0 violations in 2 checks");
        let run = parse_verify(5, "o@example.com", &clean).unwrap();
        assert_eq!((run.violations, run.checks, run.lines.len()), (0, 2, 0));
        let broken = verify_detail(&[check("a", &["x is 1\nnot 2", "y", "... and 7 more"], 9), check("b", &[], 0)]);
        let run = parse_verify(5, "o@example.com", &broken).unwrap();
        assert_eq!((run.violations, run.checks), (9, 2));
        assert_eq!(run.lines, ["a: x is 1 not 2", "a: y", "a: ... and 7 more"]);
        assert!(parse_verify(5, "o", "").is_none());
    }

    #[test]
    fn an_operators_text_is_bounded() {
        assert_eq!(bounded("reason", "  late  ", false).unwrap(), "late");
        assert!(bounded("reason", " ", false).is_err());
        assert_eq!(bounded("serial", "", true).unwrap(), "");
        assert!(bounded("serial", &"x".repeat(TEXT_MAX + 1), true).is_err());
    }
}
