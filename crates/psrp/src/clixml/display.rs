//! `Display` as PowerShell's `ToString()` renders values (en-US culture for dates).

use std::fmt;

use crate::clixml::primitive::{format_double, format_single};
use crate::clixml::value::{Container, PsObject, PsValue};

impl fmt::Display for PsValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PsValue::Null => Ok(()),
            PsValue::String(s) | PsValue::Uri(s) | PsValue::XmlDocument(s) | PsValue::ScriptBlock(s) => f.write_str(s),
            PsValue::Char(c) => {
                f.write_str(&char::decode_utf16([*c]).map(|c| c.unwrap_or('\u{FFFD}')).collect::<String>())
            }
            PsValue::Bool(true) => f.write_str("True"),
            PsValue::Bool(false) => f.write_str("False"),
            PsValue::DateTime(dt) => dt.fmt(f),
            PsValue::Duration(d) => d.fmt(f),
            PsValue::U8(v) => v.fmt(f),
            PsValue::I8(v) => v.fmt(f),
            PsValue::U16(v) => v.fmt(f),
            PsValue::I16(v) => v.fmt(f),
            PsValue::U32(v) => v.fmt(f),
            PsValue::I32(v) => v.fmt(f),
            PsValue::U64(v) => v.fmt(f),
            PsValue::I64(v) => v.fmt(f),
            PsValue::Single(v) => f.write_str(&display_float(format_single(*v))),
            PsValue::Double(v) => f.write_str(&display_float(format_double(*v))),
            PsValue::Decimal(v) => v.fmt(f),
            PsValue::Bytes(_) => f.write_str("System.Byte[]"),
            PsValue::Guid(g) => g.hyphenated().fmt(f),
            PsValue::Version(v) => v.fmt(f),
            PsValue::SecureString(_) => f.write_str("System.Security.SecureString"),
            PsValue::Object(o) => o.fmt(f),
            PsValue::ProgressRecord(pr) => {
                write!(
                    f,
                    "parent = {} id = {} act = {} stat = {} cur = {} pct = {} sec = {} type = {}",
                    pr.parent_activity_id,
                    pr.activity_id,
                    pr.activity,
                    pr.status_description,
                    pr.current_operation.as_deref().unwrap_or(""),
                    pr.percent_complete,
                    pr.seconds_remaining,
                    pr.record_type
                )
            }
        }
    }
}

/// .NET's `ToString()` spells the infinities out where the wire form abbreviates them.
fn display_float(wire: String) -> String {
    match wire.as_str() {
        "INF" => "Infinity".into(),
        "-INF" => "-Infinity".into(),
        _ => wire,
    }
}

impl fmt::Display for PsObject {
    /// The sender's `ToString` when it sent one; otherwise the wrapped value, `@{Name=value; …}` for a custom
    /// object, list items separated by spaces (PowerShell's `$OFS`), or the type name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = &self.to_string {
            return f.write_str(text);
        }
        if let Some(base) = &self.base {
            return base.fmt(f);
        }
        match &self.container {
            Some(Container::Dictionary(_)) => {
                return f.write_str(self.type_names().first().map_or("System.Collections.Hashtable", String::as_str));
            }
            Some(container) => {
                let items = container.items().unwrap_or(&[]);
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    item.fmt(f)?;
                }
                return Ok(());
            }
            None => {}
        }
        if self.extended.is_empty() && self.adapted.is_empty() {
            return f.write_str(self.type_names().first().map_or("", String::as_str));
        }
        f.write_str("@{")?;
        for (i, property) in self.properties().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}={}", property.name, property.value)?;
        }
        f.write_str("}")
    }
}
