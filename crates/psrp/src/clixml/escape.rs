//! PowerShell's `_xHHHH_` encoding of string contents and property names, and XML text escaping.
//!
//! PowerShell writes a UTF-16 code unit as `_xHHHH_` when XML cannot carry it or a reader could misread it: C0 and
//! C1 control characters (CR and LF included), U+FFFE/U+FFFF, both halves of a surrogate pair, and the `_` of a
//! literal `_x` (as `_x005F_`).

/// Decodes `_xHHHH_` escapes. A lone surrogate (which a Rust string cannot hold) becomes U+FFFD.
pub fn decode(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    let has_escape = if bytes.len() <= 32 {
        bytes.windows(2).any(|w| w[0] == b'_' && (w[1] | 0x20) == b'x')
    } else {
        memchr::memchr_iter(b'_', bytes).any(|i| bytes.get(i + 1).is_some_and(|b| (b | 0x20) == b'x'))
    };
    if !has_escape {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut units: Vec<u16> = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut plain_start = 0;
    while i < bytes.len() {
        if let Some(unit) = escape_at(bytes, i) {
            units.extend(text[plain_start..i].encode_utf16());
            units.push(unit);
            i += 7;
            plain_start = i;
        } else {
            i += 1;
        }
    }
    units.extend(text[plain_start..].encode_utf16());
    std::borrow::Cow::Owned(char::decode_utf16(units).map(|c| c.unwrap_or('\u{FFFD}')).collect())
}

/// The code unit of an `_xHHHH_` escape starting at `i`, if there is one.
fn escape_at(bytes: &[u8], i: usize) -> Option<u16> {
    let candidate = bytes.get(i..i + 7)?;
    if candidate[0] != b'_' || (candidate[1] | 0x20) != b'x' || candidate[6] != b'_' {
        return None;
    }
    let hex = std::str::from_utf8(&candidate[2..6]).ok()?;
    if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(hex, 16).ok()
}

fn needs_unit_escape(c: char) -> bool {
    let code = u32::from(c);
    code < 0x20 || (0x7F..=0x9F).contains(&code) || code == 0xFFFE || code == 0xFFFF || code > 0xFFFF
}

/// Appends `text` to `out` with `_xHHHH_` escapes and XML escaping (`&`, `<`, `>`, and `"` when `attribute`).
pub fn encode_into(out: &mut String, text: &str, attribute: bool) {
    let bytes = text.as_bytes();
    let mut plain_start = 0;
    for (i, c) in text.char_indices() {
        let replacement: Option<&str> = match c {
            '&' => Some("&amp;"),
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            '"' if attribute => Some("&quot;"),
            '_' if bytes.get(i + 1).is_some_and(|b| (b | 0x20) == b'x') => Some("_x005F_"),
            c if needs_unit_escape(c) => None,
            _ => continue,
        };
        out.push_str(&text[plain_start..i]);
        match replacement {
            Some(r) => out.push_str(r),
            None => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("_x{unit:04X}_"));
                }
            }
        }
        plain_start = i + c.len_utf8();
    }
    out.push_str(&text[plain_start..]);
}

/// [`encode_into`] returning a new string.
pub fn encode(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    encode_into(&mut out, text, attribute);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        for text in ["plain", "a\r\nb", "tab\there", "_x0041_ literal", "emoji 😀", "\u{1}\u{7f}\u{9f}", "<&>\"", ""]
        {
            let encoded = encode(text, true);
            let unescaped_xml =
                encoded.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&");
            assert_eq!(decode(&unescaped_xml), text, "{encoded}");
        }
        assert_eq!(encode("a\r\n", false), "a_x000D__x000A_");
        assert_eq!(encode("😀", false), "_xD83D__xDE00_");
        assert_eq!(encode("_x", false), "_x005F_x");
        assert_eq!(decode("_x0041__x0042_c"), "ABc");
        assert_eq!(decode("_xD800_"), "\u{FFFD}");
        assert_eq!(decode("_x00zz_ and _x12"), "_x00zz_ and _x12");
    }
}
