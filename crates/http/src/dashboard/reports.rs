//! The merchant's downloads and month report: the balance statement as CSV
//! (every page of the statement page's query, with the API statement's
//! fields), and a month's transaction summary and invoice (the use cases of
//! the API's `/v2/reports/*`) as a page and as CSV.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tambah_domain::chain::to_hex;
use tambah_domain::{time, Amount};
use tambah_engine::reports::{Invoice, ProductSales, Summary};
use tambah_store::{StatementEntry, StatementQuery};

use super::pages::{csv_field, CSV_MAX_ROWS};
use super::{html, plain, Nav, Session};
use crate::api::reports::{INVOICE_COLUMNS, SUMMARY_COLUMNS};
use crate::api::statement::{remarks, statement_type};
use crate::wire::query::first_value;
use crate::AppState;

/// The statement CSV's header: the API statement's fields, then the chain's
/// (docs/ledger.md; `tambah statement check` reads them by name).
pub(crate) const STATEMENT_COLUMNS: &str =
    "id,date,amount,balance,remarks,type,seq,time_ms,kind,amount_minor,balance_minor,refid,hash\n";

/// Movements read per store query while a statement CSV is built.
const STATEMENT_BATCH: u32 = 500;

fn csv_file(body: String, filename: &str) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response()
}

/// One CSV line of text fields then numbers: text is escaped (quotes,
/// formulas); numbers we format ourselves go as they are, so a negative
/// amount stays a number.
fn csv_line(out: &mut String, text: &[&str], numbers: &[String]) {
    let fields: Vec<String> = text.iter().map(|t| csv_field(t)).chain(numbers.iter().cloned()).collect();
    push_fields(out, &fields);
}

fn push_fields(out: &mut String, fields: &[String]) {
    out.push_str(&fields.join(","));
    out.push('\n');
}

/// Every movement of the statement page's query (`date=`, every page),
/// newest first; a bad date or too long a statement is the answer to give.
async fn statement_entries(state: &AppState, s: &Session, date: &str) -> Result<Vec<StatementEntry>, Response> {
    let range = crate::wire::query::date_range(&format!(
        "date={}",
        form_urlencoded::byte_serialize(date.as_bytes()).collect::<String>()
    ));
    let (from_ms, to_ms) = range.map_err(|e| plain(StatusCode::BAD_REQUEST, e.to_string()))?;
    // Up to now: movements made while the file is read do not shift its
    // pages (a row twice or one missed).
    let now = state.engine.now_ms().saturating_add(1);
    let to_ms = Some(to_ms.map_or(now, |to| to.min(now)));
    let wallet_id = s.member.merchant.wallet_id;
    let mut query = StatementQuery { wallet_id, from_ms, to_ms, kinds: Vec::new(), limit: STATEMENT_BATCH, offset: 0 };
    let mut out = Vec::new();
    loop {
        let st =
            state.engine.reports().statement(&query).await.map_err(|e| crate::ApiError::from(e).into_response())?;
        if st.total > CSV_MAX_ROWS {
            let message = format!(
                "This statement has {} movements; a download holds at most {CSV_MAX_ROWS}: narrow the dates.",
                st.total
            );
            return Err(plain(StatusCode::BAD_REQUEST, message));
        }
        query.offset += st.entries.len() as u64;
        let done = st.entries.is_empty() || query.offset >= st.total;
        out.extend(st.entries);
        if done {
            return Ok(out);
        }
    }
}

/// The whole statement of the page's query (`date=`, every page) as CSV,
/// newest first, with the fields of `/v2/balance-statement`.
pub(super) async fn statement_csv(State(state): State<Arc<AppState>>, s: Session, uri: Uri) -> Response {
    let date = first_value(uri.query().unwrap_or(""), "date").unwrap_or_default();
    let entries = match statement_entries(&state, &s, &date).await {
        Ok(entries) => entries,
        Err(answer) => return answer,
    };
    let mut out = String::from(STATEMENT_COLUMNS);
    for e in &entries {
        let mut fields = vec![
            e.transfer_id.get().to_string(),
            crate::wire::myt(e.at_ms).millis_text(),
            e.amount.to_cents(),
            e.balance_after.to_cents(),
            csv_field(&remarks(e)),
            statement_type(e.kind).to_owned(),
        ];
        // What the entry's hash covers, exactly as hashed (a refid is only
        // letters, digits, '-', '_' and '.', so it goes unquoted), and the hash.
        let (seq, hash) = e.chain.map_or((String::new(), String::new()), |h| (h.seq.to_string(), to_hex(&h.hash)));
        fields.extend([
            seq,
            e.at_ms.to_string(),
            e.kind.as_str().to_owned(),
            e.amount.minor().to_string(),
            e.balance_after.minor().to_string(),
            e.refid.clone().unwrap_or_default(),
            hash,
        ]);
        push_fields(&mut out, &fields);
    }
    csv_file(out, "statement.csv")
}

/// Who the document is for, as its first lines.
fn document_lines(s: &Session, period: String) -> Vec<String> {
    let m = &s.member.merchant;
    vec![
        format!("{} - account {} ({})", m.name, m.account, m.environment.as_str()),
        period,
        "Amounts in RM. Times in Malaysia time (UTC+8).".to_owned(),
    ]
}

fn pdf_file(body: Vec<u8>, filename: &str) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    ([(header::CONTENT_TYPE, "application/pdf".to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response()
}

/// The same statement as a PDF to print or file.
pub(super) async fn statement_pdf(State(state): State<Arc<AppState>>, s: Session, uri: Uri) -> Response {
    let date = first_value(uri.query().unwrap_or(""), "date").unwrap_or_default();
    let entries = match statement_entries(&state, &s, &date).await {
        Ok(entries) => entries,
        Err(answer) => return answer,
    };
    let period = if date.is_empty() { "Every movement".to_owned() } else { format!("Dates: {date}") };
    let rows = entries
        .iter()
        .map(|e| {
            vec![
                crate::wire::myt(e.at_ms).seconds_text(),
                statement_type(e.kind).to_owned(),
                remarks(e),
                e.amount.to_cents(),
                e.balance_after.to_cents(),
            ]
        })
        .collect();
    let columns = vec![
        ("Date", 19, false),
        ("Type", 8, false),
        ("Remarks", 43, false),
        ("Amount", 13, true),
        ("Balance", 14, true),
    ];
    let heads = match crate::api::statement::day_heads(&state, s.member.merchant.wallet_id, &entries).await {
        Ok(heads) => heads,
        Err(e) => return e.into_response(),
    };
    let doc = crate::pdf::Document {
        title: "Balance statement".into(),
        lines: document_lines(&s, period),
        tables: vec![
            crate::pdf::Table { heading: format!("{} movements, newest first", entries.len()), columns, rows },
            crate::pdf::Table {
                heading: "Statement chain: where it stood at the end of each day (keep a head to check later)".into(),
                columns: vec![("End of day", 10, false), ("Entries", 9, true), ("Head (SHA-256)", 64, false)],
                rows: heads.into_iter().map(|h| vec![h.date, h.entries.to_string(), h.head]).collect(),
            },
        ],
    };
    pdf_file(crate::pdf::render(&doc), "statement.pdf")
}

/// The month asked for (`month=yyyy-MM`, this month in Malaysia time when
/// absent or empty) and its Unix-ms range.
struct Month {
    text: String,
    from_ms: i64,
    to_ms: i64,
}

fn month_of(ms: i64) -> String {
    let t = crate::wire::myt(ms);
    format!("{:04}-{:02}", t.year, t.month)
}

/// The month of the query; a bad one is its text and the reason.
fn month(state: &AppState, q: &str) -> Result<Month, (String, String)> {
    let text = first_value(q, "month").filter(|m| !m.is_empty()).unwrap_or_else(|| month_of(state.engine.now_ms()));
    match time::parse_month(&text) {
        Ok((from_ms, to_ms)) => Ok(Month { text, from_ms, to_ms }),
        Err(e) => Err((text, e)),
    }
}

/// The month's daily summary and invoice, from the API reports' use cases.
async fn month_reports(state: &AppState, s: &Session, m: &Month) -> Result<(Summary, Invoice), crate::ApiError> {
    let merchant = &s.member.merchant;
    let summary = state.engine.reports().summary(merchant, m.from_ms, m.to_ms).await?;
    let invoice = state.engine.reports().invoice(merchant, m.from_ms, m.to_ms).await?;
    Ok((summary, invoice))
}

/// Amount less cost (negative when sold below cost).
fn profit(amount: Amount, cost: Amount) -> String {
    amount.checked_sub(cost).expect("report sums stay far inside i64").to_cents()
}

/// Sales of a product (on a day, or over the month) as the page shows them.
struct SalesLine {
    date: String,
    product: String,
    product_name: String,
    count: u64,
    amount: String,
    cost: String,
    profit: String,
}

fn sales(date: String, s: &ProductSales) -> SalesLine {
    SalesLine {
        date,
        product: s.product.clone(),
        product_name: s.product_name.clone(),
        count: s.count,
        amount: s.amount.to_cents(),
        cost: s.cost.to_cents(),
        profit: profit(s.amount, s.cost),
    }
}

/// The invoice's balances in cents.
struct Balances {
    opening: String,
    deposits: String,
    charges: String,
    refunds: String,
    closing: String,
}

#[derive(Template)]
#[template(path = "dashboard/summary.html")]
struct SummaryPage {
    nav: Nav,
    month: String,
    error: Option<String>,
    prev: String,
    next: String,
    balances: Option<Balances>,
    products: Vec<SalesLine>,
    days: Vec<SalesLine>,
    total: Option<SalesLine>,
}

/// A month's invoice (balances, successful orders per product) and its
/// summary per day and product, with the totals.
pub(super) async fn summary(
    State(state): State<Arc<AppState>>,
    s: Session,
    uri: Uri,
) -> Result<Response, crate::ApiError> {
    let this_month = month_of(state.engine.now_ms());
    let mut page = SummaryPage {
        nav: s.nav("summary"),
        month: this_month.clone(),
        error: None,
        prev: this_month.clone(),
        next: this_month,
        balances: None,
        products: Vec::new(),
        days: Vec::new(),
        total: None,
    };
    let m = match month(&state, uri.query().unwrap_or("")) {
        Ok(m) => m,
        Err((text, e)) => {
            page.month = text;
            page.error = Some(e);
            return Ok(html(StatusCode::BAD_REQUEST, page));
        }
    };
    let (summary, invoice) = month_reports(&state, &s, &m).await?;
    page.prev = month_of(m.from_ms - 1);
    page.next = month_of(m.to_ms);
    page.month = m.text;
    page.balances = Some(Balances {
        opening: invoice.opening.to_cents(),
        deposits: invoice.deposits.to_cents(),
        charges: invoice.charges.to_cents(),
        refunds: invoice.refunds.to_cents(),
        closing: invoice.closing.to_cents(),
    });
    page.products = invoice.lines.iter().map(|l| sales(String::new(), l)).collect();
    page.days = summary.lines.iter().map(|l| sales(time::date_text(l.day), &l.sales)).collect();
    page.total = Some(SalesLine {
        date: String::new(),
        product: String::new(),
        product_name: String::new(),
        count: summary.count,
        amount: summary.amount.to_cents(),
        cost: summary.cost.to_cents(),
        profit: profit(summary.amount, summary.cost),
    });
    Ok(html(StatusCode::OK, page))
}

/// The month as CSV, three tables a blank line apart: the invoice's
/// balances, its lines per product (the columns of the API invoice's CSV),
/// and the summary per day and product (the API summary's CSV).
pub(super) async fn summary_csv(
    State(state): State<Arc<AppState>>,
    s: Session,
    uri: Uri,
) -> Result<Response, crate::ApiError> {
    let m = match month(&state, uri.query().unwrap_or("")) {
        Ok(m) => m,
        Err((_, e)) => return Ok(plain(StatusCode::BAD_REQUEST, e)),
    };
    let (summary, i) = month_reports(&state, &s, &m).await?;
    let mut out = String::from("month,opening_balance,deposits,charges,refunds,closing_balance\n");
    let balances = [i.opening, i.deposits, i.charges, i.refunds, i.closing].map(Amount::to_cents);
    csv_line(&mut out, &[&m.text], &balances);
    out.push('\n');
    out.push_str(&INVOICE_COLUMNS.join(","));
    out.push('\n');
    for l in &i.lines {
        let numbers = [l.count.to_string(), l.amount.to_cents(), l.cost.to_cents()];
        csv_line(&mut out, &[&l.product, &l.product_name], &numbers);
    }
    out.push('\n');
    out.push_str(&SUMMARY_COLUMNS.join(","));
    out.push('\n');
    for l in &summary.lines {
        let s = &l.sales;
        let numbers = [s.count.to_string(), s.amount.to_cents(), s.cost.to_cents(), profit(s.amount, s.cost)];
        csv_line(&mut out, &[&time::date_text(l.day), &s.product, &s.product_name], &numbers);
    }
    Ok(csv_file(out, &format!("summary-{}.csv", m.text)))
}

/// The month's invoice and summary as a PDF to print or file.
pub(super) async fn summary_pdf(
    State(state): State<Arc<AppState>>,
    s: Session,
    uri: Uri,
) -> Result<Response, crate::ApiError> {
    let m = match month(&state, uri.query().unwrap_or("")) {
        Ok(m) => m,
        Err((_, e)) => return Ok(plain(StatusCode::BAD_REQUEST, e)),
    };
    let (summary, i) = month_reports(&state, &s, &m).await?;
    let balances = vec![
        vec!["Opening balance".to_owned(), i.opening.to_cents()],
        vec!["Deposits".to_owned(), i.deposits.to_cents()],
        vec!["Charges".to_owned(), i.charges.to_cents()],
        vec!["Refunds".to_owned(), i.refunds.to_cents()],
        vec!["Closing balance".to_owned(), i.closing.to_cents()],
    ];
    let money =
        |l: &ProductSales| vec![l.count.to_string(), l.amount.to_cents(), l.cost.to_cents(), profit(l.amount, l.cost)];
    let products =
        i.lines.iter().map(|l| [vec![l.product.clone(), l.product_name.clone()], money(l)].concat()).collect();
    let mut days: Vec<Vec<String>> = summary
        .lines
        .iter()
        .map(|l| [vec![time::date_text(l.day), l.sales.product.clone()], money(&l.sales)].concat())
        .collect();
    let total = ProductSales {
        product: String::new(),
        product_name: String::new(),
        count: summary.count,
        amount: summary.amount,
        cost: summary.cost,
    };
    days.push([vec!["Total".to_owned(), String::new()], money(&total)].concat());
    let sales = |first: &'static str, width| {
        vec![(first, width, false), ("Orders", 8, true), ("Amount", 13, true), ("Cost", 13, true), ("Margin", 12, true)]
    };
    let tables = vec![
        crate::pdf::Table {
            heading: "Balances".into(),
            columns: vec![("", 24, false), ("RM", 14, true)],
            rows: balances,
        },
        crate::pdf::Table {
            heading: "Successful orders per product".into(),
            columns: [vec![("Product", 8, false)], sales("Name", 30)].concat(),
            rows: products,
        },
        crate::pdf::Table {
            heading: "Per day and product".into(),
            columns: [vec![("Date", 10, false)], sales("Product", 10)].concat(),
            rows: days,
        },
    ];
    let doc = crate::pdf::Document {
        title: format!("Invoice and summary, {}", m.text),
        lines: document_lines(&s, format!("Month: {} (Malaysia time)", m.text)),
        tables,
    };
    Ok(pdf_file(crate::pdf::render(&doc), &format!("summary-{}.pdf", m.text)))
}
