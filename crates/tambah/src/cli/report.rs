//! `tambah report`: the reconciliation reports merchants also fetch over
//! HTTP, printed as JSON or CSV (rendered by the HTTP edge for now, so both
//! stay the same).

use clap::Subcommand;

use crate::database::{with_engine, DbArgs};

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Successful orders per Malaysia-time day and product.
    Summary {
        #[arg(long)]
        account: String,
        /// yyyy-MM-dd or "yyyy-MM-dd - yyyy-MM-dd".
        #[arg(long)]
        date: String,
        #[arg(long)]
        csv: bool,
    },
    /// Cost of goods and margin per product and provider (live orders bought upstream).
    Cost {
        /// yyyy-MM-dd or "yyyy-MM-dd - yyyy-MM-dd".
        #[arg(long)]
        date: String,
        #[arg(long)]
        csv: bool,
    },
    /// The invoice statement of one month.
    Invoice {
        #[arg(long)]
        account: String,
        /// yyyy-MM
        #[arg(long)]
        month: String,
        #[arg(long)]
        csv: bool,
    },
}

pub async fn run(db: &DbArgs, command: ReportCommand) -> Result<(), String> {
    match command {
        ReportCommand::Summary { account, date, csv } => summary(db, account, date, csv).await,
        ReportCommand::Invoice { account, month, csv } => invoice(db, account, month, csv).await,
        ReportCommand::Cost { date, csv } => cost(db, date, csv).await,
    }
}

async fn summary(db: &DbArgs, account: String, date: String, csv: bool) -> Result<(), String> {
    let (from, to) = tambah_domain::time::parse_date_range(&date)?;
    let v = with_engine(db, |e| async move {
        let m = e.merchant_by_account(&account).await.map_err(|e| e.to_string())?;
        tambah_http::reports::summary(&e, &m, from, to).await.map_err(|e| e.to_string())
    })
    .await?;
    print_report(&v, "data", tambah_http::reports::SUMMARY_COLUMNS, csv);
    Ok(())
}

async fn invoice(db: &DbArgs, account: String, month: String, csv: bool) -> Result<(), String> {
    let v = with_engine(db, |e| async move {
        let m = e.merchant_by_account(&account).await.map_err(|e| e.to_string())?;
        tambah_http::reports::invoice(&e, &m, &month).await.map_err(|e| e.to_string())
    })
    .await?;
    print_report(&v, "lines", tambah_http::reports::INVOICE_COLUMNS, csv);
    Ok(())
}

/// The report as pretty JSON, or its `rows` array as CSV with these columns.
fn print_report(v: &serde_json::Value, rows: &str, columns: &[&str], csv: bool) {
    if csv {
        let list = v[rows].as_array().cloned().unwrap_or_default();
        print!("{}", tambah_http::reports::csv(&list, columns));
    } else {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    }
}

const COST_COLUMNS: &[&str] =
    &["product_code", "product_name", "provider", "count", "sales", "cost_of_goods", "margin", "uncosted"];

async fn cost(db: &DbArgs, date: String, csv: bool) -> Result<(), String> {
    let (from, to) = tambah_domain::time::parse_date_range(&date)?;
    let lines =
        with_engine(db, |e| async move { e.reports().cost_of_goods(from, to).await.map_err(|e| e.to_string()) })
            .await?;
    let rows: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| {
            serde_json::json!({"product_code": l.product, "product_name": l.product_name, "provider": l.provider,
                "count": l.count, "sales": l.sales.to_cents(), "cost_of_goods": l.cost_of_goods.to_cents(),
                "margin": l.margin.to_cents(), "uncosted": l.uncosted})
        })
        .collect();
    print_report(&serde_json::json!({"date": date, "lines": rows}), "lines", COST_COLUMNS, csv);
    Ok(())
}
