//! Conversion to JSON (`serde_json::Value`) for scripts: what `--output json` prints.

use serde_json::{Map, Number, Value};

use crate::clixml::value::{Container, PsObject, PsValue};

/// How deep objects are expanded before the rest is rendered as their `ToString`, as `ConvertTo-Json -Depth`
/// does.
pub const JSON_DEPTH: usize = 32;
/// How many JSON nodes one conversion may produce: shared `<Ref>` objects are expanded at every use, so this
/// bounds the output even for a document built to explode.
pub const JSON_NODE_BUDGET: usize = 1_000_000;

impl PsValue {
    /// Converts to JSON: numbers and booleans as JSON scalars, text-like values (dates, durations, decimals,
    /// GUIDs, versions) as their wire text, byte arrays as base64, dictionaries as objects, lists as arrays,
    /// enums as their number (as `ConvertTo-Json` does) and other objects as a map of their properties. A
    /// SecureString is never rendered, only its type.
    pub fn to_json(&self) -> Value {
        let mut budget = JSON_NODE_BUDGET;
        convert(self, 0, &mut budget)
    }
}

fn convert(value: &PsValue, depth: usize, budget: &mut usize) -> Value {
    if *budget == 0 {
        return Value::String(value.to_string());
    }
    *budget -= 1;
    match value {
        PsValue::Null => Value::Null,
        PsValue::Bool(b) => Value::Bool(*b),
        PsValue::U8(v) => Value::from(*v),
        PsValue::I8(v) => Value::from(*v),
        PsValue::U16(v) => Value::from(*v),
        PsValue::I16(v) => Value::from(*v),
        PsValue::U32(v) => Value::from(*v),
        PsValue::I32(v) => Value::from(*v),
        PsValue::U64(v) => Value::from(*v),
        PsValue::I64(v) => Value::from(*v),
        PsValue::Char(_) => Value::String(value.to_string()),
        PsValue::Single(v) => {
            Number::from_f64(f64::from(*v)).map_or_else(|| Value::String(value.to_string()), Value::Number)
        }
        PsValue::Double(v) => Number::from_f64(*v).map_or_else(|| Value::String(value.to_string()), Value::Number),
        PsValue::DateTime(dt) => Value::String(dt.to_wire()),
        PsValue::Duration(d) => Value::String(d.to_wire()),
        PsValue::Bytes(b) => {
            use base64::Engine as _;
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        PsValue::SecureString(_) => Value::String("System.Security.SecureString".into()),
        PsValue::String(_)
        | PsValue::Uri(_)
        | PsValue::XmlDocument(_)
        | PsValue::ScriptBlock(_)
        | PsValue::Decimal(_)
        | PsValue::Guid(_)
        | PsValue::Version(_) => Value::String(value.to_string()),
        PsValue::Object(object) => convert_object(object, depth, budget),
        PsValue::ProgressRecord(pr) => serde_json::json!({
            "Activity": pr.activity,
            "ActivityId": pr.activity_id,
            "CurrentOperation": pr.current_operation,
            "ParentActivityId": pr.parent_activity_id,
            "PercentComplete": pr.percent_complete,
            "RecordType": pr.record_type,
            "SecondsRemaining": pr.seconds_remaining,
            "StatusDescription": pr.status_description,
        }),
    }
}

fn convert_object(object: &PsObject, depth: usize, budget: &mut usize) -> Value {
    if depth >= JSON_DEPTH {
        return Value::String(object.to_string());
    }
    if let Some((number, _)) = object.as_enum() {
        return Value::from(number);
    }
    match &object.container {
        Some(Container::Dictionary(entries)) => {
            let mut map = Map::new();
            for (key, value) in entries {
                map.insert(key.to_string(), convert(value, depth + 1, budget));
            }
            return Value::Object(map);
        }
        Some(container) => {
            let items = container.items().unwrap_or(&[]);
            return Value::Array(items.iter().map(|item| convert(item, depth + 1, budget)).collect());
        }
        None => {}
    }
    if object.extended.is_empty() && object.adapted.is_empty() {
        return match &object.base {
            Some(base) => convert(base, depth, budget),
            None => Value::String(object.to_string()),
        };
    }
    let mut map = Map::new();
    for property in object.properties() {
        map.insert(property.name.to_string(), convert(&property.value, depth + 1, budget));
    }
    Value::Object(map)
}
