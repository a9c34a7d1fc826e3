//! Charts of the merchant's orders over a range of Malaysia-time days: the
//! orders and the successful amount of each day as bar charts, and each
//! product's success rate. The charts are SVG drawn here (the page runs no
//! script), each named in words for screen readers and followed by a table
//! of the same numbers.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use tambah_domain::time::{self, Day};
use tambah_engine::reports::{Activity, DayActivity, ProductActivity};

use super::{html, Nav, Session};
use crate::wire::query::first_value;
use crate::AppState;

/// Days shown when the range is not given.
const DEFAULT_DAYS: i64 = 30;
/// The longest range: one year, leap day included.
const MAX_DAYS: i64 = 366;

/// The drawing area of a daily chart, in SVG user units; the SVG scales to
/// the page's width.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
/// Room for the value labels on the left and the dates below.
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 12.0;

/// Where a daily chart's axes and labels go, for the template (the same
/// numbers the bars are drawn with).
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    top: f64,
    baseline: f64,
    /// Where the value labels end, left of the vertical axis.
    label_x: f64,
    /// The line of the dates, under the baseline.
    dates_y: f64,
}

const FRAME: Frame = Frame {
    width: WIDTH,
    height: HEIGHT,
    left: LEFT,
    top: TOP,
    baseline: HEIGHT - BOTTOM,
    label_x: LEFT - 6.0,
    dates_y: HEIGHT - 6.0,
};

/// One bar of a daily chart, its geometry already in SVG units.
struct Bar {
    x: String,
    y: String,
    width: String,
    height: String,
    /// What the bar stands for, shown on hover.
    tip: String,
}

/// A daily bar chart.
struct BarChart {
    id: &'static str,
    heading: &'static str,
    /// The chart's numbers in words: its accessible name.
    words: String,
    bars: Vec<Bar>,
    /// The label of the top of the scale (the largest value).
    top_label: String,
    first_day: String,
    last_day: String,
}

/// One day of the table under the daily charts.
struct DayLine {
    date: String,
    count: u64,
    successful_amount: String,
}

/// One product's success rate.
struct RateLine {
    code: String,
    name: String,
    count: u64,
    successful: u64,
    /// `75%`, `66.7%`.
    rate: String,
    /// The bar's length out of 100.
    bar: String,
}

#[derive(Template)]
#[template(path = "dashboard/charts.html")]
struct ChartsPage {
    nav: Nav,
    frame: Frame,
    from: String,
    to: String,
    error: Option<String>,
    count: u64,
    successful: u64,
    successful_amount: String,
    charts: Vec<BarChart>,
    days: Vec<DayLine>,
    products: Vec<RateLine>,
}

/// The days asked for: `from` and `to` (inclusive, `yyyy-MM-dd`), by
/// default the 30 days up to today; empty fields are not given.
fn days_asked(query: &str, today: Day) -> Result<(Day, Day), String> {
    let day = |name: &str, what: &str| {
        first_value(query, name).map(|text| time::parse_date(&text).map_err(|e| format!("The {what} date: {e}.")))
    };
    let to = day("to", "end").transpose()?.unwrap_or(today);
    let from = day("from", "start").transpose()?.unwrap_or(to - (DEFAULT_DAYS - 1));
    if from > to {
        return Err(format!(
            "The start date {} is after the end date {}: swap them.",
            time::date_text(from),
            time::date_text(to)
        ));
    }
    if to - from + 1 > MAX_DAYS {
        return Err(format!("The charts cover at most {MAX_DAYS} days: choose a shorter range."));
    }
    Ok((from, to))
}

/// `GET /dashboard/charts?from=&to=`: the orders of the range as charts.
pub(super) async fn charts(
    State(state): State<Arc<AppState>>,
    s: Session,
    uri: axum::http::Uri,
) -> Result<Response, crate::ApiError> {
    let query = uri.query().unwrap_or("");
    let mut page = ChartsPage {
        nav: s.nav("charts"),
        frame: FRAME,
        from: first_value(query, "from").unwrap_or_default(),
        to: first_value(query, "to").unwrap_or_default(),
        error: None,
        count: 0,
        successful: 0,
        successful_amount: "0.00".into(),
        charts: Vec::new(),
        days: Vec::new(),
        products: Vec::new(),
    };
    let (from, to) = match days_asked(query, time::day_of(state.engine.now_ms())) {
        Ok(days) => days,
        Err(e) => {
            page.error = Some(e);
            return Ok(html(StatusCode::BAD_REQUEST, page));
        }
    };
    let activity = state
        .engine
        .reports()
        .activity(&s.member.merchant, time::day_start_ms(from), time::day_start_ms(to + 1))
        .await?;
    page.from = time::date_text(from);
    page.to = time::date_text(to);
    page.count = activity.count;
    page.successful = activity.successful;
    page.successful_amount = activity.successful_amount.to_cents();
    page.charts = daily_charts(&activity);
    page.days = activity
        .days
        .iter()
        .map(|d| DayLine {
            date: time::date_text(d.day),
            count: d.count,
            successful_amount: d.successful_amount.to_cents(),
        })
        .collect();
    page.products = activity.products.iter().map(rate_line).collect();
    Ok(html(StatusCode::OK, page))
}

/// The orders chart and the successful amount chart of the range.
fn daily_charts(activity: &Activity) -> Vec<BarChart> {
    let days = &activity.days;
    let (first, last) = match (days.first(), days.last()) {
        (Some(first), Some(last)) => (time::date_text(first.day), time::date_text(last.day)),
        _ => return Vec::new(),
    };
    let range = format!("from {first} to {last}");
    let count = |d: &DayActivity| d.count as f64;
    let amount = |d: &DayActivity| d.successful_amount.minor() as f64;
    let orders_words = format!(
        "Orders per day {range}: {} in all; {}",
        activity.count,
        per_day(days, |d| (d.count > 0).then(|| format!("{} on {}", d.count, time::date_text(d.day))), "orders")
    );
    let amount_words = format!(
        "Successful amount per day {range}: RM {} in all; {}",
        activity.successful_amount.to_cents(),
        per_day(
            days,
            |d| {
                (d.successful_amount > tambah_domain::Amount::ZERO)
                    .then(|| format!("RM {} on {}", d.successful_amount.to_cents(), time::date_text(d.day)))
            },
            "successful amount"
        )
    );
    let top_count = days.iter().map(|d| d.count).max().unwrap_or(0);
    let top_amount = days.iter().map(|d| d.successful_amount).max().unwrap_or_default();
    vec![
        BarChart {
            id: "orders-chart",
            heading: "Orders per day",
            words: orders_words,
            bars: bars(days, count, |d| format!("{}: {} orders", time::date_text(d.day), d.count)),
            top_label: top_count.to_string(),
            first_day: first.clone(),
            last_day: last.clone(),
        },
        BarChart {
            id: "amount-chart",
            heading: "Successful amount per day (RM)",
            words: amount_words,
            bars: bars(days, amount, |d| {
                format!("{}: RM {} successful", time::date_text(d.day), d.successful_amount.to_cents())
            }),
            top_label: top_amount.to_cents(),
            first_day: first,
            last_day: last,
        },
    ]
}

/// The days with something to say, in words, and what the others had.
fn per_day(days: &[DayActivity], said: impl Fn(&DayActivity) -> Option<String>, what: &str) -> String {
    let lines: Vec<String> = days.iter().filter_map(said).collect();
    match (lines.is_empty(), lines.len() == days.len()) {
        (true, _) => format!("no {what} on any day."),
        (false, true) => format!("{}.", lines.join(", ")),
        (false, false) => format!("{}; no {what} on the other days.", lines.join(", ")),
    }
}

/// The bars of one value per day, scaled so the largest reaches the top.
fn bars(days: &[DayActivity], value: impl Fn(&DayActivity) -> f64, tip: impl Fn(&DayActivity) -> String) -> Vec<Bar> {
    let top = days.iter().map(&value).fold(0.0, f64::max);
    let plot_height = HEIGHT - BOTTOM - TOP;
    let slot = (WIDTH - LEFT) / days.len().max(1) as f64;
    days.iter()
        .enumerate()
        .map(|(i, d)| {
            let height = if top > 0.0 { value(d) / top * plot_height } else { 0.0 };
            Bar {
                x: format!("{:.2}", LEFT + i as f64 * slot + slot * 0.1),
                y: format!("{:.2}", HEIGHT - BOTTOM - height),
                width: format!("{:.2}", slot * 0.8),
                height: format!("{height:.2}"),
                tip: tip(d),
            }
        })
        .collect()
}

/// A product's success rate over the range: successful orders out of all
/// its orders, to a tenth of a percent.
fn rate_line(p: &ProductActivity) -> RateLine {
    // A product is only listed with an order, but a count of 0 reads as 0%.
    let tenths = (p.successful * 1000 + p.count / 2).checked_div(p.count).unwrap_or(0);
    let rate = if tenths.is_multiple_of(10) {
        format!("{}%", tenths / 10)
    } else {
        format!("{}.{}%", tenths / 10, tenths % 10)
    };
    RateLine {
        code: p.product.clone(),
        name: p.product_name.clone(),
        count: p.count,
        successful: p.successful,
        rate,
        bar: format!("{:.1}", tenths as f64 / 10.0),
    }
}
