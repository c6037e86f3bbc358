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

/// Bytes that may start something to escape: C0 controls and DEL, the XML specials, `_`, and the UTF-8 lead
/// bytes of the ranges that hold C1 controls (0xC2), U+FFFE/U+FFFF (0xEF) and characters above U+FFFF
/// (0xF0..=0xF4). Every other byte is copied as is, so the scan looks at bytes, not characters.
static MAY_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[0x7F] = true;
    table[b'&' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b'"' as usize] = true;
    table[b'_' as usize] = true;
    table[0xC2] = true;
    table[0xEF] = true;
    let mut lead = 0xF0;
    while lead <= 0xF4 {
        table[lead] = true;
        lead += 1;
    }
    table
};

/// Appends `text` to `out` with `_xHHHH_` escapes and XML escaping (`&`, `<`, `>`, and `"` when `attribute`).
pub fn encode_into(out: &mut String, text: &str, attribute: bool) {
    let bytes = text.as_bytes();
    let mut plain_start = 0;
    let mut i = 0;
    while let Some(found) = bytes[i..].iter().position(|&b| MAY_ESCAPE[usize::from(b)]) {
        i += found;
        // `i` is on a character boundary: every byte of the table is ASCII or a UTF-8 lead byte.
        let Some(c) = text[i..].chars().next() else { break };
        let replacement: Option<&str> = match c {
            '&' => Some("&amp;"),
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            '"' if attribute => Some("&quot;"),
            '_' if bytes.get(i + 1).is_some_and(|b| (b | 0x20) == b'x') => Some("_x005F_"),
            c if needs_unit_escape(c) => None,
            _ => {
                i += c.len_utf8();
                continue;
            }
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
        i += c.len_utf8();
        plain_start = i;
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

    /// The character-by-character form the byte scan replaced: the oracle for it.
    fn encode_by_chars(text: &str, attribute: bool) -> String {
        let mut out = String::new();
        for (i, c) in text.char_indices() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' if attribute => out.push_str("&quot;"),
                '_' if text.as_bytes().get(i + 1).is_some_and(|b| (b | 0x20) == b'x') => out.push_str("_x005F_"),
                c if needs_unit_escape(c) => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("_x{unit:04X}_"));
                    }
                }
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn byte_scan_matches_the_character_rules() {
        // Every character next to the table's lead bytes, and the boundaries of each escaped range.
        let mut chars: Vec<char> = (0u32..0x300).filter_map(char::from_u32).collect();
        chars.extend(['\u{D7FF}', '\u{E000}', '\u{EFFF}', '\u{F000}', '\u{FFFD}', '\u{FFFE}', '\u{FFFF}']);
        chars.extend(['\u{10000}', '\u{1F600}', '\u{10FFFF}', 'x', 'X', '_']);
        for (n, &a) in chars.iter().enumerate() {
            let b = chars[(n * 7 + 3) % chars.len()];
            let text: String = [a, b, '_', a, 'x', b, a].iter().collect();
            for attribute in [false, true] {
                assert_eq!(encode(&text, attribute), encode_by_chars(&text, attribute), "{text:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn byte_scan_matches_on_any_text(text in "\\PC*|[_xX<>&\"\\x00-\\x1f\\u{7f}-\\u{a0}\\u{fffe}\\u{ffff}\\u{10000}a]*") {
            proptest::prop_assert_eq!(encode(&text, false), encode_by_chars(&text, false));
            proptest::prop_assert_eq!(encode(&text, true), encode_by_chars(&text, true));
        }
    }
}
