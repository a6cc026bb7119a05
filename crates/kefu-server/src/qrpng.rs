//! The image `showqrcode` answers: a QR code of a text, as a PNG.
//!
//! The modules come from `qrcodegen`; the PNG is written here: one-bit greyscale, zlib with
//! stored (uncompressed) deflate blocks. A QR image is small (a few kilobytes), so compressing
//! it would buy little and cost a dependency.

use qrcodegen::{QrCode, QrCodeEcc};

/// Pixels per module.
const SCALE: usize = 8;
/// The quiet zone around the code, in modules (the QR standard asks for 4).
const BORDER: usize = 4;

/// A PNG of the QR code of `text`, or `None` if `text` is too long for any QR code.
pub fn qr_png(text: &str) -> Option<Vec<u8>> {
    let code = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let modules = usize::try_from(code.size()).ok()?;
    let side = (modules + 2 * BORDER) * SCALE;
    let dark = |x: usize, y: usize| {
        let (mx, my) = (x / SCALE, y / SCALE);
        if mx < BORDER || my < BORDER || mx >= BORDER + modules || my >= BORDER + modules {
            return false;
        }
        let coord = |m: usize| i32::try_from(m - BORDER).unwrap_or(i32::MAX);
        code.get_module(coord(mx), coord(my))
    };
    Some(png_1bit(side, side, dark))
}

/// A one-bit greyscale PNG of `width` × `height` pixels; `dark(x, y)` is black.
fn png_1bit(width: usize, height: usize, dark: impl Fn(usize, usize) -> bool) -> Vec<u8> {
    let row_bytes = width.div_ceil(8);
    let mut raw = Vec::with_capacity(height * (row_bytes + 1));
    for y in 0..height {
        raw.push(0); // filter: none
        for byte in 0..row_bytes {
            let mut bits = 0u8;
            for bit in 0..8 {
                let x = byte * 8 + bit;
                // In one-bit greyscale, 1 is white.
                if x >= width || !dark(x, y) {
                    bits |= 0x80 >> bit;
                }
            }
            raw.push(bits);
        }
    }

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&u32_of(width).to_be_bytes());
    header.extend_from_slice(&u32_of(height).to_be_bytes());
    // Bit depth 1, colour type 0 (greyscale), deflate, adaptive filtering, no interlace.
    header.extend_from_slice(&[1, 0, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    chunk(&mut png, b"IEND", &[]);
    png
}

fn u32_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&u32_of(data.len()).to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of stored deflate blocks (RFC 1950, RFC 1951 §3.2.4).
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    const MAX_BLOCK: usize = 65_535;
    let mut out = Vec::with_capacity(data.len() + data.len() / MAX_BLOCK * 5 + 11);
    // CMF: deflate with a 32 KiB window; FLG: no dictionary, check bits making 0x7801 % 31 == 0.
    out.extend_from_slice(&[0x78, 0x01]);
    let mut blocks = data.chunks(MAX_BLOCK).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= 65_521;
        b %= 65_521;
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
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc = CRC_TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc ^ 0xffff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_their_published_values() {
        // The check values of CRC-32 and Adler-32 for "123456789".
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(adler32(b"123456789"), 0x091e_01de);
        assert_eq!(adler32(&vec![0xff; 100_000]) >> 16, {
            // b = Σ a_i, computed the long way.
            let mut a: u64 = 1;
            let mut b: u64 = 0;
            for _ in 0..100_000 {
                a = (a + 255) % 65_521;
                b = (b + a) % 65_521;
            }
            b as u32
        });
    }

    /// Reads the PNG back the long way: chunks, CRCs, the stored blocks, the pixel rows.
    fn decode(png: &[u8]) -> (usize, usize, Vec<Vec<bool>>) {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let mut at = 8;
        let (mut width, mut height, mut idat) = (0, 0, Vec::new());
        while at < png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let kind = &png[at + 4..at + 8];
            let data = &png[at + 8..at + 8 + len];
            let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
            assert_eq!(crc, crc32(&png[at + 4..at + 8 + len]));
            match kind {
                b"IHDR" => {
                    width = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
                    height = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                    assert_eq!(&data[8..], &[1, 0, 0, 0, 0]);
                }
                b"IDAT" => idat.extend_from_slice(data),
                b"IEND" => assert!(data.is_empty()),
                _ => panic!("unexpected chunk"),
            }
            at += 12 + len;
        }
        assert_eq!(&idat[..2], &[0x78, 0x01]);
        let mut raw = Vec::new();
        let mut i = 2;
        loop {
            let last = idat[i] == 1;
            let len = u16::from_le_bytes([idat[i + 1], idat[i + 2]]) as usize;
            assert_eq!(
                !(len as u16),
                u16::from_le_bytes([idat[i + 3], idat[i + 4]])
            );
            raw.extend_from_slice(&idat[i + 5..i + 5 + len]);
            i += 5 + len;
            if last {
                break;
            }
        }
        assert_eq!(&idat[i..], &adler32(&raw).to_be_bytes());
        let row_bytes = width.div_ceil(8);
        let rows = raw
            .chunks(row_bytes + 1)
            .map(|row| {
                assert_eq!(row[0], 0);
                (0..width)
                    .map(|x| row[1 + x / 8] & (0x80 >> (x % 8)) == 0)
                    .collect()
            })
            .collect::<Vec<Vec<bool>>>();
        assert_eq!(rows.len(), height);
        (width, height, rows)
    }

    #[test]
    fn the_image_is_the_code_scaled_with_a_quiet_zone() {
        let url = "https://weixin.qq.com/q/kZgfwMTm72WWPkovabbI";
        let png = qr_png(url).unwrap();
        let code = QrCode::encode_text(url, QrCodeEcc::Medium).unwrap();
        let modules = code.size() as usize;
        let (width, height, rows) = decode(&png);
        assert_eq!((width, height), ((modules + 8) * 8, (modules + 8) * 8));
        for (y, row) in rows.iter().enumerate() {
            for (x, &dark) in row.iter().enumerate() {
                let (mx, my) = (x as i32 / 8 - 4, y as i32 / 8 - 4);
                assert_eq!(dark, code.get_module(mx, my), "pixel ({x}, {y})");
            }
        }
        // The top-left finder pattern is dark at its corner.
        assert!(rows[32][32] && !rows[31][31]);
    }

    #[test]
    fn large_images_span_several_stored_blocks_and_text_too_long_is_none() {
        let png = png_1bit(2000, 300, |x, y| (x + y) % 3 == 0);
        let (width, height, rows) = decode(&png);
        assert_eq!((width, height), (2000, 300));
        assert!(rows[0][0] && !rows[0][1] && rows[1][2]);
        assert!(qr_png(&"x".repeat(5000)).is_none());
    }
}
