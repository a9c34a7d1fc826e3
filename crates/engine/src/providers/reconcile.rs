//! Reconciliation with a provider: our attempts of a day against the
//! provider's own list of that day, by upstream reference. Any difference —
//! an order one side has and the other not, another status, another amount —
//! is listed for the operator (`tambah reconcile`, which exits non-zero).

use std::collections::BTreeMap;

use tambah_domain::{time, Amount};
use tambah_store::{AttemptOutcome, AttemptRow};

use super::UpstreamTransaction;
use crate::merchants::AdminError;
use crate::Engine;

/// What differs for one reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DifferenceKind {
    /// We sent it (and it was not refused before reaching them); they do not list it.
    MissingUpstream,
    /// They list it; we have no attempt under that reference that day.
    MissingHere,
    /// Both have it, with outcomes that disagree.
    Status,
    /// Both have it, for different amounts.
    Amount,
    /// They list the reference more than once (a reference paid twice).
    Duplicate,
}

impl DifferenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DifferenceKind::MissingUpstream => "missing_upstream",
            DifferenceKind::MissingHere => "missing_here",
            DifferenceKind::Status => "status",
            DifferenceKind::Amount => "amount",
            DifferenceKind::Duplicate => "duplicate_upstream",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub reference: String,
    pub kind: DifferenceKind,
    /// Our side (attempt outcome, or amount), when we have it.
    pub ours: String,
    /// Their side (status code, or amount), when they have it.
    pub theirs: String,
}

/// One provider's day, reconciled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reconciliation {
    pub provider: String,
    pub day: String,
    /// Our attempts at the provider that day, and their transactions.
    pub ours: usize,
    pub theirs: usize,
    pub differences: Vec<Difference>,
}

/// Whether our attempt's outcome and their status say the same.
fn agree(ours: AttemptOutcome, theirs: Option<AttemptOutcome>) -> bool {
    match ours {
        AttemptOutcome::Sent | AttemptOutcome::Unknown => theirs.is_none(),
        settled => theirs == Some(settled),
    }
}

impl Engine {
    /// Our attempts at `provider` on the Malaysia-time day `day`
    /// (`yyyy-MM-dd`) against the provider's own list.
    pub async fn reconcile(&self, provider: &str, day: &str) -> Result<Reconciliation, AdminError> {
        // One day, as the provider's list is asked for one day.
        let d = time::parse_date(day).map_err(AdminError::Invalid)?;
        let (from_ms, to_ms) = (time::day_start_ms(d), time::day_start_ms(d + 1));
        let row = self.provider_row(provider).await?;
        let connector = self
            .connector(&row)
            .ok_or_else(|| AdminError::Invalid(format!("provider {provider}: this build cannot connect to it")))?;
        let ours = self.store().attempts_sent(row.id, from_ms, to_ms).await?;
        let theirs = connector.transactions(day).await.map_err(|e| AdminError::Store(format!("{provider}: {e}")))?;
        let (n_ours, n_theirs) = (ours.len(), theirs.len());
        let mut differences = Vec::new();
        let mut listed: BTreeMap<String, UpstreamTransaction> = BTreeMap::new();
        for t in theirs {
            if let Some(first) = listed.get(&t.reference) {
                differences.push(Difference {
                    reference: t.reference.clone(),
                    kind: DifferenceKind::Duplicate,
                    ours: first.code.clone(),
                    theirs: t.code.clone(),
                });
                continue;
            }
            listed.insert(t.reference.clone(), t);
        }
        for attempt in ours {
            let theirs = listed.remove(&attempt.upstream_ref);
            differences.extend(self.compare(&attempt, theirs).await?);
        }
        differences.extend(listed.into_values().map(|t| Difference {
            reference: t.reference,
            kind: DifferenceKind::MissingHere,
            ours: String::new(),
            theirs: t.code,
        }));
        Ok(Reconciliation { provider: row.name, day: day.to_owned(), ours: n_ours, theirs: n_theirs, differences })
    }

    /// The differences of one attempt with the provider's record of it.
    async fn compare(
        &self,
        attempt: &AttemptRow,
        theirs: Option<UpstreamTransaction>,
    ) -> Result<Vec<Difference>, AdminError> {
        let reference = attempt.upstream_ref.clone();
        let ours = attempt.outcome.as_str().to_owned();
        let Some(t) = theirs else {
            // Refused before it reached them: nothing for them to list.
            if attempt.outcome == AttemptOutcome::NotSent {
                return Ok(Vec::new());
            }
            return Ok(vec![Difference {
                reference,
                kind: DifferenceKind::MissingUpstream,
                ours,
                theirs: String::new(),
            }]);
        };
        let mut out = Vec::new();
        if !agree(attempt.outcome, t.settled) {
            out.push(Difference { reference: reference.clone(), kind: DifferenceKind::Status, ours, theirs: t.code });
        }
        let amount = self.store().order(attempt.order_id).await?.map_or(Amount::ZERO, |o| o.amount);
        if amount != t.amount {
            out.push(Difference {
                reference,
                kind: DifferenceKind::Amount,
                ours: amount.to_plain(),
                theirs: t.amount.to_plain(),
            });
        }
        Ok(out)
    }
}
