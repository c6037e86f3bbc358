//! A small XML pull scanner specialised for CLIXML, the deserializer's hot path.
//!
//! CLIXML uses a narrow slice of XML: elements, attributes, text with the five predefined entities and character
//! references, and (rarely) comments, processing instructions and CDATA. This scanner handles exactly that, checks
//! well-formedness (matching end tags, quoted attributes, no stray `<`), refuses any DOCTYPE and undefined entity,
//! and hands out slices of the input: nothing is copied until a value needs decoding. A general XML reader spent
//! most of the deserializer's time on machinery CLIXML never uses; see the crate README's benchmark table.

use std::borrow::Cow;

use crate::clixml::de::ClixmlError;

/// How many bytes a plain loop checks before handing a search to `memchr`: CLIXML's names, values and texts are
/// mostly shorter than this, and for them the vectorized search's setup costs more than it saves.
const SHORT: usize = 24;

/// The first `needle` in `hay`.
pub(crate) fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    let head = hay.len().min(SHORT);
    if let Some(i) = hay[..head].iter().position(|&b| b == needle) {
        return Some(i);
    }
    if hay.len() <= SHORT {
        return None;
    }
    memchr::memchr(needle, &hay[SHORT..]).map(|i| i + SHORT)
}

/// Whether `hay` holds `a` or `b`.
fn contains_either(a: u8, b: u8, hay: &[u8]) -> bool {
    let head = hay.len().min(SHORT);
    hay[..head].iter().any(|&c| c == a || c == b)
        || (hay.len() > SHORT && memchr::memchr2(a, b, &hay[SHORT..]).is_some())
}

/// A start tag: its local name and the raw text of its attributes (checked while scanning, looked up on demand).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tag<'x> {
    local: &'x str,
    attrs: &'x str,
    /// Byte offset of the `<`.
    pub position: u64,
}

fn local_part(name: &str) -> &str {
    match find_byte(b':', name.as_bytes()) {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

impl<'x> Tag<'x> {
    /// The name without a namespace prefix.
    pub fn local_name(&self) -> &'x str {
        self.local
    }

    /// The value of attribute `name` (compared without prefix), entity-decoded.
    pub fn attribute(&self, name: &str) -> Result<Option<Cow<'x, str>>, ClixmlError> {
        let mut rest = self.attrs;
        loop {
            rest = rest.trim_start_matches(is_space);
            if rest.is_empty() {
                return Ok(None);
            }
            let (key, value, after) = split_attribute(rest).ok_or_else(|| xml(self.position, "malformed attribute"))?;
            if local_part(key) == name {
                return decode(value, self.position).map(Some);
            }
            rest = after;
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
    /// Character data, still escaped (see [`decode`]).
    Text(&'x str),
    /// `<![CDATA[…]]>` content, literal.
    CData(&'x str),
    /// End of input with every element closed.
    Eof,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn xml(position: u64, message: &str) -> ClixmlError {
    ClixmlError::Xml { position, message: message.to_owned() }
}

/// Splits `key="value" rest` (either quote) into its parts, in one pass over the bytes.
fn split_attribute(text: &str) -> Option<(&str, &str, &str)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() && !matches!(bytes[i], b'=' | b' ' | b'\t' | b'\r' | b'\n') {
        if matches!(bytes[i], b'<' | b'>' | b'"' | b'\'' | b'/') {
            return None;
        }
        i += 1;
    }
    let key = &text[..i];
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    if key.is_empty() || bytes.get(i) != Some(&b'=') {
        return None;
    }
    i += 1;
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    let quote = *bytes.get(i).filter(|q| matches!(q, b'"' | b'\''))?;
    let close = i + 1 + find_byte(quote, &bytes[i + 1..])?;
    let value = &text[i + 1..close];
    if find_byte(b'<', value.as_bytes()).is_some() {
        return None;
    }
    Some((key, value, &text[close + 1..]))
}

/// Resolves entity and character references and normalizes line ends (XML 1.0 §2.11) in text or an attribute
/// value. Only the five predefined entities exist; any other name is an error, so no expansion can happen.
pub(crate) fn decode(raw: &str, position: u64) -> Result<Cow<'_, str>, ClixmlError> {
    if !contains_either(b'&', b'\r', raw.as_bytes()) {
        return Ok(Cow::Borrowed(raw));
    }
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let (mut i, mut plain) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\r' => {
                out.push_str(&raw[plain..i]);
                out.push('\n');
                i += if bytes.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                plain = i;
            }
            b'&' => {
                out.push_str(&raw[plain..i]);
                let end = bytes[i + 1..]
                    .iter()
                    .take(33)
                    .position(|&b| b == b';')
                    .ok_or_else(|| xml(position, "unterminated reference"))?;
                let name = &raw[i + 1..i + 1 + end];
                out.push(reference(name, position)?);
                i += end + 2;
                plain = i;
            }
            _ => i += 1,
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

/// The scanner over one document.
pub(crate) struct Scanner<'x> {
    input: &'x str,
    pos: usize,
    open: Vec<&'x str>,
    /// Input that is not UTF-8 is reported by the first [`Scanner::next`].
    invalid: Option<ClixmlError>,
}

impl<'x> Scanner<'x> {
    /// A scanner over `input`, which must be UTF-8.
    pub fn new(input: &'x [u8]) -> Self {
        match std::str::from_utf8(input) {
            Ok(input) => Scanner { input, pos: 0, open: Vec::new(), invalid: None },
            Err(e) => Scanner {
                input: "",
                pos: 0,
                open: Vec::new(),
                invalid: Some(xml(e.valid_up_to() as u64, "input is not UTF-8")),
            },
        }
    }

    /// Byte offset of the next event.
    pub fn position(&self) -> u64 {
        self.pos as u64
    }

    /// The input between two offsets (for elements kept raw).
    pub fn slice(&self, from: u64, to: u64) -> Option<&'x str> {
        self.input.get(from as usize..to as usize)
    }

    /// The next event.
    pub fn next(&mut self) -> Result<Event<'x>, ClixmlError> {
        if let Some(error) = self.invalid.take() {
            self.invalid = Some(error.clone());
            return Err(error);
        }
        loop {
            let rest = &self.input[self.pos..];
            if rest.is_empty() {
                return if self.open.is_empty() { Ok(Event::Eof) } else { Err(ClixmlError::Truncated) };
            }
            let start = self.pos as u64;
            if !rest.starts_with('<') {
                let len = find_byte(b'<', rest.as_bytes()).unwrap_or(rest.len());
                self.pos += len;
                return Ok(Event::Text(&rest[..len]));
            }
            let bytes = rest.as_bytes();
            match bytes.get(1) {
                None => return Err(ClixmlError::Truncated),
                Some(b'/') => {
                    let close = find_byte(b'>', bytes).ok_or(ClixmlError::Truncated)?;
                    let name = rest[2..close].trim_end_matches(is_space);
                    match self.open.pop() {
                        Some(open) if open == name => {}
                        _ => return Err(xml(start, "mismatched end tag")),
                    }
                    self.pos += close + 1;
                    return Ok(Event::End);
                }
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

    fn start_tag(&mut self, rest: &'x str, start: u64) -> Result<Event<'x>, ClixmlError> {
        let bytes = rest.as_bytes();
        let mut name_len = 0;
        loop {
            match bytes.get(1 + name_len) {
                None => return Err(ClixmlError::Truncated),
                Some(b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>') => break,
                Some(b'<' | b'"' | b'\'' | b'=' | b'&') => return Err(xml(start, "invalid element name")),
                Some(_) => name_len += 1,
            }
        }
        let name = &rest[1..1 + name_len];
        if name.is_empty() {
            return Err(xml(start, "invalid element name"));
        }
        let attrs_start = 1 + name_len;
        let mut tag = Tag { local: local_part(name), attrs: "", position: start };
        let mut cursor = attrs_start;
        loop {
            let mut skipped = 0;
            while cursor < bytes.len() && matches!(bytes[cursor], b' ' | b'\t' | b'\r' | b'\n') {
                cursor += 1;
                skipped += 1;
            }
            match bytes.get(cursor) {
                None => return Err(ClixmlError::Truncated),
                Some(b'/') if bytes.get(cursor + 1) == Some(&b'>') => {
                    tag.attrs = &rest[attrs_start..cursor];
                    self.pos += cursor + 2;
                    return Ok(Event::Empty(tag));
                }
                Some(b'>') => {
                    tag.attrs = &rest[attrs_start..cursor];
                    self.pos += cursor + 1;
                    self.open.push(name);
                    return Ok(Event::Start(tag));
                }
                Some(_) => {}
            }
            if skipped == 0 {
                return Err(xml(start, "attributes must be separated by white space"));
            }
            let tail = &rest[cursor..];
            let (_, _, after) = split_attribute(tail).ok_or_else(|| {
                if memchr::memchr(b'>', tail.as_bytes()).is_some() {
                    xml(start, "malformed attribute")
                } else {
                    ClixmlError::Truncated
                }
            })?;
            cursor = rest.len() - after.len();
        }
    }

    /// Consumes everything up to and including the end tag of the element just started (for elements kept raw).
    pub fn skip_element(&mut self) -> Result<(), ClixmlError> {
        let depth = self.open.len();
        loop {
            match self.next()? {
                Event::End if self.open.len() < depth => return Ok(()),
                Event::Eof => return Err(ClixmlError::Truncated),
                Event::Text(raw) => {
                    decode(raw, self.position())?;
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(xml: &str) -> Result<Vec<String>, ClixmlError> {
        let mut scanner = Scanner::new(xml.as_bytes());
        let mut out = Vec::new();
        loop {
            let event = scanner.next()?;
            out.push(match event {
                Event::Start(t) => format!("start {} [{}]", t.local_name(), t.attrs.trim()),
                Event::Empty(t) => format!("empty {} [{}]", t.local_name(), t.attrs.trim()),

                Event::End => "end".into(),
                Event::Text(t) => format!("text {:?}", decode(t, 0)?),
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
                "start Obj [N='x&amp;y' RefId=\"0\"]",
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
    }

    #[test]
    fn refuses_what_clixml_must_not_contain() {
        assert_eq!(events("<!DOCTYPE x []><S/>"), Err(ClixmlError::Doctype));
        assert_eq!(events("<S>&x;</S>"), Err(ClixmlError::Entity("x".into())));
        assert!(matches!(events("<S>a</I>"), Err(ClixmlError::Xml { .. })));
        assert_eq!(events("<S>a"), Err(ClixmlError::Truncated));
        assert_eq!(events("<S a=\"1"), Err(ClixmlError::Truncated));
        assert!(matches!(events("<S a=1>"), Err(ClixmlError::Xml { .. })));
        assert!(matches!(events("<S a=\"1\"b=\"2\">"), Err(ClixmlError::Xml { .. })));
        assert!(matches!(events("<S>&#0;</S>"), Err(ClixmlError::Xml { .. })));
        assert!(matches!(Scanner::new(b"<S>\xff</S>").next(), Err(ClixmlError::Xml { .. })));
    }
}
