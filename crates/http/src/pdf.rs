//! Printable documents (a statement, an invoice) as PDF: a title, a few
//! lines about the document, then tables set in Courier (every character
//! the same width, so columns line up and numbers align right without font
//! metrics), A4 pages with their number. `pdf-writer` writes the file; the
//! fonts are PDF base fonts, so nothing is embedded.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

/// One table: its heading, columns (name, width in characters, right
/// aligned) and rows of text.
pub(crate) struct Table {
    pub heading: String,
    pub columns: Vec<(&'static str, usize, bool)>,
    pub rows: Vec<Vec<String>>,
}

/// A document: title, lines under it, tables.
pub(crate) struct Document {
    pub title: String,
    pub lines: Vec<String>,
    pub tables: Vec<Table>,
}

const PAGE: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 42.0;
const SIZE: f32 = 8.0;
const LEADING: f32 = 11.0;
/// Courier's advance is 0.6 em: the characters a line holds.
const LINE_CHARS: usize = ((PAGE.0 - 2.0 * MARGIN) / (SIZE * 0.6)) as usize;

/// What a base font can show: printable ASCII as it is, anything else `?`.
fn latin(text: &str) -> Vec<u8> {
    text.chars().map(|c| if (' '..='~').contains(&c) { c as u8 } else { b'?' }).collect()
}

/// A cell cut or padded to its width.
fn cell(text: &str, width: usize, right: bool) -> String {
    let mut t: String = text.chars().take(width).collect();
    let pad = width - t.chars().count();
    if right {
        t = format!("{}{t}", " ".repeat(pad));
    } else {
        t.push_str(&" ".repeat(pad));
    }
    t
}

fn row_text(columns: &[(&'static str, usize, bool)], values: &[String]) -> String {
    let cells: Vec<String> = columns.iter().zip(values).map(|((_, width, right), v)| cell(v, *width, *right)).collect();
    let line = cells.join(" ");
    line.chars().take(LINE_CHARS).collect()
}

/// A text line and its font: (bold heading, text).
type Line = (bool, String);

/// The document's lines in order, before they are cut into pages.
fn lines(doc: &Document) -> Vec<Line> {
    let mut out: Vec<Line> = doc.lines.iter().map(|l| (false, l.clone())).collect();
    for table in &doc.tables {
        out.push((false, String::new()));
        out.push((true, table.heading.clone()));
        let names: Vec<String> = table.columns.iter().map(|(name, _, _)| (*name).to_owned()).collect();
        out.push((true, row_text(&table.columns, &names)));
        out.extend(table.rows.iter().map(|r| (false, row_text(&table.columns, r))));
        if table.rows.is_empty() {
            out.push((false, "(none)".to_owned()));
        }
    }
    out
}

/// The PDF file of `doc`.
pub(crate) fn render(doc: &Document) -> Vec<u8> {
    let all = lines(doc);
    let per_page = ((PAGE.1 - 2.0 * MARGIN - 40.0) / LEADING) as usize;
    let pages: Vec<&[Line]> = if all.is_empty() { vec![&[][..]] } else { all.chunks(per_page).collect() };
    let (catalog, tree, regular, bold, title_font) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4), Ref::new(5));
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    let page_ids: Vec<Ref> = (0..pages.len()).map(|i| Ref::new(6 + 2 * i as i32)).collect();
    pdf.pages(tree).kids(page_ids.iter().copied()).count(pages.len() as i32);
    pdf.type1_font(regular).base_font(Name(b"Courier"));
    pdf.type1_font(bold).base_font(Name(b"Courier-Bold"));
    pdf.type1_font(title_font).base_font(Name(b"Helvetica-Bold"));
    for (n, lines) in pages.iter().enumerate() {
        let (page_id, content_id) = (page_ids[n], Ref::new(7 + 2 * n as i32));
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE.0, PAGE.1)).parent(tree).contents(content_id);
        page.resources().fonts().pair(Name(b"R"), regular).pair(Name(b"B"), bold).pair(Name(b"T"), title_font);
        page.finish();
        let mut content = Content::new();
        content.begin_text().set_font(Name(b"T"), 14.0).next_line(MARGIN, PAGE.1 - MARGIN);
        content.show(Str(&latin(&doc.title))).end_text();
        let mut y = PAGE.1 - MARGIN - 24.0;
        for (is_bold, text) in lines.iter() {
            let font = if *is_bold { Name(b"B") } else { Name(b"R") };
            content.begin_text().set_font(font, SIZE).next_line(MARGIN, y).show(Str(&latin(text))).end_text();
            y -= LEADING;
        }
        let footer = format!("tambah - page {} of {}", n + 1, pages.len());
        content.begin_text().set_font(Name(b"R"), 7.0).next_line(MARGIN, MARGIN / 2.0);
        content.show(Str(&latin(&footer))).end_text();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_a_pdf_with_its_text_and_a_page_per_fifty_odd_rows() {
        let rows: Vec<Vec<String>> = (0..130).map(|i| vec![format!("row {i}"), format!("{i}.00")]).collect();
        let doc = Document {
            title: "Balance statement".into(),
            lines: vec!["Kedai Ali (10002) — staging".into()],
            tables: vec![Table {
                heading: "Movements".into(),
                columns: vec![("What", 20, false), ("RM", 12, true)],
                rows,
            }],
        };
        let pdf = render(&doc);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.starts_with("%PDF-") && text.trim_end().ends_with("%%EOF"));
        assert!(
            text.contains("(Balance statement)") && text.contains("10002") && text.contains(") ? staging"),
            "non-ASCII as ?"
        );
        assert!(text.contains("row 129") && text.contains("      129.00"), "right-aligned in its column");
        assert!(text.contains("/Count 3"), "130 rows make three pages");
        assert!(text.contains("page 3 of 3"));
    }

    #[test]
    fn cells_are_cut_and_padded() {
        assert_eq!(cell("abcdef", 3, false), "abc");
        assert_eq!(cell("1.00", 6, true), "  1.00");
        assert_eq!(cell("x", 3, false), "x  ");
    }
}
