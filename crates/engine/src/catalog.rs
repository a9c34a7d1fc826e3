//! Loads the product catalogue from its JSON data file into domain products.
//! The built-in catalogue is `catalog/products.json` at the repository root.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use tambah_domain::catalog::{AccountFormat, Catalog, Denomination, Family, Product};
use tambah_domain::money::{parse_percent_bp, Amount};

/// The catalogue shipped with the binary.
pub const BUILT_IN: &str = include_str!("../../../catalog/products.json");

/// Stock levels of the products whose stock is counted: (code, units left).
pub type StockLevels = Vec<(String, u64)>;

impl crate::Engine {
    /// Validates a catalogue and stores it as the newest version; every node
    /// loads it within seconds. Returns the version and the product count.
    pub async fn import_catalog(&self, json: &str) -> Result<(i64, usize), String> {
        let products = parse(json)?.products().len();
        let version = self.store().save_catalog(json, self.now_ms()).await.map_err(|e| e.to_string())?;
        Ok((version, products))
    }

    /// The newest imported catalogue's JSON (`None`: none imported) and the
    /// stock levels.
    pub async fn stored_catalog(&self) -> Result<(Option<String>, StockLevels), tambah_store::StoreError> {
        let stored = self.store().latest_catalog(true).await?;
        let stock = self.store().stock_levels().await?;
        Ok((stored.map(|(_, json)| json), stock))
    }

    /// Sets a product's stock (`None`: unlimited). Only PINs and vouchers
    /// count stock: any other product is refused, as its stock would do
    /// nothing.
    pub async fn set_stock(&self, product: &str, remaining: Option<u64>) -> Result<(), String> {
        let catalog = self.catalog();
        let Some(p) = catalog.get(product) else {
            return Err(format!("unknown product {product:?}"));
        };
        if !p.family.delivers_pin() {
            return Err(format!("product {product} counts no stock: only PIN and voucher products do"));
        }
        self.store().set_stock(product, remaining).await.map_err(|e| e.to_string())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    version: u32,
    products: Vec<ProductEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductEntry {
    code: String,
    name: String,
    display_name: String,
    operator_code: String,
    family: String,
    category: String,
    category_code: String,
    product_group: String,
    group_type: String,
    denomination: String,
    common_denominations: String,
    datatype: String,
    unit_price: String,
    discount_percent: BTreeMap<String, String>,
    account_label: String,
    account_type: String,
    keyboard_type: String,
    account_format: String,
    api_parameter: String,
    update_time: String,
    note: String,
    has_subproduct: bool,
    is_refundable: bool,
    status: String,
}

/// Parses and checks a catalogue file, naming the product at fault.
pub fn parse(json: &str) -> Result<Catalog, String> {
    let file: CatalogFile = serde_json::from_str(json).map_err(|e| format!("catalogue: {e}"))?;
    if file.version != 1 {
        return Err(format!("catalogue version {} is not supported (expected 1)", file.version));
    }
    let products = file
        .products
        .into_iter()
        .map(|p| {
            let code = p.code.clone();
            product(p).map_err(|e| format!("catalogue product {code}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Catalog::new(products)
}

fn product(p: ProductEntry) -> Result<Product, String> {
    if p.code.is_empty() || p.code.len() > 16 || !p.code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("code must be 1-16 letters or digits".into());
    }
    let integer_only = match p.datatype.as_str() {
        "Integer" => true,
        "Decimal" => false,
        other => return Err(format!("datatype {other:?} is not Integer or Decimal")),
    };
    let unit_price = Amount::parse_rm(&p.unit_price, 4).map_err(|e| format!("unit_price: {e}"))?;
    let unit_price_bp = u32::try_from(unit_price.minor()).map_err(|_| "unit_price too large".to_string())?;
    let mut level_discount_bp = HashMap::new();
    let mut default_discount_bp = None;
    for (level, percent) in &p.discount_percent {
        let bp = parse_percent_bp(percent).map_err(|e| format!("discount for level {level}: {e}"))?;
        if level == "default" {
            default_discount_bp = Some(bp);
        } else {
            level_discount_bp.insert(level.clone(), bp);
        }
    }
    if unit_price_bp == 0 {
        return Err("unit_price must be greater than 0".into());
    }
    if default_discount_bp.unwrap_or(0) >= 10_000 || level_discount_bp.values().any(|&bp| bp >= 10_000) {
        return Err("discounts must be below 100%".into());
    }
    let active = match p.status.as_str() {
        "Active" => true,
        "Inactive" => false,
        other => return Err(format!("status {other:?} is not Active or Inactive")),
    };
    Ok(Product {
        family: Family::parse(&p.family)?,
        denomination: Denomination::parse(&p.denomination)?,
        account_format: AccountFormat::parse(&p.account_format)?,
        default_discount_bp: default_discount_bp.ok_or("discount_percent needs a \"default\"")?,
        code: p.code,
        name: p.name,
        display_name: p.display_name,
        operator_code: p.operator_code,
        category: p.category,
        category_code: p.category_code,
        product_group: p.product_group,
        group_type: p.group_type,
        common_denominations: p.common_denominations,
        integer_only,
        unit_price_bp,
        level_discount_bp,
        account_label: p.account_label,
        account_type: p.account_type,
        keyboard_type: p.keyboard_type,
        api_parameter: p.api_parameter,
        update_time: p.update_time,
        note: p.note,
        has_subproduct: p.has_subproduct,
        is_refundable: p.is_refundable,
        active,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_catalogue_loads() {
        let catalog = parse(BUILT_IN).unwrap();
        assert!(catalog.products().len() >= 50);
        let d = catalog.get("D").unwrap();
        assert_eq!(d.denomination.text(), "5,10,15,20,25,30,50,100");
        assert!(d.integer_only);
        let cb = catalog.get("CB").unwrap();
        assert_eq!(cb.denomination.text(), "1-1000");
        assert!(!cb.integer_only);
        for code in ["C", "M", "U", "RO", "CP", "GC", "CEL", "TNB", "PTPTN", "JOMPAY", "ZAKAT", "ESIM", "FP"] {
            assert!(catalog.get(code).is_some(), "{code} missing");
        }
    }

    #[test]
    fn rejects_bad_entries_with_the_product_named() {
        let bad = BUILT_IN.replacen("\"datatype\": \"Integer\"", "\"datatype\": \"Float\"", 1);
        let e = parse(&bad).unwrap_err();
        assert!(e.contains("datatype \"Float\""), "{e}");
        assert!(parse("{\"version\": 2, \"products\": []}").is_err());
        let free = BUILT_IN.replacen("\"default\": \"3\"", "\"default\": \"100\"", 1);
        assert!(parse(&free).unwrap_err().contains("below 100%"));
    }
}
