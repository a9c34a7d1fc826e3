//! `tambah route`: which providers a product's live orders go to, in which
//! order and shares, and what each charges us.

use clap::Subcommand;
use serde_json::json;
use tambah_domain::Amount;
use tambah_engine::providers::config::{RouteSpec, RouteView};

use crate::database::{with_engine, DbArgs};

#[derive(Subcommand, Debug)]
pub enum RouteCommand {
    /// Route a product to a provider (replaces its route there, if any).
    Add {
        #[arg(long)]
        product: String,
        #[arg(long)]
        provider: String,
        /// The provider's code for the product (ours when left out).
        #[arg(long)]
        upstream_product: Option<String>,
        /// Lower goes first; the next priority is where orders fail over to.
        #[arg(long, default_value_t = 1)]
        priority: u32,
        /// Share among routes of the same priority.
        #[arg(long, default_value_t = 1)]
        weight: u32,
        /// What the provider charges for one ringgit of face value, in RM
        /// (more than 0; digits, optionally '.' and up to 4 decimals).
        #[arg(long)]
        buy_price: Option<String>,
    },
    /// Stop routing a product to a provider.
    Remove {
        #[arg(long)]
        product: String,
        #[arg(long)]
        provider: String,
    },
    /// The routes, of one product or of all.
    Show {
        #[arg(long)]
        product: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(db: &DbArgs, command: RouteCommand) -> Result<(), String> {
    match command {
        RouteCommand::Add { product, provider, upstream_product, priority, weight, buy_price } => {
            let buy_price = match buy_price {
                Some(text) => Some(Amount::parse_positive(&text, 4).map_err(|e| format!("--buy-price {text:?}: {e}"))?),
                None => None,
            };
            let spec = RouteSpec { product, provider, upstream_product, priority, weight, buy_price };
            let s = spec.clone();
            with_engine(db, |e| async move { e.put_route(&s).await.map_err(|e| e.to_string()) }).await?;
            println!("route {} -> {} (priority {}, weight {})", spec.product, spec.provider, priority, weight);
            Ok(())
        }
        RouteCommand::Remove { product, provider } => {
            let (p, q) = (product.clone(), provider.clone());
            with_engine(db, |e| async move { e.remove_route(&p, &q).await.map_err(|e| e.to_string()) }).await?;
            println!("route {product} -> {provider} removed");
            Ok(())
        }
        RouteCommand::Show { product, json } => show(db, product, json).await,
    }
}

fn route_json(r: &RouteView) -> serde_json::Value {
    json!({"product": r.product, "provider": r.provider, "upstream_product": r.upstream_product,
           "priority": r.priority, "weight": r.weight, "buy_price": r.buy_price.map(|p| p.to_plain())})
}

async fn show(db: &DbArgs, product: Option<String>, json: bool) -> Result<(), String> {
    let all = with_engine(db, |e| async move { e.routes().await.map_err(|e| e.to_string()) }).await?;
    let routes: Vec<&RouteView> = all.iter().filter(|r| product.as_ref().is_none_or(|p| *p == r.product)).collect();
    if json {
        println!("{}", serde_json::Value::Array(routes.iter().map(|r| route_json(r)).collect()));
        return Ok(());
    }
    println!("{:<10} {:<20} {:<12} {:>8} {:>6} {:>9}", "PRODUCT", "PROVIDER", "UPSTREAM", "PRIORITY", "WEIGHT", "BUY");
    for r in routes {
        let buy = r.buy_price.map(|p| p.to_plain()).unwrap_or_else(|| "-".into());
        println!(
            "{:<10} {:<20} {:<12} {:>8} {:>6} {:>9}",
            r.product, r.provider, r.upstream_product, r.priority, r.weight, buy
        );
    }
    Ok(())
}
