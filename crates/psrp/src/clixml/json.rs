//! Conversion to JSON for scripts: what `--output json` prints.
//!
//! Two forms with the same rules: [`PsValue::to_json`] builds a `serde_json::Value` (its objects are
//! `serde_json::Map`s, which order keys by name), and [`PsValue::write_json`] streams the text into a buffer with
//! the properties in their wire order and no intermediate tree, for one JSON line per received object.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

use crate::clixml::value::{Container, PsObject, PsValue};

/// How deep objects are expanded before the rest is rendered as their `ToString`, as `ConvertTo-Json -Depth`
/// does.
pub const JSON_DEPTH: usize = 32;
/// How many JSON nodes one conversion may produce: shared `<Ref>` objects are expanded at every use, so this
/// bounds the output even for a document built to explode.
pub const JSON_NODE_BUDGET: usize = 1_000_000;

/// The text a SecureString is shown as: its type, never its bytes (encrypted or not).
const SECURE_STRING_TEXT: &str = "System.Security.SecureString";

impl PsValue {
    /// Converts to JSON (leaving out the `PSStandardMembers` member set): numbers (decimals included) and booleans as JSON scalars, text-like values (dates as
    /// ISO 8601, durations as ISO 8601 durations, GUIDs, versions) as text, byte arrays as base64, dictionaries
    /// as objects, lists as arrays, enums as their number (as `ConvertTo-Json` does) and other objects as a map
    /// of their properties. A SecureString is never rendered, only its type.
    pub fn to_json(&self) -> Value {
        let mut budget = JSON_NODE_BUDGET;
        convert(self, 0, &mut budget)
    }

    /// Appends the JSON text of [`PsValue::to_json`] to `out`, compact, with object properties in their wire
    /// order (extended, then adapted) and without building a tree first.
    ///
    /// ```
    /// use pssession_psrp::clixml::{PsObject, PsValue};
    ///
    /// let object: PsValue = PsObject::custom([("Zeta", PsValue::I32(1)), ("Alpha", PsValue::from("a"))]).into();
    /// let mut line = String::new();
    /// object.write_json(&mut line);
    /// assert_eq!(line, r#"{"Zeta":1,"Alpha":"a"}"#);
    /// ```
    pub fn write_json(&self, out: &mut String) {
        let mut budget = JSON_NODE_BUDGET;
        write_value(self, 0, &mut budget, out);
    }
}

/// What a value is in JSON, shared by both forms so they cannot disagree.
enum Shape<'a> {
    Null,
    Bool(bool),
    /// A JSON number already in JSON syntax.
    Number(String),
    /// A float that JSON cannot hold (NaN, infinities) or a value shown as text.
    Text(String),
    Str(&'a str),
    Object(&'a PsObject),
}

fn shape(value: &PsValue) -> Shape<'_> {
    match value {
        PsValue::Null => Shape::Null,
        PsValue::Bool(b) => Shape::Bool(*b),
        PsValue::U8(v) => Shape::Number(v.to_string()),
        PsValue::I8(v) => Shape::Number(v.to_string()),
        PsValue::U16(v) => Shape::Number(v.to_string()),
        PsValue::I16(v) => Shape::Number(v.to_string()),
        PsValue::U32(v) => Shape::Number(v.to_string()),
        PsValue::I32(v) => Shape::Number(v.to_string()),
        PsValue::U64(v) => Shape::Number(v.to_string()),
        PsValue::I64(v) => Shape::Number(v.to_string()),
        // A Single is widened through its shortest text, so 0.1f32 is 0.1 and not 0.10000000149011612.
        PsValue::Single(v) => float_shape(format!("{v}").parse::<f64>().unwrap_or(f64::from(*v)), value),
        PsValue::Double(v) => float_shape(*v, value),
        PsValue::Decimal(d) => {
            // The exact digits are valid JSON number syntax; the tree form holds the nearest double.
            let text = d.to_string();
            match text.parse::<f64>().ok().and_then(Number::from_f64) {
                Some(_) => Shape::Number(text),
                None => Shape::Text(text),
            }
        }
        PsValue::DateTime(dt) => Shape::Text(dt.to_wire()),
        PsValue::Duration(d) => Shape::Text(d.to_wire()),
        PsValue::Bytes(b) => {
            use base64::Engine as _;
            Shape::Text(base64::engine::general_purpose::STANDARD.encode(b))
        }
        PsValue::SecureString(_) => Shape::Str(SECURE_STRING_TEXT),
        PsValue::String(s) | PsValue::Uri(s) | PsValue::XmlDocument(s) | PsValue::ScriptBlock(s) => Shape::Str(s),
        PsValue::Char(_) | PsValue::Guid(_) | PsValue::Version(_) | PsValue::ProgressRecord(_) => {
            Shape::Text(value.to_string())
        }
        PsValue::Object(object) => Shape::Object(object),
    }
}

fn float_shape(v: f64, value: &PsValue) -> Shape<'static> {
    match Number::from_f64(v) {
        Some(number) => Shape::Number(number.to_string()),
        None => Shape::Text(value.to_string()),
    }
}

/// How an object is shown in JSON.
enum ObjectShape<'a> {
    Enum(i64),
    Dictionary(&'a [(PsValue, PsValue)]),
    List(&'a [PsValue]),
    /// An object that only wraps a primitive (a string with type names, …): the primitive.
    Base(&'a PsValue),
    Properties,
    /// No content: its `ToString`.
    Text,
}

fn object_shape(object: &PsObject) -> ObjectShape<'_> {
    if let Some((number, _)) = object.as_enum() {
        return ObjectShape::Enum(number);
    }
    match &object.container {
        Some(Container::Dictionary(entries)) => return ObjectShape::Dictionary(entries),
        Some(container) => return ObjectShape::List(container.items().unwrap_or(&[])),
        None => {}
    }
    if object.extended.is_empty() && object.adapted.is_empty() {
        return match &object.base {
            Some(base) => ObjectShape::Base(base),
            None => ObjectShape::Text,
        };
    }
    ObjectShape::Properties
}

fn progress_json(value: &PsValue) -> Option<Value> {
    let PsValue::ProgressRecord(pr) = value else { return None };
    Some(serde_json::json!({
        "Activity": pr.activity,
        "ActivityId": pr.activity_id,
        "CurrentOperation": pr.current_operation,
        "ParentActivityId": pr.parent_activity_id,
        "PercentComplete": pr.percent_complete,
        "RecordType": pr.record_type,
        "SecondsRemaining": pr.seconds_remaining,
        "StatusDescription": pr.status_description,
    }))
}

fn convert(value: &PsValue, depth: usize, budget: &mut usize) -> Value {
    if *budget == 0 {
        return Value::String(value.to_string());
    }
    *budget -= 1;
    if let Some(progress) = progress_json(value) {
        return progress;
    }
    match shape(value) {
        Shape::Null => Value::Null,
        Shape::Bool(b) => Value::Bool(b),
        Shape::Number(text) => match serde_json::from_str::<Number>(&text) {
            Ok(number) => Value::Number(number),
            Err(_) => text.parse::<f64>().ok().and_then(Number::from_f64).map_or(Value::String(text), Value::Number),
        },
        Shape::Text(text) => Value::String(text),
        Shape::Str(text) => Value::String(text.to_owned()),
        Shape::Object(object) => convert_object(object, depth, budget),
    }
}

fn convert_object(object: &PsObject, depth: usize, budget: &mut usize) -> Value {
    if depth >= JSON_DEPTH {
        return Value::String(object.to_string());
    }
    match object_shape(object) {
        ObjectShape::Enum(number) => Value::from(number),
        ObjectShape::Dictionary(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                map.insert(key.to_string(), convert(value, depth + 1, budget));
            }
            Value::Object(map)
        }
        ObjectShape::List(items) => Value::Array(items.iter().map(|item| convert(item, depth + 1, budget)).collect()),
        ObjectShape::Base(base) => convert(base, depth, budget),
        ObjectShape::Text => Value::String(object.to_string()),
        ObjectShape::Properties => {
            let mut map = Map::new();
            for property in object.properties().filter(|p| !is_member_set(p)) {
                map.insert(property.name.to_string(), convert(&property.value, depth + 1, budget));
            }
            Value::Object(map)
        }
    }
}

fn write_value(value: &PsValue, depth: usize, budget: &mut usize, out: &mut String) {
    if *budget == 0 {
        write_string(&value.to_string(), out);
        return;
    }
    *budget -= 1;
    if let Some(progress) = progress_json(value) {
        out.push_str(&progress.to_string());
        return;
    }
    match shape(value) {
        Shape::Null => out.push_str("null"),
        Shape::Bool(true) => out.push_str("true"),
        Shape::Bool(false) => out.push_str("false"),
        Shape::Number(text) => out.push_str(&text),
        Shape::Text(text) => write_string(&text, out),
        Shape::Str(text) => write_string(text, out),
        Shape::Object(object) => write_object(object, depth, budget, out),
    }
}

fn write_object(object: &PsObject, depth: usize, budget: &mut usize, out: &mut String) {
    if depth >= JSON_DEPTH {
        write_string(&object.to_string(), out);
        return;
    }
    match object_shape(object) {
        ObjectShape::Enum(number) => {
            let _ = write!(out, "{number}");
        }
        ObjectShape::Dictionary(entries) => {
            // A JSON object keeps one value per key; a later duplicate wins, as in the tree form.
            out.push('{');
            let names: Vec<String> = entries.iter().map(|(key, _)| key.to_string()).collect();
            let shadowed = shadowed(&names);
            let mut first = true;
            for (i, (name, (_, value))) in names.iter().zip(entries).enumerate() {
                if shadowed[i] {
                    continue;
                }
                if !std::mem::take(&mut first) {
                    out.push(',');
                }
                write_string(name, out);
                out.push(':');
                write_value(value, depth + 1, budget, out);
            }
            out.push('}');
        }
        ObjectShape::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, depth + 1, budget, out);
            }
            out.push(']');
        }
        ObjectShape::Base(base) => write_value(base, depth, budget, out),
        ObjectShape::Text => write_string(&object.to_string(), out),
        ObjectShape::Properties => {
            out.push('{');
            let properties: Vec<_> = object.properties().filter(|p| !is_member_set(p)).collect();
            let shadowed = shadowed(&properties.iter().map(|p| &*p.name).collect::<Vec<_>>());
            let mut first = true;
            for (i, property) in properties.iter().enumerate() {
                if shadowed[i] {
                    continue;
                }
                if !std::mem::take(&mut first) {
                    out.push(',');
                }
                write_string(&property.name, out);
                out.push(':');
                write_value(&property.value, depth + 1, budget, out);
            }
            out.push('}');
        }
    }
}

/// `PSStandardMembers` is a member set (display metadata), not a property: `ConvertTo-Json` leaves it out too.
fn is_member_set(property: &crate::clixml::PsProperty) -> bool {
    &*property.name == "PSStandardMembers"
}

/// For each name, whether a later one is equal (a JSON object keeps the last); linear in the number of names.
fn shadowed<S: AsRef<str>>(names: &[S]) -> Vec<bool> {
    let mut flags = vec![false; names.len()];
    if names.len() <= 8 {
        for (i, name) in names.iter().enumerate() {
            flags[i] = names[i + 1..].iter().any(|later| later.as_ref() == name.as_ref());
        }
        return flags;
    }
    let mut seen = rustc_hash::FxHashSet::default();
    for (i, name) in names.iter().enumerate().rev() {
        flags[i] = !seen.insert(name.as_ref());
    }
    flags
}

/// A JSON string literal (RFC 8259 escapes).
fn write_string(text: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clixml::{PsDecimal, PsObject};

    fn line(value: &PsValue) -> String {
        let mut out = String::new();
        value.write_json(&mut out);
        out
    }

    #[test]
    fn both_forms_agree_and_keep_numbers_as_numbers() {
        let nested = PsObject::custom([("Inner", PsValue::Double(0.5))]);
        let value: PsValue = PsObject::custom([
            ("Count", PsValue::I64(-3)),
            ("Ratio", PsValue::Single(0.1)),
            ("Price", PsValue::Decimal(PsDecimal::parse("12.50").expect("decimal"))),
            ("Secret", PsValue::SecureString(vec![1, 2, 3])),
            ("Text", PsValue::from("a\"b\n\u{1}")),
            ("Nested", nested.into()),
            ("Nan", PsValue::Double(f64::NAN)),
        ])
        .into();
        let text = line(&value);
        assert_eq!(
            text,
            r#"{"Count":-3,"Ratio":0.1,"Price":12.50,"Secret":"System.Security.SecureString","Text":"a\"b\n\u0001","Nested":{"Inner":0.5},"Nan":"NaN"}"#
        );
        let parsed: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(parsed, value.to_json());
    }

    #[test]
    fn the_standard_members_set_is_not_a_property() {
        let members = PsObject::custom([("DefaultDisplayPropertySet", PsValue::from("x"))]);
        let value: PsValue = PsObject::custom([("Id", PsValue::I32(1)), ("PSStandardMembers", members.into())]).into();
        assert_eq!(line(&value), r#"{"Id":1}"#);
        assert_eq!(value.to_json(), serde_json::json!({"Id": 1}));
    }

    #[test]
    fn a_later_duplicate_property_wins_in_both_forms() {
        let value: PsValue = PsObject::custom([("A", PsValue::I32(1)), ("A", PsValue::I32(2))]).into();
        assert_eq!(line(&value), r#"{"A":2}"#);
        assert_eq!(value.to_json(), serde_json::json!({"A": 2}));
    }
}
