//! `tambah catalog`: import a catalogue for every node, show the active one,
//! set a product's stock.

use std::path::PathBuf;

use clap::Subcommand;
use tambah_engine::catalog;

use crate::database::{with_engine, DbArgs};

#[derive(Subcommand, Debug)]
pub enum CatalogCommand {
    /// Check a catalogue file and make it the active catalogue of every node
    /// (running nodes pick it up within seconds).
    Import { file: PathBuf },
    /// The active catalogue: one product per line, or the file with --json.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Read a provider's products and prices: the buy price of every route to
    /// it is set from them, and unlisted or inactive products are shown.
    Sync {
        #[arg(long)]
        provider: String,
    },
    /// Set a product's stock (PINs and vouchers fail with 45 at 0).
    Stock {
        #[arg(long)]
        product: String,
        /// Units left; omit with --unlimited.
        #[arg(long)]
        set: Option<u64>,
        #[arg(long)]
        unlimited: bool,
    },
}

pub async fn run(db: &DbArgs, command: CatalogCommand) -> Result<(), String> {
    match command {
        CatalogCommand::Import { file } => import(db, file).await,
        CatalogCommand::Show { json } => show(db, json).await,
        CatalogCommand::Stock { product, set, unlimited } => stock(db, product, set, unlimited).await,
        CatalogCommand::Sync { provider } => sync(db, provider).await,
    }
}

async fn import(db: &DbArgs, file: PathBuf) -> Result<(), String> {
    let json = std::fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
    // Refuse a bad file before the database is opened (or created).
    catalog::parse(&json)?;
    let (version, n) = with_engine(db, |e| async move { e.import_catalog(&json).await }).await?;
    println!("catalogue version {version} imported: {n} products");
    Ok(())
}

async fn show(db: &DbArgs, json: bool) -> Result<(), String> {
    let (text, stock) = with_engine(db, |e| async move { e.stored_catalog().await.map_err(|e| e.to_string()) }).await?;
    // The same precedence as a starting node: imported, then --catalog, then built in.
    let text = match (text, &db.catalog) {
        (Some(t), _) => t,
        (None, Some(file)) => std::fs::read_to_string(file).map_err(|e| e.to_string())?,
        (None, None) => catalog::BUILT_IN.to_owned(),
    };
    if json {
        println!("{text}");
        return Ok(());
    }
    print_table(&catalog::parse(&text)?, &stock);
    Ok(())
}

/// One product per line, with the units left where stock is counted.
fn print_table(parsed: &tambah_domain::catalog::Catalog, stock: &[(String, u64)]) {
    println!(
        "{:<8} {:<32} {:<9} {:<24} {:>8} {:<8} {:>8}",
        "CODE", "NAME", "FAMILY", "DENOMINATION", "DISCOUNT", "STATUS", "STOCK"
    );
    for p in parsed.products() {
        let left = stock.iter().find(|(code, _)| *code == p.code).map(|(_, n)| n.to_string());
        println!(
            "{:<8} {:<32} {:<9} {:<24} {:>8} {:<8} {:>8}",
            p.code,
            p.name.chars().take(32).collect::<String>(),
            format!("{:?}", p.family).to_lowercase(),
            p.denomination.text().chars().take(24).collect::<String>(),
            p.discount_text("default"),
            if p.active { "Active" } else { "Inactive" },
            left.unwrap_or_else(|| "-".into()),
        );
    }
}

async fn stock(db: &DbArgs, product: String, set: Option<u64>, unlimited: bool) -> Result<(), String> {
    let remaining = match (set, unlimited) {
        (Some(n), false) => Some(n),
        (None, true) => None,
        _ => return Err("give either --set N or --unlimited".into()),
    };
    let p = product.clone();
    with_engine(db, |e| async move { e.set_stock(&p, remaining).await }).await?;
    match remaining {
        Some(n) => println!("stock of {product}: {n}"),
        None => println!("stock of {product}: unlimited"),
    }
    Ok(())
}

async fn sync(db: &DbArgs, provider: String) -> Result<(), String> {
    let p = provider.clone();
    let routes = with_engine(db, |e| async move { e.sync_catalogue(&p).await.map_err(|e| e.to_string()) }).await?;
    println!("{:<10} {:<12} {:>9} NOTE", "PRODUCT", "UPSTREAM", "BUY");
    for r in &routes {
        let buy = r.buy_price.map(|p| p.to_plain()).unwrap_or_else(|| "-".into());
        let note = if r.unlisted {
            "not listed by the provider"
        } else if r.inactive {
            "inactive at the provider"
        } else {
            ""
        };
        println!("{:<10} {:<12} {:>9} {note}", r.product, r.upstream_product, buy);
    }
    println!("{} route(s) of {provider} synced", routes.len());
    Ok(())
}
