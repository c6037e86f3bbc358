//! The CLIXML serializer: writes values the way PowerShell's serializer does (element order, `RefId` numbering,
//! `TNRef` for repeated type-name lists, `<Ref>` for an object written twice, `_xHHHH_` escapes).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine as _;

use crate::clixml::escape::encode_into;
use crate::clixml::primitive::{format_double, format_single};
use crate::clixml::value::{Container, PsObject, PsValue};

/// The UTF-8 byte-order mark PowerShell writes before every message body.
pub const BOM: &str = "\u{FEFF}";

/// Serializes one value as a PSRP message body (no BOM; see [`to_message_body`]).
pub fn to_clixml(value: &PsValue) -> String {
    let mut serializer = Serializer::default();
    serializer.value(None, value);
    serializer.out
}

/// Serializes one value as PowerShell puts it in a PSRP message: with a leading UTF-8 BOM when `bom` is set (what
/// Windows PowerShell sends; pypsrp omits it and both are accepted).
pub fn to_message_body(value: &PsValue, bom: bool) -> Vec<u8> {
    let mut serializer = Serializer::default();
    if bom {
        serializer.out.push_str(BOM);
    }
    serializer.value(None, value);
    serializer.out.into_bytes()
}

/// Serializes values as an `<Objs>` document (Export-Clixml form).
pub fn to_objs<'a>(values: impl IntoIterator<Item = &'a PsValue>) -> String {
    let mut serializer = Serializer::default();
    serializer.out.push_str("<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">");
    for value in values {
        serializer.value(None, value);
    }
    serializer.out.push_str("</Objs>");
    serializer.out
}

/// Writes one top-level value of an `<Objs>` stream tagged with the stream it belongs to (`S="Error"`,
/// `S="progress"`), as `pwsh -OutputFormat xml` does; `stream` `None` writes an untagged value.
pub fn write_stream_value(serializer: &mut Serializer, stream: Option<&str>, value: &PsValue) {
    let start = serializer.out.len();
    serializer.value(None, value);
    if let Some(stream) = stream {
        // Insert ` S="stream"` after the tag name of the element just written.
        let tag_end = serializer.out[start..].find([' ', '>', '/']).map_or(serializer.out.len(), |i| start + i);
        serializer.out.insert_str(tag_end, &format!(" S=\"{}\"", crate::clixml::escape::encode(stream, true)));
    }
}

/// Serializer state for one document: the RefIds handed out so far.
#[derive(Debug, Default)]
pub struct Serializer {
    out: String,
    next_object: u32,
    next_type_list: u32,
    objects: HashMap<usize, u32>,
    type_lists: HashMap<Arc<[String]>, u32>,
}

impl Serializer {
    /// Writes a value, named `name` when it is a member.
    pub fn value(&mut self, name: Option<&str>, value: &PsValue) {
        let primitive = |s: &mut Self, tag: &str, text: &str| s.element(tag, name, text, false);
        match value {
            PsValue::Null => self.empty("Nil", name),
            PsValue::String(s) => self.element("S", name, s, true),
            PsValue::Char(c) => primitive(self, "C", &c.to_string()),
            PsValue::Bool(b) => primitive(self, "B", if *b { "true" } else { "false" }),
            PsValue::DateTime(dt) => primitive(self, "DT", &dt.to_wire()),
            PsValue::Duration(d) => primitive(self, "TS", &d.to_wire()),
            PsValue::U8(v) => primitive(self, "By", &v.to_string()),
            PsValue::I8(v) => primitive(self, "SB", &v.to_string()),
            PsValue::U16(v) => primitive(self, "U16", &v.to_string()),
            PsValue::I16(v) => primitive(self, "I16", &v.to_string()),
            PsValue::U32(v) => primitive(self, "U32", &v.to_string()),
            PsValue::I32(v) => primitive(self, "I32", &v.to_string()),
            PsValue::U64(v) => primitive(self, "U64", &v.to_string()),
            PsValue::I64(v) => primitive(self, "I64", &v.to_string()),
            PsValue::Single(v) => primitive(self, "Sg", &format_single(*v)),
            PsValue::Double(v) => primitive(self, "Db", &format_double(*v)),
            PsValue::Decimal(v) => primitive(self, "D", &v.to_string()),
            PsValue::Bytes(b) => primitive(self, "BA", &base64::engine::general_purpose::STANDARD.encode(b)),
            PsValue::Guid(g) => primitive(self, "G", &g.hyphenated().to_string()),
            PsValue::Uri(s) => self.element("URI", name, s, true),
            PsValue::Version(v) => primitive(self, "Version", &v.to_string()),
            PsValue::XmlDocument(s) => self.element("XD", name, s, true),
            PsValue::ScriptBlock(s) => self.element("SBK", name, s, true),
            PsValue::SecureString(b) => primitive(self, "SS", &base64::engine::general_purpose::STANDARD.encode(b)),
            PsValue::Object(object) => self.object(name, object),
            PsValue::ProgressRecord(pr) => {
                self.open_tag("PR", name);
                self.out.push('>');
                self.element("AV", None, &pr.activity, true);
                self.element("AI", None, &pr.activity_id.to_string(), false);
                match &pr.current_operation {
                    Some(text) => self.element("S", None, text, true),
                    None => self.empty("Nil", None),
                }
                self.element("PI", None, &pr.parent_activity_id.to_string(), false);
                self.element("PC", None, &pr.percent_complete.to_string(), false);
                self.element("T", None, &pr.record_type, true);
                self.element("SR", None, &pr.seconds_remaining.to_string(), false);
                self.element("SD", None, &pr.status_description, true);
                self.out.push_str("</PR>");
            }
        }
    }

    /// Appends raw text (an `<Objs>` start or end tag around [`write_stream_value`] calls).
    pub fn raw(&mut self, text: &str) {
        self.out.push_str(text);
    }

    /// The document written so far.
    pub fn finish(self) -> String {
        self.out
    }

    fn open_tag(&mut self, tag: &str, name: Option<&str>) {
        self.out.push('<');
        self.out.push_str(tag);
        if let Some(name) = name {
            self.out.push_str(" N=\"");
            encode_into(&mut self.out, name, true);
            self.out.push('"');
        }
    }

    fn empty(&mut self, tag: &str, name: Option<&str>) {
        self.open_tag(tag, name);
        self.out.push_str(" />");
    }

    /// A text element; an empty text still gets an end tag (`<S></S>`), as PowerShell's writer produces.
    fn element(&mut self, tag: &str, name: Option<&str>, text: &str, escape: bool) {
        self.open_tag(tag, name);
        self.out.push('>');
        if escape {
            encode_into(&mut self.out, text, false);
        } else {
            self.out.push_str(text);
        }
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
    }

    fn object(&mut self, name: Option<&str>, object: &Arc<PsObject>) {
        let key = Arc::as_ptr(object) as usize;
        if let Some(id) = self.objects.get(&key) {
            let id = *id;
            self.open_tag("Ref", name);
            let _ = write!(self.out, " RefId=\"{id}\" />");
            return;
        }
        let id = self.next_object;
        self.next_object += 1;
        self.objects.insert(key, id);
        self.open_tag("Obj", name);
        let _ = write!(self.out, " RefId=\"{id}\">");
        if let Some(names) = &object.type_names {
            self.type_names(names);
        }
        if let Some(text) = &object.to_string {
            self.element("ToString", None, text, true);
        }
        if let Some(base) = &object.base {
            self.value(None, base);
        }
        if let Some(container) = &object.container {
            self.container(container);
        }
        if !object.adapted.is_empty() {
            self.out.push_str("<Props>");
            for property in &object.adapted {
                self.value(Some(&property.name), &property.value);
            }
            self.out.push_str("</Props>");
        }
        if !object.extended.is_empty() {
            self.out.push_str("<MS>");
            for property in &object.extended {
                self.value(Some(&property.name), &property.value);
            }
            self.out.push_str("</MS>");
        }
        for raw in &object.unknown {
            self.out.push_str(raw);
        }
        self.out.push_str("</Obj>");
    }

    fn type_names(&mut self, names: &Arc<[String]>) {
        if let Some(id) = self.type_lists.get(names) {
            let _ = write!(self.out, "<TNRef RefId=\"{id}\" />");
            return;
        }
        let id = self.next_type_list;
        self.next_type_list += 1;
        self.type_lists.insert(names.clone(), id);
        let _ = write!(self.out, "<TN RefId=\"{id}\">");
        for name in names.iter() {
            self.element("T", None, name, true);
        }
        self.out.push_str("</TN>");
    }

    fn container(&mut self, container: &Container) {
        let tag = container.tag();
        match container {
            Container::Dictionary(entries) => {
                if entries.is_empty() {
                    return self.empty(tag, None);
                }
                self.out.push_str("<DCT>");
                for (key, value) in entries {
                    self.out.push_str("<En>");
                    self.value(Some("Key"), key);
                    self.value(Some("Value"), value);
                    self.out.push_str("</En>");
                }
                self.out.push_str("</DCT>");
            }
            Container::List(items)
            | Container::Enumerable(items)
            | Container::Stack(items)
            | Container::Queue(items) => {
                if items.is_empty() {
                    return self.empty(tag, None);
                }
                self.out.push('<');
                self.out.push_str(tag);
                self.out.push('>');
                for item in items {
                    self.value(None, item);
                }
                self.out.push_str("</");
                self.out.push_str(tag);
                self.out.push('>');
            }
        }
    }
}
