//! QR code rendering to PNG (e.g. e-SIM activation codes `LPA:1$smdp...$...`).
//!
//! The module matrix comes from the `qrcode` crate (without its image features); the PNG is a
//! 1-bit grayscale image written by `crate::png`.

use qrcode::{Color, QrCode};

/// Light modules around the symbol, as the QR specification asks for.
const QUIET_ZONE: usize = 4;

/// Renders `text` as a QR code PNG: dark modules black on white, a 4-module quiet zone, each module
/// `scale` × `scale` pixels (`scale` is clamped to 1..=16). The image is 1-bit grayscale.
///
/// Returns `Err` when `text` does not fit in a QR code (too long).
pub fn png(text: &str, scale: u32) -> Result<Vec<u8>, String> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| format!("cannot encode QR code: {e}"))?;
    let modules = code.width();
    let colors = code.to_colors();
    let scale = scale.clamp(1, 16) as usize;
    let side = (modules + 2 * QUIET_ZONE) * scale;

    // Scanlines: filter byte 0, then pixels packed 8 to a byte, most significant bit first;
    // bit 0 = black, bit 1 = white.
    let row_bytes = side.div_ceil(8);
    let mut raw = Vec::with_capacity((row_bytes + 1) * side);
    let mut row = vec![0u8; row_bytes];
    for y in 0..side {
        let my = (y / scale).checked_sub(QUIET_ZONE).filter(|&m| m < modules);
        row.fill(0xff);
        if let Some(my) = my {
            for x in 0..side {
                let mx = (x / scale).checked_sub(QUIET_ZONE).filter(|&m| m < modules);
                if let Some(mx) = mx {
                    if colors[my * modules + mx] == Color::Dark {
                        row[x / 8] &= !(0x80 >> (x % 8));
                    }
                }
            }
        }
        raw.push(0);
        raw.extend_from_slice(&row);
    }

    let side = u32::try_from(side).map_err(|_| "QR image too large".to_string())?;
    Ok(crate::png::one_bit(side, side, &raw, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::png::{adler32, crc32_update, zlib_stored, PNG_SIGNATURE};

    struct Chunk<'a> {
        kind: [u8; 4],
        data: &'a [u8],
        crc: u32,
    }

    fn chunks(png: &[u8]) -> Vec<Chunk<'_>> {
        assert_eq!(&png[..8], &PNG_SIGNATURE, "PNG signature");
        let mut rest = &png[8..];
        let mut out = Vec::new();
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let kind: [u8; 4] = rest[4..8].try_into().unwrap();
            let data = &rest[8..8 + len];
            let crc = u32::from_be_bytes(rest[8 + len..12 + len].try_into().unwrap());
            out.push(Chunk { kind, data, crc });
            rest = &rest[12 + len..];
        }
        out
    }

    /// Inflates a zlib stream made only of stored blocks, checking the header and Adler-32.
    fn inflate_stored(z: &[u8]) -> Vec<u8> {
        assert_eq!(z[0] & 0x0f, 8, "CM = deflate");
        assert_eq!((u16::from(z[0]) << 8 | u16::from(z[1])) % 31, 0, "zlib FCHECK");
        assert_eq!(z[1] & 0x20, 0, "no preset dictionary");
        let mut pos = 2;
        let mut out = Vec::new();
        loop {
            let header = z[pos];
            assert_eq!(header & 0b110, 0, "stored block");
            let len = u16::from_le_bytes([z[pos + 1], z[pos + 2]]);
            let nlen = u16::from_le_bytes([z[pos + 3], z[pos + 4]]);
            assert_eq!(len, !nlen, "LEN/NLEN");
            pos += 5;
            out.extend_from_slice(&z[pos..pos + len as usize]);
            pos += len as usize;
            if header & 1 == 1 {
                break;
            }
        }
        assert_eq!(u32::from_be_bytes(z[pos..pos + 4].try_into().unwrap()), adler32(&out), "Adler-32");
        assert_eq!(pos + 4, z.len(), "trailing bytes after zlib stream");
        out
    }

    /// Decodes our PNG back to (width, height, 8-bit gray pixels).
    fn read_png(png: &[u8]) -> (usize, usize, Vec<u8>) {
        let chunks = chunks(png);
        assert_eq!(&chunks[0].kind, b"IHDR");
        assert_eq!(&chunks.last().unwrap().kind, b"IEND");
        let ihdr = chunks[0].data;
        let w = u32::from_be_bytes(ihdr[0..4].try_into().unwrap()) as usize;
        let h = u32::from_be_bytes(ihdr[4..8].try_into().unwrap()) as usize;
        let (depth, color) = (ihdr[8], ihdr[9]);
        assert_eq!(color, 0, "grayscale");
        assert!(depth == 1 || depth == 8);
        let z: Vec<u8> = chunks.iter().filter(|c| &c.kind == b"IDAT").flat_map(|c| c.data.to_vec()).collect();
        let raw = inflate_stored(&z);
        let row_bytes = (w * depth as usize).div_ceil(8);
        assert_eq!(raw.len(), h * (row_bytes + 1));
        let mut pixels = Vec::with_capacity(w * h);
        for line in raw.chunks(row_bytes + 1) {
            assert_eq!(line[0], 0, "filter type None");
            let row = &line[1..];
            for x in 0..w {
                pixels.push(match depth {
                    1 => (row[x / 8] >> (7 - x % 8) & 1) * 255,
                    _ => row[x],
                });
            }
        }
        (w, h, pixels)
    }

    fn decode(png: &[u8]) -> String {
        let (w, h, pixels) = read_png(png);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "exactly one QR code found");
        grids[0].decode().expect("QR decodes").1
    }

    fn lpa(len: usize) -> String {
        let mut s = String::from("LPA:1$smdp.tambah.test$");
        let mut i = 0u32;
        while s.len() < len {
            s.push(char::from(b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"[(i * 7 % 34) as usize]));
            i += 1;
            if i % 5 == 4 && s.len() < len {
                s.push('-');
            }
        }
        s
    }

    #[test]
    fn qr_png_structure_and_crcs() {
        let text = "LPA:1$smdp.tambah.test$ABCD-1234-EFGH-5678";
        let modules = QrCode::new(text.as_bytes()).unwrap().width() as u32;
        for scale in [1, 3, 8] {
            let png = png(text, scale).unwrap();
            assert_eq!(&png[..8], &PNG_SIGNATURE);
            let chunks = chunks(&png);
            let kinds: Vec<&[u8; 4]> = chunks.iter().map(|c| &c.kind).collect();
            assert_eq!(kinds, [b"IHDR", b"IDAT", b"IEND"]);
            for c in &chunks {
                let crc = crc32_update(crc32_update(0xffff_ffff, &c.kind), c.data) ^ 0xffff_ffff;
                assert_eq!(crc, c.crc, "CRC of {}", String::from_utf8_lossy(&c.kind));
            }
            let ihdr = chunks[0].data;
            assert_eq!(ihdr.len(), 13);
            let side = (modules + 8) * scale;
            assert_eq!(u32::from_be_bytes(ihdr[0..4].try_into().unwrap()), side);
            assert_eq!(u32::from_be_bytes(ihdr[4..8].try_into().unwrap()), side);
            // Quiet zone is white; the top-left finder pattern corner is black.
            let (w, _, px) = read_png(&png);
            let s = scale as usize;
            assert_eq!(px[0], 255);
            assert_eq!(px[(4 * s - 1) * w + 4 * s - 1], 255);
            assert_eq!(px[4 * s * w + 4 * s], 0);
        }
    }

    #[test]
    fn qr_scale_is_clamped() {
        let text = "LPA:1$smdp.tambah.test$X";
        let modules = QrCode::new(text.as_bytes()).unwrap().width() as u32;
        let side = |png: &[u8]| u32::from_be_bytes(png[16..20].try_into().unwrap());
        assert_eq!(side(&png(text, 0).unwrap()), modules + 8);
        assert_eq!(side(&png(text, 1000).unwrap()), (modules + 8) * 16);
    }

    #[test]
    fn qr_crc_and_adler_known_values() {
        assert_eq!(crc32_update(0xffff_ffff, b"123456789") ^ 0xffff_ffff, 0xcbf4_3926);
        assert_eq!(crc32_update(0xffff_ffff, b"IEND") ^ 0xffff_ffff, 0xae42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(adler32(&[]), 1);
        assert_eq!(inflate_stored(&zlib_stored(&[])), Vec::<u8>::new());
        let big: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 251) as u8).collect();
        assert_eq!(inflate_stored(&zlib_stored(&big)), big);
    }

    #[test]
    fn qr_round_trip_short() {
        let text = "LPA:1$smdp.tambah.test$ABCD-1234";
        for scale in [1, 4] {
            assert_eq!(decode(&png(text, scale).unwrap()), text);
        }
    }

    #[test]
    fn qr_round_trip_long_lpa() {
        let text = lpa(150);
        assert_eq!(text.len(), 150);
        // Scale 16 makes the raw image exceed one 65535-byte stored block.
        for scale in [2, 16] {
            assert_eq!(decode(&png(&text, scale).unwrap()), text);
        }
    }

    #[test]
    fn qr_too_long_is_err() {
        let text = "A".repeat(5000);
        assert!(png(&text, 4).is_err());
        let text = "é".repeat(2000);
        assert!(png(&text, 4).is_err());
    }
}
