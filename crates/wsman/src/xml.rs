//! A small namespace-resolved element tree over quick-xml (reader) and an escaping writer into a `Vec<u8>`.
//!
//! Elements are identified by namespace URI and local name, never by prefix. No DTD, no entities other than the
//! five predefined ones and character references; size, depth and element-count limits are enforced.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{PrefixDeclaration, ResolveResult};
use quick_xml::{NsReader, XmlVersion};

use crate::error::EnvelopeError;

/// Limits on an envelope being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest envelope accepted, in bytes. Default 16 MiB (Windows' own maximum is 512000 bytes; a server
    /// should set this to its MaxEnvelopeSize).
    pub max_envelope: usize,
    /// The deepest element nesting accepted. Default 64.
    pub max_depth: usize,
    /// The most elements accepted in one envelope. Default 100 000.
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_envelope: 16 << 20, max_depth: 64, max_elements: 100_000 }
    }
}

/// The pseudo-namespace under which `xmlns:prefix` bindings are kept in [`Element::attrs`].
pub(crate) const XMLNS: &str = "xmlns";

/// One attribute, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Attr {
    /// Namespace URI; empty for unqualified attributes.
    pub ns: String,
    pub local: String,
    pub value: String,
}

/// One element, resolved.
#[derive(Debug, Clone, Default)]
pub(crate) struct Element {
    /// Namespace URI; empty when unbound.
    pub ns: String,
    pub local: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Element>,
    /// The concatenated direct text content (CDATA included).
    pub text: String,
}

impl Element {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    /// A child matched by namespace and a case-insensitive local name (`IdleTimeOut`/`IdleTimeout`).
    pub fn child_ci(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.ns == ns && c.local.eq_ignore_ascii_case(local))
    }

    pub fn children_named<'a>(&'a self, ns: &'a str, local: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    pub fn child_text(&self, ns: &str, local: &str) -> Option<&str> {
        self.child(ns, local).map(|c| c.text.as_str())
    }

    /// An unqualified attribute by local name.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs.iter().find(|a| a.local == local && a.ns.is_empty()).map(|a| a.value.as_str())
    }

    /// An attribute in namespace `ns`.
    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs.iter().find(|a| a.local == local && a.ns == ns).map(|a| a.value.as_str())
    }
}

fn resolved_ns(r: ResolveResult<'_>) -> Result<String, EnvelopeError> {
    match r {
        ResolveResult::Bound(ns) => Ok(ns.0.to_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(p) => Err(EnvelopeError::Xml(format!("undeclared namespace prefix {p:?}"))),
    }
}

fn start_element(reader: &NsReader<&[u8]>, ns: String, e: &BytesStart<'_>) -> Result<Element, EnvelopeError> {
    let local = e.local_name().as_ref().to_owned();
    let mut attrs = Vec::new();
    for attr in e.attributes() {
        let attr = attr.map_err(|err| EnvelopeError::Xml(err.to_string()))?;
        let key = attr.key;
        if let Some(binding) = key.as_namespace_binding() {
            // Prefix bindings are kept (namespace `xmlns`) for QName-valued attributes such as NotUnderstood/@qname.
            if let PrefixDeclaration::Named(prefix) = binding {
                let value = attr.normalized_value(XmlVersion::Implicit1_0).map_err(|_| EnvelopeError::Text)?;
                attrs.push(Attr { ns: XMLNS.to_owned(), local: prefix.to_owned(), value: value.into_owned() });
            }
            continue;
        }
        let (res, local_name) = reader.resolver().resolve_attribute(key);
        let ans = match res {
            ResolveResult::Bound(n) => n.0.to_owned(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(p) => {
                return Err(EnvelopeError::Xml(format!("undeclared namespace prefix {p:?}")));
            }
        };
        let alocal = local_name.as_ref().to_owned();
        let value = attr.normalized_value(XmlVersion::Implicit1_0).map_err(|_| EnvelopeError::Text)?.into_owned();
        attrs.push(Attr { ns: ans, local: alocal, value });
    }
    Ok(Element { ns, local, attrs, children: Vec::new(), text: String::new() })
}

fn predefined(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

/// Parses `xml` into its root element.
pub(crate) fn parse(xml: &[u8], limits: &Limits) -> Result<Element, EnvelopeError> {
    parse_skipping(xml, limits, None)
}

/// Parses `xml`, not collecting the text of elements named `skip` (`(namespace, local)`): the ReceiveResponse
/// streams, which the response parser hands to [`crate::receive`] instead of copying them into the tree.
pub(crate) fn parse_skipping(
    xml: &[u8],
    limits: &Limits,
    skip: Option<(&str, &str)>,
) -> Result<Element, EnvelopeError> {
    if xml.len() > limits.max_envelope {
        return Err(EnvelopeError::TooLarge { size: xml.len(), limit: limits.max_envelope });
    }
    let mut reader = NsReader::from_reader(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (res, event) = reader.read_resolved_event().map_err(|e| EnvelopeError::Xml(e.to_string()))?;
        let ns = match &event {
            Event::Start(_) | Event::Empty(_) => Some(resolved_ns(res)?),
            _ => None,
        };
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(EnvelopeError::Xml("content after the root element".into()));
            }
            Event::Start(ref e) => {
                count += 1;
                if count > limits.max_elements {
                    return Err(EnvelopeError::TooManyElements);
                }
                if stack.len() >= limits.max_depth {
                    return Err(EnvelopeError::TooDeep);
                }
                let el = start_element(&reader, ns.unwrap_or_default(), e)?;
                stack.push(el);
            }
            Event::Empty(ref e) => {
                count += 1;
                if count > limits.max_elements {
                    return Err(EnvelopeError::TooManyElements);
                }
                if stack.len() >= limits.max_depth {
                    return Err(EnvelopeError::TooDeep);
                }
                let el = start_element(&reader, ns.unwrap_or_default(), e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or(EnvelopeError::Xml("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(cur) = stack.last_mut() {
                    if skip.is_some_and(|(ns, local)| cur.is(ns, local)) {
                        continue;
                    }
                    cur.text.push_str(&t.xml10_content());
                } else if !t.chars().all(|c| c.is_ascii_whitespace()) {
                    return Err(EnvelopeError::Xml("text outside the root element".into()));
                }
            }
            Event::CData(c) => {
                if let Some(cur) = stack.last_mut() {
                    cur.text.push_str(&c);
                }
            }
            Event::GeneralRef(r) => {
                let ch = if r.is_char_ref() {
                    r.resolve_char_ref().map_err(|_| EnvelopeError::Text)?.ok_or(EnvelopeError::Text)?
                } else {
                    let name: &str = &r;
                    predefined(name).ok_or_else(|| EnvelopeError::Entity(name.to_owned()))?
                };
                if let Some(cur) = stack.last_mut() {
                    cur.text.push(ch);
                }
            }
            Event::DocType(_) => return Err(EnvelopeError::Doctype),
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(EnvelopeError::Truncated);
    }
    root.ok_or(EnvelopeError::Truncated)
}

/// Appends `text` XML-escaped for element content and attribute values.
pub(crate) fn escape_into(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep: &[u8] = match b {
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'&' => b"&amp;",
            b'"' => b"&quot;",
            b'\'' => b"&apos;",
            b'\r' => b"&#xD;",
            _ => continue,
        };
        out.extend_from_slice(&bytes[last..i]);
        out.extend_from_slice(rep);
        last = i + 1;
    }
    out.extend_from_slice(&bytes[last..]);
}

/// A minimal XML writer appending to a `Vec<u8>`.
pub(crate) struct Writer<'a> {
    pub out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    pub fn raw(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push(b'<');
        self.raw(name);
        for (k, v) in attrs {
            self.out.push(b' ');
            self.raw(k);
            self.raw("=\"");
            escape_into(self.out, v);
            self.out.push(b'"');
        }
    }

    pub fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.tag(name, attrs);
        self.out.push(b'>');
    }

    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.tag(name, attrs);
        self.raw(" />");
    }

    pub fn close(&mut self, name: &str) {
        self.raw("</");
        self.raw(name);
        self.out.push(b'>');
    }

    pub fn text(&mut self, text: &str) {
        escape_into(self.out, text);
    }

    pub fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.open(name, attrs);
        self.text(text);
        self.close(name);
    }

    pub fn opt_leaf(&mut self, name: &str, text: Option<&str>) {
        if let Some(t) = text {
            self.leaf(name, &[], t);
        }
    }

    pub fn base64_leaf(&mut self, name: &str, attrs: &[(&str, &str)], data: &[u8]) {
        self.open(name, attrs);
        base64_simd::STANDARD.encode_append(data, self.out);
        self.close(name);
    }
}

/// Decodes base64 text, tolerating embedded whitespace.
pub(crate) fn decode_base64(text: &str, field: &'static str) -> Result<Vec<u8>, EnvelopeError> {
    let t = text.trim();
    if let Ok(v) = base64_simd::STANDARD.decode_to_vec(t) {
        return Ok(v);
    }
    let compact: Vec<u8> = t.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    base64_simd::STANDARD.decode_to_vec(&compact).map_err(|_| EnvelopeError::Base64(field))
}
