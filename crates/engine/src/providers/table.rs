//! The operator's side of code tables: each connector ships its table (what
//! an upstream code means for our order, `codes.rs` in the connector), and
//! the operator can change an entry or add one for a code the table does not
//! know, without a new build (`tambah provider codes`, `tambah provider
//! code`). The changes live on the provider's row; every node picks them up
//! with its next reload of the providers, like any other provider change.

use tambah_store::ProviderKind;

use super::meaning::{Codes, Meaning};
use super::{ding, iimmpact, reloadly};
use crate::merchants::AdminError;
use crate::Engine;

/// One entry of a provider's table as it reads now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeView {
    /// As the connector names its codes (`20`, `error:INVALID_AMOUNT`,
    /// `error:ProviderError/ProductUnavailable`, `state:Complete`).
    pub key: String,
    /// What the code means now (`pending`, `declined:40`, …).
    pub meaning: String,
    /// What the shipped table says (`None`: a code it does not list).
    pub shipped: Option<String>,
    /// The operator changed or added it.
    pub changed: bool,
}

fn shipped(kind: ProviderKind) -> Vec<(String, Meaning)> {
    match kind {
        ProviderKind::Iimmpact => iimmpact::codes::shipped(),
        ProviderKind::Reloadly => reloadly::codes::shipped(),
        ProviderKind::Ding => ding::codes::shipped(),
    }
}

fn check(kind: ProviderKind, key: &str, meaning: Meaning) -> Result<(), String> {
    match kind {
        ProviderKind::Iimmpact => iimmpact::codes::check(key, meaning),
        ProviderKind::Reloadly => reloadly::codes::check(key, meaning),
        ProviderKind::Ding => ding::codes::check(key, meaning),
    }
}

impl Engine {
    /// A provider's code table: the shipped entries, then the codes the
    /// operator added, each with what it means now.
    pub async fn provider_codes(&self, name: &str) -> Result<Vec<CodeView>, AdminError> {
        let row = self.provider_row(name).await?;
        let changes = Codes::from_json(&row.codes_json).map_err(AdminError::Store)?;
        let mut table: Vec<CodeView> = shipped(row.kind)
            .into_iter()
            .map(|(key, m)| CodeView {
                meaning: changes.changed(&key).unwrap_or(m).text(),
                changed: changes.changed(&key).is_some(),
                shipped: Some(m.text()),
                key,
            })
            .collect();
        for (key, m) in changes.iter() {
            if !table.iter().any(|v| v.key == key) {
                table.push(CodeView { key: key.to_owned(), meaning: m.text(), shipped: None, changed: true });
            }
        }
        Ok(table)
    }

    /// Sets what a code means at a provider (`Some` words, see
    /// [`Meaning::parse`]), or gives it back to the shipped table (`None`).
    pub async fn set_provider_code(&self, name: &str, key: &str, meaning: Option<&str>) -> Result<(), AdminError> {
        let row = self.provider_row(name).await?;
        let mut changes = Codes::from_json(&row.codes_json).map_err(AdminError::Store)?;
        let meaning = match meaning {
            Some(words) => {
                let m = Meaning::parse(words).map_err(AdminError::Invalid)?;
                check(row.kind, key, m).map_err(AdminError::Invalid)?;
                Some(m)
            }
            None if changes.changed(key).is_none() => {
                return Err(AdminError::NotFound(format!("provider {name}: {key:?} is not changed")));
            }
            None => None,
        };
        changes.set(key, meaning);
        let json = changes.to_json();
        if !self.store().set_provider_codes(name, &json, self.now_ms()).await? {
            return Err(AdminError::NotFound(format!("no provider {name:?}")));
        }
        self.reload_providers().await.map_err(AdminError::Store)
    }
}
