//! Terminal cell widths: East Asian wide characters take two cells, combining marks none (`unicode-width`).

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// How many terminal cells `text` takes.
pub fn display_width(text: &str) -> usize {
    if text.is_ascii() {
        return text.len();
    }
    UnicodeWidthStr::width(text)
}

/// The marker PowerShell's table writer puts where it cut a value.
pub const ELLIPSIS: &str = "...";

/// Cuts `text` to at most `width` cells, keeping its start and ending with `...` when something was cut.
pub fn truncate_end(text: &str, width: usize) -> String {
    if display_width(text) <= width {
        return text.to_owned();
    }
    if width <= ELLIPSIS.len() {
        return take_cells(text, width).to_owned();
    }
    let mut out = take_cells(text, width - ELLIPSIS.len()).to_owned();
    out.push_str(ELLIPSIS);
    out
}

/// Cuts `text` to at most `width` cells, keeping its end and starting with `...` (right-aligned columns).
pub fn truncate_start(text: &str, width: usize) -> String {
    if display_width(text) <= width {
        return text.to_owned();
    }
    if width <= ELLIPSIS.len() {
        return take_cells(text, width).to_owned();
    }
    let budget = width - ELLIPSIS.len();
    let mut used = 0;
    let mut start = text.len();
    for (i, c) in text.char_indices().rev() {
        let w = c.width().unwrap_or(0);
        if used + w > budget {
            break;
        }
        used += w;
        start = i;
    }
    format!("{ELLIPSIS}{}", &text[start..])
}

/// The longest prefix of `text` that fits in `width` cells.
pub fn take_cells(text: &str, width: usize) -> &str {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > width {
            return &text[..i];
        }
        used += w;
    }
    text
}

/// Appends `text` to `out` padded with spaces to `width` cells, on the right (`left_aligned`) or the left.
pub fn push_padded(out: &mut String, text: &str, width: usize, left_aligned: bool) {
    let fill = width.saturating_sub(display_width(text));
    if !left_aligned {
        out.extend(std::iter::repeat_n(' ', fill));
    }
    out.push_str(text);
    if left_aligned {
        out.extend(std::iter::repeat_n(' ', fill));
    }
}

/// Splits `text` into pieces of at most `width` cells (at least one character each), for wrapped list values;
/// one pass over the text, whatever its length.
pub fn wrap(text: &str, width: usize) -> Vec<&str> {
    let width = width.max(1);
    let mut pieces = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, c) in text.char_indices() {
        let w = c.width().unwrap_or(0);
        // A wide character in a one-cell budget still has to go somewhere: alone on its piece.
        if used + w > width && i > start {
            pieces.push(&text[start..i]);
            start = i;
            used = 0;
        }
        used += w;
    }
    pieces.push(&text[start..]);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_take_two_cells() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("日本語"), 6);
        assert_eq!(display_width("e\u{301}"), 1);
        assert_eq!(truncate_end("日本語テキスト", 9), "日本語...");
        assert_eq!(truncate_end("日本語テキスト", 8), "日本...");
        assert_eq!(truncate_start("1234567", 6), "...567");
        assert_eq!(truncate_end("abcdef", 2), "ab");
        assert_eq!(wrap("日本語", 3), ["日", "本", "語"]);
        assert_eq!(wrap("abcde", 2), ["ab", "cd", "e"]);
        let mut out = String::new();
        push_padded(&mut out, "日本", 6, false);
        assert_eq!(out, "  日本");
    }
}
