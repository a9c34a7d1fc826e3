//! Product and group images, `GET /img/{code}.png` and
//! `GET /img/groups/{slug}.png`: every image URL the API lists answers with
//! an image. None is stored: each is drawn on request from its code, the
//! code's letters in white on a colour of its own (a 5×7 pixel font, a
//! two-colour PNG of about 1.3 KB), so a product added by an import or one
//! only left in old orders has one too.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::AppState;

/// Side of every image, in pixels.
const SIDE: usize = 96;
/// Longest code drawn; a longer one answers 404 like any code that could
/// not be a product's.
const MAX_CODE: usize = 32;

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/img/{file}", get(product)).route("/img/groups/{file}", get(group))
}

/// A product's image, drawn from its code (`/img/TNB.png`).
#[utoipa::path(get, path = "/img/{file}", tag = "images",
    params(("file" = String, Path, pattern = "^[A-Za-z0-9_-]{1,32}\\.png$", example = "D.png", description = "The product code, then `.png`")),
    responses(
        (status = 200, description = "The image", content_type = "image/png", body = crate::openapi::resources::Png),
        (status = 404, description = "Not a product code", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn product(Path(file): Path<String>) -> Response {
    answer(file.strip_suffix(".png").and_then(product_png))
}

/// A catalogue group's image (`icon_url` of `/v2/catalog`), its initials.
#[utoipa::path(get, path = "/img/groups/{file}", tag = "images",
    params(("file" = String, Path, pattern = "^[a-z0-9]+(?:-[a-z0-9]+)*\\.png$", max_length = 36, example = "mobile-reload.png", description = "The group's slug, then `.png`")),
    responses(
        (status = 200, description = "The image", content_type = "image/png", body = crate::openapi::resources::Png),
        (status = 404, description = "Not a group slug", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn group(Path(file): Path<String>) -> Response {
    answer(file.strip_suffix(".png").and_then(group_png))
}

fn answer(png: Option<Vec<u8>>) -> Response {
    match png {
        Some(png) => ([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "public, max-age=86400")], png)
            .into_response(),
        None => crate::ApiError::NotFound("no such image".into()).into_response(),
    }
}

/// A product's image: up to 8 characters of its code, on two lines past 4.
pub(crate) fn product_png(code: &str) -> Option<Vec<u8>> {
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if code.is_empty() || code.len() > MAX_CODE || !code.chars().all(valid) {
        return None;
    }
    let text: Vec<char> = code.to_ascii_uppercase().chars().take(8).collect();
    let lines: Vec<&[char]> = text.chunks(4).collect();
    Some(draw(&lines, colour(code)))
}

/// The id of a catalogue group or category from its name: its runs of ASCII
/// letters and digits, lower-cased, joined by `-`, at most 32 characters
/// (`Bills & Utilities` → `bills-utilities`); `group` when it has none.
/// Every slug has an image.
pub(crate) fn slug(name: &str) -> String {
    let mut out = String::new();
    for word in name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        let sep = usize::from(!out.is_empty());
        if out.len() + sep + word.len() > MAX_CODE {
            let room = MAX_CODE.saturating_sub(out.len() + sep);
            if room > 0 {
                out.push_str(&"-"[..sep]);
                out.push_str(&word[..room]);
            }
            break;
        }
        out.push_str(&"-"[..sep]);
        out.push_str(word);
    }
    if out.is_empty() {
        "group".to_owned()
    } else {
        out.to_ascii_lowercase()
    }
}

/// A catalogue group's image: the initials of its slug's words (`mobile-reload` → `MR`).
pub(crate) fn group_png(slug: &str) -> Option<Vec<u8>> {
    // Words of lower-case letters and digits joined by single hyphens.
    let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if slug.len() > MAX_CODE || !slug.split('-').all(word) {
        return None;
    }
    let initials: Vec<char> =
        slug.split('-').filter_map(|w| w.chars().next()).map(|c| c.to_ascii_uppercase()).take(3).collect();
    if initials.is_empty() {
        return None;
    }
    Some(draw(&[&initials], colour(slug)))
}

/// Background colours, each dark enough for white text to read (contrast
/// ratio above 4.5:1, WCAG AA).
const COLOURS: [[u8; 3]; 8] = [
    [0x1d, 0x4e, 0x89],
    [0x0b, 0x6e, 0x4f],
    [0x8a, 0x1c, 0x3d],
    [0x5b, 0x2c, 0x83],
    [0x9a, 0x3b, 0x00],
    [0x0e, 0x5f, 0x76],
    [0x4a, 0x55, 0x68],
    [0x2f, 0x5d, 0x1e],
];

/// The same code always gets the same colour (FNV-1a of its text).
fn colour(code: &str) -> [u8; 3] {
    let hash = code.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    COLOURS[(hash % COLOURS.len() as u32) as usize]
}

/// Draws `lines` of glyphs centred, as large as fits, white on `background`.
fn draw(lines: &[&[char]], background: [u8; 3]) -> Vec<u8> {
    let widest = lines.iter().map(|l| l.len()).max().unwrap_or(1);
    // A glyph is 5×7 cells, with one cell between glyphs and between lines.
    let (cols, rows) = (widest * 6 - 1, lines.len() * 8 - 1);
    let scale = ((SIDE - 16) / cols).min((SIDE - 16) / rows).clamp(1, 8);
    let top = (SIDE - rows * scale) / 2;
    let mut pixels = vec![false; SIDE * SIDE];
    for (n, line) in lines.iter().enumerate() {
        let left = (SIDE - (line.len() * 6 - 1) * scale) / 2;
        for (i, &c) in line.iter().enumerate() {
            let (x0, y0) = (left + i * 6 * scale, top + n * 8 * scale);
            for (row, bits) in glyph(c).iter().enumerate() {
                for col in 0..5 {
                    if bits & (0b10000 >> col) != 0 {
                        for dy in 0..scale {
                            let y = y0 + row * scale + dy;
                            let x = x0 + col * scale;
                            pixels[y * SIDE + x..y * SIDE + x + scale].fill(true);
                        }
                    }
                }
            }
        }
    }
    let row_bytes = SIDE.div_ceil(8);
    let mut raw = Vec::with_capacity((row_bytes + 1) * SIDE);
    for y in 0..SIDE {
        raw.push(0);
        for byte in pixels[y * SIDE..(y + 1) * SIDE].chunks(8) {
            raw.push(byte.iter().enumerate().fold(0u8, |b, (i, &on)| b | (u8::from(on) << (7 - i))));
        }
    }
    let side = SIDE as u32;
    crate::png::one_bit(side, side, &raw, Some([background, [0xff, 0xff, 0xff]]))
}

/// A 5×7 glyph, one row a byte, the leftmost pixel in bit 4.
fn glyph(c: char) -> [u8; 7] {
    const LETTERS: [[u8; 7]; 26] = [
        [0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11], // A
        [0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e], // B
        [0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e], // C
        [0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c], // D
        [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f], // E
        [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10], // F
        [0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f], // G
        [0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11], // H
        [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e], // I
        [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c], // J
        [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], // K
        [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f], // L
        [0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11], // M
        [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11], // N
        [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e], // O
        [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10], // P
        [0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d], // Q
        [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11], // R
        [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e], // S
        [0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04], // T
        [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e], // U
        [0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04], // V
        [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a], // W
        [0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11], // X
        [0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04], // Y
        [0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f], // Z
    ];
    const DIGITS: [[u8; 7]; 10] = [
        [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e], // 0
        [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e], // 1
        [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f], // 2
        [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e], // 3
        [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02], // 4
        [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e], // 5
        [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e], // 6
        [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08], // 7
        [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e], // 8
        [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c], // 9
    ];
    match c {
        'A'..='Z' => LETTERS[c as usize - 'A' as usize],
        '0'..='9' => DIGITS[c as usize - '0' as usize],
        '-' => [0, 0, 0, 0x1f, 0, 0, 0],
        _ => [0, 0, 0, 0, 0, 0, 0x1f],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pixels of a 1-bit image, read back from our own PNG (stored blocks).
    fn pixels(png: &[u8]) -> Vec<bool> {
        // Signature, IHDR (25 bytes), PLTE (12 + 6), then IDAT: length, type, zlib header.
        let idat = 8 + 25 + 18;
        assert_eq!(&png[idat + 4..idat + 8], b"IDAT");
        let z = &png[idat + 8..];
        let (mut pos, mut raw) = (2, Vec::new());
        loop {
            let last = z[pos] & 1 == 1;
            let len = u16::from_le_bytes([z[pos + 1], z[pos + 2]]) as usize;
            raw.extend_from_slice(&z[pos + 5..pos + 5 + len]);
            pos += 5 + len;
            if last {
                break;
            }
        }
        raw.chunks(SIDE / 8 + 1)
            .flat_map(|line| line[1..].iter().flat_map(|b| (0..8).map(move |i| b & (0x80 >> i) != 0)))
            .collect()
    }

    #[test]
    fn a_product_image_is_a_two_colour_png_of_its_code() {
        let png = product_png("TNB").unwrap();
        assert_eq!(&png[..8], &crate::png::PNG_SIGNATURE);
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), SIDE as u32);
        assert_eq!(&png[24..26], &[1, 3], "1 bit, indexed");
        assert_eq!(&png[37..41], b"PLTE");
        let on = pixels(&png);
        assert_eq!(on.len(), SIDE * SIDE);
        // Three glyphs of 5×7 at the largest scale that fits 80 px: 17 cells wide → scale 4.
        let lit = on.iter().filter(|&&p| p).count();
        let cells: u32 = ['T', 'N', 'B'].iter().flat_map(|&c| glyph(c)).map(u8::count_ones).sum();
        assert_eq!(lit, cells as usize * 16);
        // The same code draws the same image; another draws another.
        assert_eq!(product_png("TNB"), Some(png.clone()));
        assert_ne!(product_png("TNG"), Some(png));
    }

    #[test]
    fn codes_that_cannot_be_a_products_get_none() {
        for bad in ["", "../etc", "A B", "a.png", &"X".repeat(33), "ÄB"] {
            assert!(product_png(bad).is_none(), "{bad:?}");
        }
        assert!(product_png("YESP").is_some() && product_png("abc-12_x").is_some());
        assert!(group_png("mobile-reload").is_some() && group_png("e-sim2").is_some());
        for bad in ["", "Mobile", "---", "a-", "-a", "a--b", &"x".repeat(33)] {
            assert!(group_png(bad).is_none(), "{bad:?}");
        }
    }

    /// Found in review: an imported group named `Bills & Utilities` listed
    /// `bills---utilities.png`, which answered 404. Every slug has an image.
    #[test]
    fn every_slug_has_an_image() {
        assert_eq!(slug("Bills & Utilities"), "bills-utilities");
        assert_eq!(slug("  E-SIM / Travel  "), "e-sim-travel");
        assert_eq!(slug("Ω"), "group");
        let long = "Telecommunications Prepaid Reload Services Malaysia";
        assert!(slug(long).len() <= MAX_CODE, "{}", slug(long));
        for name in ["Bills & Utilities", "Ω", long, "a", "--x--", "Zakat (2026)", &"ab ".repeat(40)] {
            assert!(group_png(&slug(name)).is_some(), "{name:?} → {:?}", slug(name));
        }
    }

    #[test]
    fn every_glyph_is_drawn_and_distinct() {
        let all: Vec<char> = ('A'..='Z').chain('0'..='9').chain(['-', '_']).collect();
        let mut seen = std::collections::BTreeSet::new();
        for c in all {
            let g = glyph(c);
            assert!(g.iter().any(|&row| row != 0) && g.iter().all(|&row| row < 0x20), "{c}");
            assert!(seen.insert(g), "{c} looks like another glyph");
        }
    }
}
