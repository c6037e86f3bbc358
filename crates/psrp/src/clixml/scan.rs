//! A small XML pull scanner specialised for CLIXML, the deserializer's hot path.
//!
//! CLIXML uses a narrow slice of XML: elements, attributes, text with the five predefined entities and character
//! references, and (rarely) comments, processing instructions and CDATA. This scanner handles exactly that, checks
//! well-formedness (matching end tags, quoted attributes, no stray `<`), refuses any DOCTYPE and undefined entity,
//! and hands out slices of the input: nothing is copied until a value needs decoding. A general XML reader spent
//! most of the deserializer's time on machinery CLIXML never uses; see the crate README's benchmark table.
//!
//! Each byte of text and of attribute values is classified once: the pass that finds where a text or a value ends
//! also notes whether it holds a reference (`&`), a carriage return or an underscore (a possible `_xHHHH_`), so a
//! value with none of them is never looked at again. The first [`INLINE_ATTRIBUTES`] attributes of a tag (CLIXML
//! elements carry `N` and `RefId`, rarely more) are split while the tag is checked and kept in the tag.

use std::borrow::Cow;

use crate::clixml::error::ClixmlError;

/// Byte classes: what a text or attribute value holds that its consumer must decode.
pub(crate) mod class {
    /// `<`: ends text; not allowed in an attribute value.
    pub const LT: u8 = 1;
    /// `&`: an entity or character reference.
    pub const AMP: u8 = 2;
    /// `\r`: a line end to normalize.
    pub const CR: u8 = 4;
    /// `_`: a possible `_xHHHH_` escape.
    pub const UNDERSCORE: u8 = 8;
    /// `"`.
    pub const DQUOTE: u8 = 16;
    /// `'`.
    pub const SQUOTE: u8 = 32;
    /// What needs the XML decode pass.
    pub const XML: u8 = AMP | CR;
}

/// The class bits of every byte value.
static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    table[b'<' as usize] = class::LT;
    table[b'&' as usize] = class::AMP;
    table[b'\r' as usize] = class::CR;
    table[b'_' as usize] = class::UNDERSCORE;
    table[b'"' as usize] = class::DQUOTE;
    table[b'\'' as usize] = class::SQUOTE;
    table
};

/// How many bytes are classified one by one before the rest is searched with `memchr`: its setup costs more than
/// it saves on CLIXML's typical short names, numbers and strings.
const SHORT: usize = 64;

/// The offset of the first byte of a class in `stop` (or the length), and the classes seen before it.
#[inline]
fn scan_until(bytes: &[u8], stop: u8) -> (usize, u8) {
    let mut seen = 0;
    for (i, &b) in bytes.iter().take(SHORT).enumerate() {
        let class = CLASS[b as usize];
        if class & stop != 0 {
            return (i, seen);
        }
        seen |= class;
    }
    if bytes.len() <= SHORT {
        return (bytes.len(), seen);
    }
    let (len, more) = scan_long(&bytes[SHORT..], stop);
    (SHORT + len, seen | more)
}

/// [`scan_until`] for long input: vectorized searches for the stop and for anything to decode.
#[cold]
fn scan_long(bytes: &[u8], stop: u8) -> (usize, u8) {
    let end = if stop == class::LT {
        memchr::memchr(b'<', bytes)
    } else {
        // An attribute value: its quote, or a `<` that makes it malformed.
        let quote = if stop & class::DQUOTE != 0 { b'"' } else { b'\'' };
        memchr::memchr2(quote, b'<', bytes)
    }
    .unwrap_or(bytes.len());
    let body = &bytes[..end];
    let mut seen = 0;
    if memchr::memchr2(b'&', b'\r', body).is_some() {
        seen |= class::XML;
    }
    if memchr::memchr(b'_', body).is_some() {
        seen |= class::UNDERSCORE;
    }
    (end, seen)
}

/// The character data at the start of `input`, up to its first `<` (or its end), classified.
pub(crate) fn leading_text(input: &str) -> Text<'_> {
    let (len, classes) = scan_until(input.as_bytes(), class::LT);
    Text { raw: &input[..len], classes }
}

/// The first `needle` in `hay`.
pub(crate) fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    let head = hay.len().min(SHORT);
    if let Some(i) = hay[..head].iter().position(|&b| b == needle) {
        return Some(i);
    }
    memchr::memchr(needle, &hay[head..]).map(|i| i + head)
}

/// Escaped character data with what it holds: decoding is skipped for text that has nothing to decode.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Text<'x> {
    raw: &'x str,
    classes: u8,
}

impl<'x> Text<'x> {
    /// Resolves references and normalizes line ends (see [`decode`]).
    pub fn decode(&self, position: u64) -> Result<Cow<'x, str>, ClixmlError> {
        if self.classes & class::XML == 0 { Ok(Cow::Borrowed(self.raw)) } else { decode(self.raw, position) }
    }

    /// Whether the text may hold a PowerShell `_xHHHH_` escape once decoded (an `_`, or a reference that may
    /// stand for one).
    pub fn may_escape(&self) -> bool {
        self.classes & (class::UNDERSCORE | class::AMP) != 0
    }

    /// Whether the text is exactly what it stands for: nothing to resolve, normalize or unescape.
    pub fn is_literal(&self) -> bool {
        self.classes & (class::XML | class::UNDERSCORE) == 0
    }

    /// The text as written.
    pub fn raw(&self) -> &'x str {
        self.raw
    }

    /// Whether the text is only XML white space.
    pub fn is_blank(&self) -> bool {
        self.raw.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    }
}

/// A byte range of a tag's text.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn of<'x>(&self, text: &'x str) -> &'x str {
        &text[self.start as usize..self.end as usize]
    }
}

/// One attribute of a tag, as ranges of the tag's text: its name without prefix and its value as written.
#[derive(Debug, Clone, Copy, Default)]
struct AttributeSpan {
    local: Span,
    value: Span,
    classes: u8,
}

/// How many attributes a tag keeps split; the rest are found again in the raw text when asked for.
pub(crate) const INLINE_ATTRIBUTES: usize = 2;

/// A start tag: its name and its attributes (checked while scanning). Kept small, as ranges of the tag's text,
/// because it is handed up through every level of the deserializer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tag<'x> {
    /// The text between `<` and `>` (or `/>`).
    text: &'x str,
    name_len: u32,
    /// Where the name's local part starts (after a prefix).
    local_start: u32,
    inline: [AttributeSpan; INLINE_ATTRIBUTES],
    inline_len: u8,
    /// Where the attributes after the inline ones start (the text's length when there are none).
    more_start: u32,
    /// Byte offset of the `<`.
    pub position: u64,
}

impl<'x> Tag<'x> {
    /// The name without a namespace prefix.
    pub fn local_name(&self) -> &'x str {
        &self.text[self.local_start as usize..self.name_len as usize]
    }

    /// The name as written, with any namespace prefix.
    pub fn qualified_name(&self) -> &'x str {
        &self.text[..self.name_len as usize]
    }

    /// The value of attribute `name` (compared without prefix), as written.
    pub fn raw_attribute(&self, name: &str) -> Result<Option<Text<'x>>, ClixmlError> {
        for attribute in &self.inline[..self.inline_len as usize] {
            if attribute.local.of(self.text) == name {
                return Ok(Some(Text { raw: attribute.value.of(self.text), classes: attribute.classes }));
            }
        }
        let mut rest = &self.text[self.more_start as usize..];
        loop {
            rest = rest.trim_start_matches(is_space);
            if rest.is_empty() {
                return Ok(None);
            }
            let (attribute, consumed) =
                split_attribute(rest).ok_or_else(|| xml(self.position, "malformed attribute"))?;
            if attribute.local.of(rest) == name {
                return Ok(Some(Text { raw: attribute.value.of(rest), classes: attribute.classes }));
            }
            rest = &rest[consumed..];
        }
    }

    /// The value of attribute `name` (compared without prefix), entity-decoded.
    pub fn attribute(&self, name: &str) -> Result<Option<Cow<'x, str>>, ClixmlError> {
        match self.raw_attribute(name)? {
            Some(value) => value.decode(self.position).map(Some),
            None => Ok(None),
        }
    }
}

/// One scanner event.
#[derive(Debug)]
pub(crate) enum Event<'x> {
    /// `<name …>`.
    Start(Tag<'x>),
    /// `<name …/>`.
    Empty(Tag<'x>),
    /// `</name>` (checked against the matching start tag).
    End,
    /// Character data, still escaped.
    Text(Text<'x>),
    /// `<![CDATA[…]]>` content, literal.
    CData(&'x str),
    /// End of input with every element closed.
    Eof,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_space_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn xml(position: u64, message: &str) -> ClixmlError {
    ClixmlError::Xml { position, message: message.to_owned() }
}

/// Splits `key="value" rest` (either quote) into the attribute, as ranges of `text`, and how many bytes it
/// took, in one pass over the bytes. `None` when it is malformed or `text` ends inside it.
fn split_attribute(text: &str) -> Option<(AttributeSpan, usize)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut local_start = 0;
    while i < bytes.len() && !matches!(bytes[i], b'=' | b' ' | b'\t' | b'\r' | b'\n') {
        match bytes[i] {
            b'<' | b'>' | b'"' | b'\'' | b'/' => return None,
            b':' if local_start == 0 => local_start = i + 1,
            _ => {}
        }
        i += 1;
    }
    let key_end = i;
    while i < bytes.len() && is_space_byte(bytes[i]) {
        i += 1;
    }
    if key_end == 0 || bytes.get(i) != Some(&b'=') {
        return None;
    }
    i += 1;
    while i < bytes.len() && is_space_byte(bytes[i]) {
        i += 1;
    }
    let quote = match bytes.get(i)? {
        b'"' => class::DQUOTE,
        b'\'' => class::SQUOTE,
        _ => return None,
    };
    let start = i + 1;
    let (len, classes) = scan_until(&bytes[start..], quote | class::LT);
    let close = start + len;
    if bytes.get(close).is_none_or(|&b| b == b'<') {
        return None;
    }
    let span = |from: usize, to: usize| Span { start: from as u32, end: to as u32 };
    let attribute = AttributeSpan { local: span(local_start, key_end), value: span(start, close), classes };
    Some((attribute, close + 1))
}

/// Resolves entity and character references and normalizes line ends (XML 1.0 §2.11) in text or an attribute
/// value. Only the five predefined entities exist; any other name is an error, so no expansion can happen.
pub(crate) fn decode(raw: &str, position: u64) -> Result<Cow<'_, str>, ClixmlError> {
    let bytes = raw.as_bytes();
    let is_special = |b: &u8| *b == b'&' || *b == b'\r';
    let Some(mut i) = bytes.iter().position(is_special) else {
        return Ok(Cow::Borrowed(raw));
    };
    let mut out = String::with_capacity(raw.len());
    let mut plain = 0;
    loop {
        out.push_str(&raw[plain..i]);
        if bytes[i] == b'\r' {
            out.push('\n');
            i += if bytes.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
        } else {
            // The predefined entities CLIXML writers use, matched without looking the name up.
            let (character, len) = match &bytes[i + 1..] {
                [b'a', b'm', b'p', b';', ..] => ('&', 5),
                [b'l', b't', b';', ..] => ('<', 4),
                [b'g', b't', b';', ..] => ('>', 4),
                [b'q', b'u', b'o', b't', b';', ..] => ('"', 6),
                [b'a', b'p', b'o', b's', b';', ..] => ('\'', 6),
                rest => {
                    let end = rest
                        .iter()
                        .take(33)
                        .position(|&b| b == b';')
                        .ok_or_else(|| xml(position, "unterminated reference"))?;
                    (reference(&raw[i + 1..i + 1 + end], position)?, end + 2)
                }
            };
            out.push(character);
            i += len;
        }
        plain = i;
        match bytes[i..].iter().position(is_special) {
            Some(next) => i += next,
            None => break,
        }
    }
    out.push_str(&raw[plain..]);
    Ok(Cow::Owned(out))
}

/// The character an entity or character reference (`amp`, `#65`, `#x41`) stands for.
fn reference(name: &str, position: u64) -> Result<char, ClixmlError> {
    Ok(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => match name.strip_prefix('#') {
            Some(number) => {
                let code = match number.strip_prefix('x') {
                    Some(hex) => u32::from_str_radix(hex, 16),
                    None => number.parse(),
                }
                .map_err(|_| xml(position, "invalid character reference"))?;
                char::from_u32(code)
                    .filter(|&c| c != '\0')
                    .ok_or_else(|| xml(position, "invalid character reference"))?
            }
            None => return Err(ClixmlError::Entity(name.to_owned())),
        },
    })
}

/// The names of the elements a scanner is inside, kept as byte ranges of its input so the stack can be reused
/// from one document to the next without holding on to either.
pub(crate) type OpenStack = Vec<(usize, usize)>;

/// The scanner over one document.
pub(crate) struct Scanner<'x> {
    input: &'x str,
    pos: usize,
    open: OpenStack,
    /// Input that is not UTF-8 is reported by the first [`Scanner::next`].
    invalid: Option<ClixmlError>,
}

impl<'x> Scanner<'x> {
    /// A scanner over `input`, which must be UTF-8.
    pub fn new(input: &'x [u8]) -> Self {
        Scanner::with_stack(input, OpenStack::new())
    }

    /// A scanner over `input` that keeps its element stack in `open` (emptied first); see [`Scanner::take_stack`].
    pub fn with_stack(input: &'x [u8], mut open: OpenStack) -> Self {
        open.clear();
        match std::str::from_utf8(input) {
            Ok(input) => Scanner { input, pos: 0, open, invalid: None },
            Err(e) => {
                Scanner { input: "", pos: 0, open, invalid: Some(xml(e.valid_up_to() as u64, "input is not UTF-8")) }
            }
        }
    }

    /// The element stack's storage, for the next document (the scanner is left with an empty one).
    pub fn take_stack(&mut self) -> OpenStack {
        std::mem::take(&mut self.open)
    }

    /// Byte offset of the next event.
    pub fn position(&self) -> u64 {
        self.pos as u64
    }

    /// The input between two offsets (for elements kept raw).
    pub fn slice(&self, from: u64, to: u64) -> Option<&'x str> {
        self.input.get(from as usize..to as usize)
    }

    /// The input from the current position on.
    pub fn rest(&self) -> &'x str {
        &self.input[self.pos..]
    }

    /// The input from `position` on (empty past the end).
    pub fn input_from(&self, position: u64) -> &'x str {
        self.input.get(position as usize..).unwrap_or("")
    }

    /// Consumes `len` bytes that close the element just started, without checking them: for content that is
    /// byte for byte the same as content checked before (a repeated `<TN>` list, an object of a known shape).
    pub fn skip_checked(&mut self, len: usize) {
        self.pos += len;
        self.open.pop();
    }

    /// [`Scanner::skip_checked`] up to the absolute offset `end`.
    pub fn skip_checked_to(&mut self, end: u64) {
        self.skip_checked((end as usize).saturating_sub(self.pos));
    }

    /// The next event.
    pub fn next(&mut self) -> Result<Event<'x>, ClixmlError> {
        if let Some(error) = &self.invalid {
            return Err(error.clone());
        }
        loop {
            let rest = &self.input[self.pos..];
            if rest.is_empty() {
                return if self.open.is_empty() { Ok(Event::Eof) } else { Err(ClixmlError::Truncated) };
            }
            let start = self.pos as u64;
            let bytes = rest.as_bytes();
            if bytes[0] != b'<' {
                let (len, classes) = scan_until(bytes, class::LT);
                self.pos += len;
                return Ok(Event::Text(Text { raw: &rest[..len], classes }));
            }
            match bytes.get(1) {
                None => return Err(ClixmlError::Truncated),
                Some(b'/') => return self.end_tag(rest, start),
                Some(b'?') => {
                    let close = rest.find("?>").ok_or(ClixmlError::Truncated)?;
                    self.pos += close + 2;
                }
                Some(b'!') => {
                    if let Some(comment) = rest.strip_prefix("<!--") {
                        let close = comment.find("-->").ok_or(ClixmlError::Truncated)?;
                        self.pos += 4 + close + 3;
                    } else if let Some(body) = rest.strip_prefix("<![CDATA[") {
                        if self.open.is_empty() {
                            return Err(ClixmlError::TrailingContent);
                        }
                        let close = body.find("]]>").ok_or(ClixmlError::Truncated)?;
                        self.pos += 9 + close + 3;
                        return Ok(Event::CData(&body[..close]));
                    } else if rest.starts_with("<!DOCTYPE") || rest.starts_with("<!ENTITY") {
                        return Err(ClixmlError::Doctype);
                    } else {
                        return Err(xml(start, "unexpected markup declaration"));
                    }
                }
                Some(_) => return self.start_tag(rest, start),
            }
        }
    }

    fn end_tag(&mut self, rest: &'x str, start: u64) -> Result<Event<'x>, ClixmlError> {
        let bytes = rest.as_bytes();
        let close = find_byte(b'>', bytes).ok_or(ClixmlError::Truncated)?;
        let name = rest[2..close].trim_end_matches(is_space);
        match self.open.pop() {
            Some((from, len)) if self.input.as_bytes()[from..from + len] == *name.as_bytes() => {}
            _ => return Err(xml(start, "mismatched end tag")),
        }
        self.pos += close + 1;
        Ok(Event::End)
    }

    fn start_tag(&mut self, rest: &'x str, start: u64) -> Result<Event<'x>, ClixmlError> {
        let bytes = rest.as_bytes();
        let mut name_len = 0;
        let mut local_start = 0;
        loop {
            match bytes.get(1 + name_len) {
                None => return Err(ClixmlError::Truncated),
                Some(b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>') => break,
                Some(b'<' | b'"' | b'\'' | b'=' | b'&') => return Err(xml(start, "invalid element name")),
                Some(b':') if local_start == 0 => {
                    name_len += 1;
                    local_start = name_len;
                }
                Some(_) => name_len += 1,
            }
        }
        if name_len == 0 {
            return Err(xml(start, "invalid element name"));
        }
        // Offsets in the tag are relative to its text, which starts after the `<`.
        let mut inline = [AttributeSpan::default(); INLINE_ATTRIBUTES];
        let mut inline_len = 0;
        let mut more_start = None;
        let mut cursor = 1 + name_len;
        loop {
            let mut skipped = 0;
            while cursor < bytes.len() && is_space_byte(bytes[cursor]) {
                cursor += 1;
                skipped += 1;
            }
            let empty = match bytes.get(cursor) {
                None => return Err(ClixmlError::Truncated),
                Some(b'/') if bytes.get(cursor + 1) == Some(&b'>') => Some(true),
                Some(b'>') => Some(false),
                Some(_) => None,
            };
            if let Some(empty) = empty {
                let text = &rest[1..cursor];
                let Ok(text_len) = u32::try_from(text.len()) else {
                    return Err(xml(start, "tag longer than 4 GiB"));
                };
                let tag = Tag {
                    text,
                    name_len: name_len as u32,
                    local_start: local_start as u32,
                    inline,
                    inline_len,
                    more_start: more_start.unwrap_or(text_len),
                    position: start,
                };
                if empty {
                    self.pos += cursor + 2;
                    return Ok(Event::Empty(tag));
                }
                self.open.push((self.pos + 1, name_len));
                self.pos += cursor + 1;
                return Ok(Event::Start(tag));
            }
            if skipped == 0 {
                return Err(xml(start, "attributes must be separated by white space"));
            }
            let tail = &rest[cursor..];
            let (mut attribute, consumed) = split_attribute(tail).ok_or_else(|| {
                if memchr::memchr(b'>', tail.as_bytes()).is_some() {
                    xml(start, "malformed attribute")
                } else {
                    ClixmlError::Truncated
                }
            })?;
            if (inline_len as usize) < INLINE_ATTRIBUTES {
                // Tags past 4 GiB are refused above, so these offsets fit whenever the tag is returned.
                let shift = (cursor - 1) as u32;
                for span in [&mut attribute.local, &mut attribute.value] {
                    span.start = span.start.wrapping_add(shift);
                    span.end = span.end.wrapping_add(shift);
                }
                inline[inline_len as usize] = attribute;
                inline_len += 1;
            } else if more_start.is_none() {
                more_start = Some((cursor - 1) as u32);
            }
            cursor += consumed;
        }
    }

    /// Consumes everything up to and including the end tag of the element just started (for elements kept raw).
    pub fn skip_element(&mut self) -> Result<(), ClixmlError> {
        let depth = self.open.len();
        loop {
            match self.next()? {
                Event::End if self.open.len() < depth => return Ok(()),
                Event::Eof => return Err(ClixmlError::Truncated),
                Event::Text(text) => {
                    text.decode(self.position())?;
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(tag: &Tag<'_>) -> String {
        let inline: Vec<String> = tag.inline[..tag.inline_len as usize]
            .iter()
            .map(|a| format!("{}={}", a.local.of(tag.text), a.value.of(tag.text)))
            .collect();
        format!("{} {}", inline.join(" "), tag.text[tag.more_start as usize..].trim())
    }

    fn events(xml: &str) -> Result<Vec<String>, ClixmlError> {
        let mut scanner = Scanner::new(xml.as_bytes());
        let mut out = Vec::new();
        loop {
            let event = scanner.next()?;
            out.push(match event {
                Event::Start(t) => format!("start {} [{}]", t.local_name(), attributes(&t).trim()),
                Event::Empty(t) => format!("empty {} [{}]", t.local_name(), attributes(&t).trim()),
                Event::End => "end".into(),
                Event::Text(t) => format!("text {:?}", t.decode(0)?),
                Event::CData(t) => format!("cdata {t:?}"),
                Event::Eof => break,
            });
        }
        Ok(out)
    }

    #[test]
    fn scans_the_xml_clixml_uses() {
        assert_eq!(
            events("<?xml version=\"1.0\"?><!-- c --><a:Obj N='x&amp;y' RefId=\"0\"><S>a&lt;b&#65;&#x42;\r\n</S><Nil /><![CDATA[<raw>]]></a:Obj>")
                .unwrap(),
            [
                "start Obj [N=x&amp;y RefId=0]",
                "start S []",
                "text \"a<bAB\\n\"",
                "end",
                "empty Nil []",
                "cdata \"<raw>\"",
                "end"
            ]
        );
        let mut scanner = Scanner::new(b"<Obj N=\"a &gt; b\" RefId=\"7\">");
        let Event::Start(tag) = scanner.next().unwrap() else { panic!() };
        assert_eq!(tag.attribute("N").unwrap().as_deref(), Some("a > b"));
        assert_eq!(tag.attribute("RefId").unwrap().as_deref(), Some("7"));
        assert_eq!(tag.attribute("X").unwrap(), None);
        let mut scanner = Scanner::new(b"<O a=\"1\" b=\"2\" c=\"3\" d:N=\"4\"/>");
        let Event::Empty(tag) = scanner.next().unwrap() else { panic!() };
        assert_eq!(tag.attribute("N").unwrap().as_deref(), Some("4"), "prefixed, fourth attribute");
        assert_eq!(tag.attribute("c").unwrap().as_deref(), Some("3"), "third attribute, kept raw");
    }

    #[test]
    fn classifies_text_once() {
        let long = format!("{}&amp;{}", "a".repeat(80), "b".repeat(80));
        for (text, xml, underscore) in
            [("plain", false, false), ("a&amp;b", true, false), ("_x000D_", false, true), (&long[..], true, false)]
        {
            let document = format!("<S>{text}</S>");
            let mut scanner = Scanner::new(document.as_bytes());
            scanner.next().unwrap();
            let Event::Text(t) = scanner.next().unwrap() else { panic!() };
            assert_eq!(t.raw, text);
            assert_eq!(t.classes & class::XML != 0, xml, "{text}");
            assert_eq!(t.classes & class::UNDERSCORE != 0, underscore, "{text}");
        }
    }

    #[test]
    fn refuses_what_clixml_must_not_contain() {
        assert_eq!(events("<!DOCTYPE x []><S/>"), Err(ClixmlError::Doctype));
        assert_eq!(events("<S>&x;</S>"), Err(ClixmlError::Entity("x".into())));
        assert!(matches!(events("<S>a</I>"), Err(ClixmlError::Xml { .. })));
        assert!(matches!(events("<S>a</SS>"), Err(ClixmlError::Xml { .. })));
        assert_eq!(events("<S>a"), Err(ClixmlError::Truncated));
        assert_eq!(events("<S a=\"1"), Err(ClixmlError::Truncated));
        assert!(matches!(events("<S a=1>"), Err(ClixmlError::Xml { .. })));
        assert!(matches!(events("<S a=\"<\">"), Err(ClixmlError::Xml { .. })));
        let long_value = format!("<S a=\"{}<\">", "x".repeat(100));
        assert!(matches!(events(&long_value), Err(ClixmlError::Xml { .. })));
        assert!(matches!(events("<S a=\"1\"b=\"2\">"), Err(ClixmlError::Xml { .. })));
        assert!(matches!(events("<S>&#0;</S>"), Err(ClixmlError::Xml { .. })));
        assert!(matches!(Scanner::new(b"<S>\xff</S>").next(), Err(ClixmlError::Xml { .. })));
    }
}
