//! A minimal PNG writer for 1-bit images (QR codes, product images): one
//! IDAT chunk holding a zlib stream of *stored* (uncompressed) deflate
//! blocks. The images are small, so skipping compression keeps this simple
//! and dependency-free.

/// Largest payload of one stored deflate block.
const MAX_STORED_BLOCK: usize = 65_535;
pub(crate) const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// A 1-bit PNG of `width` × `height` from `raw` scanlines (each a filter
/// byte 0, then pixels packed 8 to a byte, most significant bit first).
/// Without a palette, bit 0 is black and 1 white (grayscale); with one,
/// bit 0 is `palette[0]` and 1 `palette[1]` (indexed colour).
pub(crate) fn one_bit(width: u32, height: u32, raw: &[u8], palette: Option<[[u8; 3]; 2]>) -> Vec<u8> {
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // bit depth 1, grayscale (0) or indexed (3), deflate, filter 0, no interlace
    ihdr.extend_from_slice(&[1, if palette.is_some() { 3 } else { 0 }, 0, 0, 0]);
    let mut out = Vec::with_capacity(raw.len() + raw.len() / MAX_STORED_BLOCK * 5 + 80);
    out.extend_from_slice(&PNG_SIGNATURE);
    write_chunk(&mut out, b"IHDR", &ihdr);
    if let Some(colours) = palette {
        write_chunk(&mut out, b"PLTE", &colours.concat());
    }
    write_chunk(&mut out, b"IDAT", &zlib_stored(raw));
    write_chunk(&mut out, b"IEND", &[]);
    out
}

/// Appends one PNG chunk: length, type, data, CRC-32 of type and data.
fn write_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let len = u32::try_from(data.len()).expect("PNG chunk larger than 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32_update(crc32_update(0xffff_ffff, kind), data) ^ 0xffff_ffff;
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 §3.2.4) with the Adler-32 trailer.
pub(crate) fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let blocks = data.len().div_ceil(MAX_STORED_BLOCK).max(1);
    let mut out = Vec::with_capacity(data.len() + blocks * 5 + 6);
    out.extend_from_slice(&[0x78, 0x01]); // deflate, 32 KiB window, no dictionary; (0x7801 % 31 == 0)
    let mut chunks = data.chunks(MAX_STORED_BLOCK).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]); // an empty final block
    }
    while let Some(block) = chunks.next() {
        let last = chunks.peek().is_none();
        out.push(u8::from(last)); // BFINAL, BTYPE = 00 (stored)
        let len = block.len() as u16; // <= 65535 by construction
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

pub(crate) fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 is the largest run that cannot overflow u32 before reducing.
    for run in data.chunks(5552) {
        for &byte in run {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// Feeds `data` into a running CRC-32 (PNG / ISO-HDLC); start with `0xffffffff`, finish with `^ 0xffffffff`.
pub(crate) fn crc32_update(mut crc: u32, data: &[u8]) -> u32 {
    for &byte in data {
        crc = CRC_TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}
